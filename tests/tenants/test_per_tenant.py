"""Per-tenant builds (models, bound resources): once per loaded tenant whatever the threads,
dropped with an old config, and one tenant's slow build holds up no other's."""

from __future__ import annotations

import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from crud.dynamic import schema_models
from tenants.registry import registry
from tenants.usermodel import forget_tenants_except, once_per_tenant, user_model


def fresh(app: str):
    """A tenant as a reload would load it: equal settings, a new identity."""
    return dataclasses.replace(registry().get(app))


def test_threads_meeting_a_tenants_first_use_build_it_once():
    calls: list[str] = []
    started = threading.Barrier(8)

    def slow_build(tenant):
        calls.append(tenant.app)
        time.sleep(0.05)  # a window in which every other thread asks too
        return object()

    built = once_per_tenant(slow_build)
    tenant = fresh("alpha")

    def first_use(_):
        started.wait(timeout=10)
        return built(tenant)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(first_use, range(8)))

    assert calls == ["alpha"]
    assert all(result is results[0] for result in results)


def test_a_slow_first_build_of_one_tenant_does_not_hold_up_another():
    slow_started, release = threading.Event(), threading.Event()

    def build(tenant):
        if tenant.app == "alpha":
            slow_started.set()
            release.wait(timeout=10)
        return tenant.app

    built = once_per_tenant(build)
    alpha, beta = fresh("alpha"), fresh("beta")
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(built, alpha)
        assert slow_started.wait(timeout=10)
        began = time.monotonic()
        assert built(beta) == "beta"
        waited = time.monotonic() - began
        release.set()
        assert slow.result(timeout=10) == "alpha"

    assert waited < 1


def test_the_models_of_a_tenant_are_one_set_and_an_old_configs_are_dropped():
    old = fresh("alpha")
    models = schema_models(old)
    assert schema_models(old) is models
    assert models["users"] is user_model(old)
    assert schema_models.built_for(old)

    forget_tenants_except(registry())  # what installing a reloaded config does

    assert not schema_models.built_for(old)
    assert not user_model.built_for(old)
    current = registry().get("alpha")
    kept = schema_models(current)
    forget_tenants_except(registry())
    assert schema_models(current) is kept  # the loaded config's tenants keep theirs
