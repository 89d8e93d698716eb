#!/usr/bin/env python
"""Python function calls per API request, with and without the browser middleware.

    .venv/bin/python bench/experiments/middleware_calls.py

Two test clients in one process: one with the middleware list as it was before
`SitePathsMiddleware` (sessions, CSRF, authentication and messages on every request),
one with the site's list. Each sends 100 show and 100 list requests of bench/hotpath.py
(embedded SQLite) under cProfile, and the number of function calls per request is
printed: a count the load of a shared machine does not move.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))
import hotpath  # noqa: E402

BROWSER = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]


def main() -> None:
    args = argparse.Namespace(engine="sqlite", env=[], db_prefix="", redis_url="", rows=200)
    tmp = Path(tempfile.mkdtemp(prefix="sogoms-mwcalls-"))
    try:
        hotpath.prepare_environment(args, tmp)
        import django

        django.setup()
        from django.conf import settings
        from django.test import Client, override_settings

        before = [m for m in settings.MIDDLEWARE if m != "sogoms_site.middleware.SitePathsMiddleware"]
        common = before.index("django.middleware.common.CommonMiddleware")
        before[common : common + 1] = BROWSER
        calls = hotpath.requests_of(args)
        clients = {"all middleware (before)": Client(HTTP_HOST="127.0.0.1")}
        with override_settings(MIDDLEWARE=before):
            clients["all middleware (before)"].handler.load_middleware()
        clients["site paths only (after)"] = Client(HTTP_HOST="127.0.0.1")
        clients["site paths only (after)"].handler.load_middleware()
        print("| middleware | show: calls per request | list 20: calls per request |")
        print("|---|---:|---:|")
        for label, client in clients.items():
            counts = []
            for workload in ("show", "list"):
                request, status = calls[workload]
                # the workload's function sends through the client it closes over: swap it
                [cell] = [c for c in request.__closure__ or () if isinstance(c.cell_contents, Client)]
                cell.cell_contents = client
                for _ in range(20):
                    assert request().status_code == status
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(100):
                    request()
                profiler.disable()
                counts.append(pstats.Stats(profiler).total_calls / 100)  # type: ignore[attr-defined]
            print(f"| {label} | {counts[0]:,.0f} | {counts[1]:,.0f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
