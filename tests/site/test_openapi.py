"""The OpenAPI document describes exactly the HTTP routes a tenant serves, each app its own.

The routes are read from the tenant's URL conf (`tenant_urlconf(base_path)`), the way
Django resolves a request, and turned into OpenAPI paths (`<int:message_id>` becomes
`{message_id}`). The resource routes `<resource>` and `<resource>/<pk>` stand for the
tenant's exposed resources and the operations each allows. The other tests check that the
document is valid for both test tenants, that each documented path reaches the route it
describes with methods its view has, that the socket and the provider registry keep their
promises, that the contract module stays on floor 1, and that real answers of the admin
endpoints (`_schema`, `_mail`, `_push`, `_cron`) conform to what the document says.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, resolve
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from crud.dictionary import exposed
from crud.views import CollectionView, ItemView
from realtime.auth import CLOSE_FORBIDDEN, CLOSE_NOT_FOUND, CLOSE_UNAUTHORIZED
from realtime.config import push_settings
from realtime.services import event_frame
from realtime.topics import user_topic
from sogoms_site.api import openapi
from sogoms_site.api.openapi import OpenApiPart, openapi_document
from sogoms_site.urls import tenant_urlconf
from tenants import hooks
from tenants.auth.openapi import OAUTH_PATHS, PASSWORD_RESET_PATHS, VERIFY_PATHS
from tenants.auth.passwordreset import TEMPLATE as PASSWORD_RESET_TEMPLATE
from tenants.auth.verification import verification_mailer
from tenants.registry import registry
from tests.conftest import TenantApi, create_user, data_of, error_of
from tests.crud.test_describe import assert_conforms

pytestmark = pytest.mark.django_db(databases="__all__")

TENANTS = ["alpha", "beta", "gamma"]
METHODS = ("get", "put", "post", "patch", "delete")
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
DOCUMENTED_PARAMETER = re.compile(r"\{\w+\}")


# --- the routes a tenant serves -----------------------------------------------------------


def _walk(patterns, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found: list[tuple[str, URLPattern]] = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, route)
        else:
            found.append((route, pattern))
    return found


def as_openapi_path(route: str, base_path: str) -> str:
    """`api/_mail/messages/<int:message_id>` under `/api` -> `/_mail/messages/{message_id}`."""
    return "/" + PARAMETER.sub(r"{\1}", route.removeprefix(base_path.strip("/") + "/"))


def api_routes(tenant) -> dict[str, URLPattern]:
    """Every route under the tenant's base path (not /health, /ready, /admin/), as OpenAPI paths."""
    prefix = tenant.base_path.strip("/") + "/"
    return {
        as_openapi_path(route, tenant.base_path): pattern
        for route, pattern in _walk(tenant_urlconf(tenant.base_path).urlpatterns)
        if route.startswith(prefix)
    }


def served_paths(tenant) -> dict[str, str]:
    """What the tenant serves: {OpenAPI path: the route that serves it}.

    The resource routes become one path per exposed resource that has an operation there.
    The password forgot/reset routes are left out for a tenant without the `password_reset`
    e-mail: there, forgetting a password answers 404 NOT_FOUND (checked below)."""
    bounds = exposed(tenant)
    served: dict[str, str] = {}
    for path, pattern in api_routes(tenant).items():
        view = getattr(pattern.callback, "view_class", None)
        if view is CollectionView:
            names = [b.name for b in bounds if b.resource.allows("list") or b.resource.allows("create")]
            served.update({f"/{name}": path for name in names})
        elif view is ItemView:
            item_operations = ("show", "update", "delete")
            names = [b.name for b in bounds if any(b.resource.allows(op) for op in item_operations)]
            served.update({f"/{name}/{{id}}": path for name in names})
        else:
            served[path] = path
    if hooks.account_mailer(tenant, PASSWORD_RESET_TEMPLATE) is None:
        for path in PASSWORD_RESET_PATHS:
            del served[path]
    if verification_mailer(tenant) is None:
        for path in VERIFY_PATHS:
            del served[path]
    if not (tenant.oauth and tenant.oauth.providers):
        for path in OAUTH_PATHS:
            del served[path]
    return served


