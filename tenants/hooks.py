"""Extension points other apps plug into at start-up (from their AppConfig.ready).

- table providers: more tables of a tenant, created by `sogoms migrate` beside `users`;
- login enrichers: extra lists in the login response (`auth.login_includes`).
"""

from __future__ import annotations

from collections.abc import Callable

table_providers: list[Callable] = []  # (tenant) -> list of models
login_enrichers: list[Callable] = []  # (tenant, user) -> dict of extra login data


def register(hooks: list[Callable], function: Callable) -> None:
    if function not in hooks:
        hooks.append(function)
