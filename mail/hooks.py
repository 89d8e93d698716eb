"""What the mail app plugs into tenants: the e-mails of the auth flows, from templates."""

from __future__ import annotations

from collections.abc import Collection

from mail.config import mail_settings
from mail.pending import pending_flush, pending_flush_all, pending_record
from mail.services import mail_send_template


class TemplateMailer:
    """Sends an auth-flow e-mail when the tenant has a template of that name."""

    def has_template(self, tenant, name: str) -> bool:
        return mail_settings(tenant).template(name) is not None

    def send(self, *, tenant, template: str, user, variables: dict, secret: Collection[str] = ()) -> None:
        mail_send_template(
            tenant=tenant,
            template=template,
            to=user.email,
            to_name=user.name,
            variables=_account_variables(tenant, user, variables),
            secret=secret,
        )

    def queue_in_tenant(
        self, *, tenant, template: str, user, variables: dict, secret: Collection[str] = ()
    ) -> None:
        pending_record(
            tenant=tenant,
            template=template,
            to=user.email,
            to_name=user.name,
            variables=_account_variables(tenant, user, variables),
            secret=secret,
            queue=mail_send_template,
        )


def _account_variables(tenant, user, variables: dict) -> dict:
    """What every account e-mail may use, beside the flow's own variables."""
    return {"app": tenant.app, "user_id": user.id, **variables}


def flush_pending(tenant, keys: list[str] | None = None) -> int:
    """Move the tenant's pending mail (all, or `keys`) to the outbox."""
    return pending_flush(tenant, queue=mail_send_template, keys=keys)


def flush_all_pending() -> int:
    """The sweep's first step (`mail.delivery.before_sweep`)."""
    return pending_flush_all(queue=mail_send_template)


template_mailer = TemplateMailer()