@pytest.fixture(params=TENANTS)
def tenant(request):
    return registry().get(request.param)


# --- every route documented, nothing else ---------------------------------------------------


def test_the_document_describes_every_route_the_tenant_serves(tenant):
    documented = set(openapi_document(tenant)["paths"])

    missing = sorted(set(served_paths(tenant)) - documented)

    assert not missing, f"{tenant.app} serves these paths, its OpenAPI document does not say so: {missing}"


def test_the_document_describes_no_route_the_tenant_does_not_serve(tenant):
    documented = set(openapi_document(tenant)["paths"])

    extra = sorted(documented - set(served_paths(tenant)))

    assert not extra, f"the OpenAPI document of {tenant.app} describes paths nobody serves: {extra}"


def test_the_routes_include_every_apps_paths(tenant):
    # The walk itself: it must see the routes of every app, not only the resources.
    prefixes = {path.split("/")[1] for path in api_routes(tenant)}

    assert {"auth", "_schema", "_openapi", "_docs", "_mail", "_push", "{resource}"} <= prefixes


def test_each_documented_path_reaches_the_route_it_describes(tenant):
    served = served_paths(tenant)
    urlconf = tenant_urlconf(tenant.base_path)

    for path in openapi_document(tenant)["paths"]:
        match = resolve(tenant.base_path + DOCUMENTED_PARAMETER.sub("1", path), urlconf=urlconf)
        assert as_openapi_path(match.route, tenant.base_path) == served[path], path


def test_each_documented_operation_has_a_handler_and_each_handler_is_documented(tenant):
    document = openapi_document(tenant)
    urlconf = tenant_urlconf(tenant.base_path)

    for path, item in document["paths"].items():
        documented = {method for method in item if method in METHODS}
        callback = resolve(tenant.base_path + DOCUMENTED_PARAMETER.sub("1", path), urlconf=urlconf).func
        view = getattr(callback, "view_class", None)
        if view is None:  # the Swagger UI page, a plain function
            assert documented == {"get"}, path
            continue
        handlers = {method for method in METHODS if hasattr(view, method)}
        assert documented <= handlers, f"{path}: {sorted(documented - handlers)} without a handler"
        if view not in (CollectionView, ItemView):  # those allow what each resource allows
            assert documented == handlers, f"{path}: {sorted(handlers - documented)} not documented"


def test_a_tenant_without_the_reset_email_answers_a_forgotten_password_with_not_found(beta, beta_api):
    assert hooks.account_mailer(beta, PASSWORD_RESET_TEMPLATE) is None

    response = beta_api.post("auth/password/forgot", {"email": "charlie@example.com"})

    error_of(response, 404, "NOT_FOUND")


# --- valid documents ------------------------------------------------------------------------------


def test_the_document_is_valid_openapi(tenant):
    validate(openapi_document(tenant))


def test_the_served_document_is_the_one_the_providers_build(tenant, alpha_api, beta_api):
    apis = {"alpha": alpha_api, "beta": beta_api}
    api = apis.get(tenant.app) or TenantApi(tenant, APIClient(), tenant.hosts[0])

    response = api.get("_openapi")

    assert response.status_code == 200
    assert response.json()["paths"].keys() == openapi_document(tenant)["paths"].keys()


# --- the socket ------------------------------------------------------------------------------------


def test_the_document_describes_the_socket_with_its_token_close_codes_and_channels(alpha):
    socket = openapi_document(alpha)["x-websocket"]

    assert socket["path"] == "/ws"
    assert "/api/ws" in socket["url"]
    assert "?token=" in socket["authentication"]["query"]
    assert "bearer" in socket["authentication"]["subprotocol"]
    assert set(socket["closeCodes"]) == {str(CLOSE_UNAUTHORIZED), str(CLOSE_FORBIDDEN), str(CLOSE_NOT_FOUND)}
    assert socket["channels"] == sorted(push_settings(alpha).channels)
    assert "chat" in socket["channels"]
    assert set(socket["clientFrames"]) == {"subscribe", "unsubscribe", "ping"}
    assert set(socket["serverFrames"]) == {"event", "pong", "error"}


