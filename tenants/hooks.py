"""Extension points other apps plug into at start-up (from their AppConfig.ready).

- table providers: more tables of a tenant, created by `sogoms migrate` beside `users`;
- login enrichers: extra lists in the login response (`auth.login_includes`);
- account mailers: the e-mails of auth flows (welcome, password reset), from templates.
"""

from __future__ import annotations

from collections.abc import Callable

table_providers: list[Callable] = []  # (tenant) -> list of models
login_enrichers: list[Callable] = []  # (tenant, user) -> dict of extra login data
# Objects with has_template(tenant, name) and send(*, tenant, template, user, variables);
# send is called inside the caller's control-database transaction.
account_mailers: list = []


def account_mailer(tenant, template: str):
    """The mailer that can send `template` for this tenant, or None."""
    return next((mailer for mailer in account_mailers if mailer.has_template(tenant, template)), None)


def register(hooks: list, item) -> None:
    if item not in hooks:
        hooks.append(item)
