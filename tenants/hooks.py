"""Extension points other apps plug into at start-up (from their AppConfig.ready).

- table providers: more tables of a tenant, created by `sogoms migrate` beside `users`;
- login enrichers: extra lists in the login response (`auth.login_includes`);
- account mailers: e-mails from templates: the auth flows (welcome, password reset, e-mail
  verification) and the `notify` e-mails of schema tables.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from django.db.models import Model

    from tenants.config import Tenant
    from tenants.usermodel import TenantUserBase


class AccountMailer(Protocol):
    def has_template(self, tenant: Tenant, name: str) -> bool: ...

    # Called inside the caller's control-database transaction. `secret` names the variables
    # holding one-time secrets (codes, links): they are never stored in clear.
    def send(
        self,
        *,
        tenant: Tenant,
        template: str,
        user: TenantUserBase,
        variables: dict[str, Any],
        secret: Collection[str] = (),
    ) -> None: ...

    # Called inside the caller's transaction on the tenant's database: the mail is recorded
    # there, beside the change, and reaches the outbox once it commits (or with the sweep).
    def queue_in_tenant(
        self,
        *,
        tenant: Tenant,
        template: str,
        user: TenantUserBase,
        variables: dict[str, Any],
        secret: Collection[str] = (),
    ) -> None: ...


TableProvider = Callable[["Tenant"], Iterable[type["Model"]]]  # the models of more tables
LoginEnricher = Callable[["Tenant", "TenantUserBase"], Mapping[str, Any]]  # extra login data

table_providers: list[TableProvider] = []
login_enrichers: list[LoginEnricher] = []
account_mailers: list[AccountMailer] = []

_Hook = TypeVar("_Hook")


def account_mailer(tenant: Tenant, template: str) -> AccountMailer | None:
    """The mailer that can send `template` for this tenant, or None."""
    return next((mailer for mailer in account_mailers if mailer.has_template(tenant, template)), None)


def register(hooks: list[_Hook], item: _Hook) -> None:
    if item not in hooks:
        hooks.append(item)