def test_the_frames_the_server_sends_conform_to_the_documented_frame_schemas(alpha):
    document = openapi_document(alpha)
    socket = document["x-websocket"]

    def check(direction: str, kind: str, frame: dict) -> None:
        name = socket[direction][kind]["$ref"].rsplit("/", 1)[1]
        validator = OAS30Validator(
            document["components"]["schemas"][name], format_checker=OAS30Validator.FORMAT_CHECKER
        )
        errors = [error.message for error in validator.iter_errors(frame)]
        assert not errors, (kind, frame, errors)

    check("serverFrames", "event", event_frame(user_topic("alpha", 7, "tasks"), {"resource": "tasks"}))
    check("serverFrames", "pong", {"type": "pong"})
    check(
        "serverFrames",
        "error",
        {"type": "error", "code": "FORBIDDEN", "message": "the topic belongs to another user"},
    )
    check("clientFrames", "subscribe", {"type": "subscribe", "topic": "alpha/user/7/tasks"})
    check("clientFrames", "unsubscribe", {"type": "unsubscribe", "topic": "alpha/broadcast/chat"})
    check("clientFrames", "ping", {"type": "ping"})


def test_the_push_tag_tells_swagger_ui_readers_where_the_socket_is(alpha):
    tags = {tag["name"]: tag["description"] for tag in openapi_document(alpha)["tags"]}

    assert "`/api/ws`" in tags["push"]


# --- the provider registry ------------------------------------------------------------------------


def test_every_app_registers_its_provider_once(alpha):
    modules = [provider.__module__ for provider in openapi.providers]

    assert modules[:4] == ["tenants.auth.openapi", "crud.openapi", "mail.openapi", "realtime.openapi"]
    assert len(modules) == len(set(modules))
    openapi.register_provider(openapi.providers[0])
    assert len(openapi.providers) == len(modules)


def test_two_providers_describing_one_path_is_an_error(alpha, monkeypatch):
    def first(tenant) -> OpenApiPart:
        return OpenApiPart(paths={"/same": {}})

    def second(tenant) -> OpenApiPart:
        return OpenApiPart(paths={"/same": {}})

    monkeypatch.setattr(openapi, "providers", [first, second])

    with pytest.raises(ValueError, match="'/same' is described twice"):
        openapi_document(alpha)


def test_an_extension_must_be_an_x_name(alpha, monkeypatch):
    monkeypatch.setattr(openapi, "providers", [lambda tenant: OpenApiPart(extensions={"socket": {}})])

    with pytest.raises(ValueError, match="must start with 'x-'"):
        openapi_document(alpha)


