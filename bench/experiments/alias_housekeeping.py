"""What 1,000 registered tenant database aliases cost one process, without a server.

Loads N copies of the Prokov tenant (bench/many_tenants.py's config) with `django.setup()`
(no alias registered: tenants/databases.py registers each on first use), times Django's
per-request connection housekeeping (`close_old_connections`, run on every request's start
and end; `reset_queries` walks the same list at the start), then registers every alias at
once, as the code before did at start, and times both again.

    flock /tmp/sogoms-bench.lock .venv/bin/python bench/experiments/alias_housekeeping.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]


def per_call_us(function, rounds: int = 2000) -> float:
    """The best of three rounds, in microseconds per call."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            function()
        best = min(best, (time.perf_counter() - started) / rounds * 1e6)
    return round(best, 1)


def main() -> None:
    from many_tenants import generate_config

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    root = Path(tempfile.mkdtemp(prefix="sogoms-aliases-"))
    config = generate_config(n, root)
    os.environ.update(
        SOGOMS_CONFIG_DIR=str(config),
        SOGOMS_VAR_DIR=str(root / "var"),
        SOGOMS_BASE_DIR=str(root),
        DJANGO_SETTINGS_MODULE="sogoms_site.settings",
        SOGOMS_EMBEDDED_WORKER="0",
    )
    import django

    django.setup()
    from django.db import close_old_connections

    from tenants import databases
    from tenants.registry import registry

    print(f"tenants: {n}, aliases registered after setup: {len(databases.registered_tenant_aliases())}")
    print(f"close_old_connections, no tenant alias: {per_call_us(close_old_connections)} us")
    started = time.perf_counter()
    mapping = databases._databases()
    with databases._lock:
        for tenant in registry():
            databases._register(mapping, tenant)
    print(f"registering {n} aliases at once: {(time.perf_counter() - started) * 1000:.1f} ms")
    print(f"close_old_connections, {n} aliases: {per_call_us(close_old_connections)} us")


if __name__ == "__main__":
    main()