def test_the_contract_module_imports_no_app_above_floor_one():
    tree = ast.parse(Path(openapi.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    above = {
        name for name in imported if name.split(".")[0] in {"tenants", "crud", "mail", "realtime", "cron"}
    }

    assert not above


# --- real answers of the admin endpoints conform ---------------------------------------------------


@pytest.fixture
def admin_token(alpha, alpha_api):
    create_user(alpha, "root@example.com", role="admin", name="Root")
    return alpha_api.token_for("root@example.com")


@pytest.fixture
def document(alpha):
    return openapi_document(alpha)


def test_the_data_dictionary_conforms(document, alpha_api, admin_token):
    assert_conforms(document, "/_schema", "get", alpha_api.get("_schema", token=admin_token))
    assert_conforms(document, "/_schema/{table}", "get", alpha_api.get("_schema/tasks", token=admin_token))
    assert_conforms(document, "/_schema/{table}", "get", alpha_api.get("_schema/nope", token=admin_token))
    assert_conforms(document, "/_schema", "get", alpha_api.get("_schema"))


def test_the_mail_endpoints_conform(document, alpha_api, admin_token, alice):
    def call(method: str, path: str, data=None):
        return alpha_api.call(method, path, data, admin_token)

    assert_conforms(document, "/_mail/templates", "get", call("get", "_mail/templates"))
    sent = call("post", "_mail/send", {"to": "bob@example.com", "subject": "Hi", "body": "Hello"})
    assert_conforms(document, "/_mail/send", "post", sent)
    templated = call(
        "post",
        "_mail/send_template",
        {"to": "bob@example.com", "template": "greeting", "variables": {"Name": "Bob", "code": "1"}},
    )
    assert_conforms(document, "/_mail/send_template", "post", templated)
    assert_conforms(
        document,
        "/_mail/send_template",
        "post",
        call("post", "_mail/send_template", {"to": "x@example.com", "template": "nope"}),
    )
    bulk = call(
        "post",
        "_mail/send_bulk",
        {
            "template": "greeting",
            "variables": {"code": "2"},
            "recipients": [{"email": "c@example.com", "variables": {"Name": "C"}}],
        },
    )
    assert_conforms(document, "/_mail/send_bulk", "post", bulk)
    assert_conforms(document, "/_mail/messages", "get", call("get", "_mail/messages?per_page=2"))
    assert_conforms(document, "/_mail/messages", "get", call("get", "_mail/messages?status=nope"))
    message_id = data_of(sent, 202)["id"]
    assert_conforms(
        document, "/_mail/messages/{message_id}", "get", call("get", f"_mail/messages/{message_id}")
    )
    assert_conforms(document, "/_mail/messages/{message_id}", "get", call("get", "_mail/messages/987654"))
    cancelled = call("post", f"_mail/messages/{message_id}/cancel")
    assert_conforms(document, "/_mail/messages/{message_id}/cancel", "post", cancelled)
    again = call("post", f"_mail/messages/{message_id}/cancel")
    assert_conforms(document, "/_mail/messages/{message_id}/cancel", "post", again)
    requeued = call("post", f"_mail/messages/{message_id}/requeue")
    assert_conforms(document, "/_mail/messages/{message_id}/requeue", "post", requeued)
    assert_conforms(
        document,
        "/_mail/templates",
        "get",
        alpha_api.get("_mail/templates", token=alpha_api.token_for("alice@example.com")),
    )


def test_the_push_endpoints_conform(document, alpha_api, admin_token):
    for action, body in (
        ("publish", {"topic": "alpha/broadcast/chat", "data": {"n": 1}}),
        ("notify", {"user_id": 7, "channel": "chat"}),
        ("broadcast", {"channel": "chat", "data": [1, "two"]}),
        ("publish", {"topic": "beta/broadcast/chat"}),
    ):
        assert_conforms(
            document, f"/_push/{action}", "post", alpha_api.post(f"_push/{action}", body, token=admin_token)
        )


def test_the_cron_endpoints_conform(document, alpha_api, admin_token):
    assert "/_cron/jobs" in document["paths"], "cron.openapi.cron_paths is not registered"
    triggered = alpha_api.post("_cron/jobs/greet/trigger", token=admin_token)
    assert_conforms(document, "/_cron/jobs/{name}/trigger", "post", triggered)
    assert_conforms(
        document,
        "/_cron/jobs/{name}/trigger",
        "post",
        alpha_api.post("_cron/jobs/paused/trigger", token=admin_token),
    )
    assert_conforms(
        document,
        "/_cron/jobs/{name}/trigger",
        "post",
        alpha_api.post("_cron/jobs/nope/trigger", token=admin_token),
    )
    assert_conforms(document, "/_cron/jobs", "get", alpha_api.get("_cron/jobs", token=admin_token))
    assert_conforms(document, "/_cron/runs", "get", alpha_api.get("_cron/runs?job=greet", token=admin_token))
    assert_conforms(
        document, "/_cron/runs", "get", alpha_api.get("_cron/runs?status=nope", token=admin_token)
    )
