"""E-mails on data events: `notify` of a schema table sends a template when a row is
created, or changed (optionally: only when some fields changed).

An event subscriber (crud.events), so it runs once the change has committed; the mail is
queued in the control database's outbox through the tenant's account mailer (the mail
app's templates), to the row's owner or to every active user of a role. The template gets
the row as `record` (its visible fields), `resource` and `action`, beside the recipient's
`name` and `email`.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from django.db import transaction

from crud.config import resources_of
from crud.events import DomainEvent
from crud.resource import Notification
from crud.runtime import existing_resource
from sogoms_site.api.envelope import render_json
from tenants import hooks
from tenants.config import Tenant
from tenants.registry import registry
from tenants.usermodel import TenantUserBase, user_model

logger = logging.getLogger("sogoms.crud.notify")


def _due(notification: Notification, event: DomainEvent) -> bool:
    if notification.after != event.action:
        return False
    return not notification.fields or bool(set(notification.fields) & set(event.changed))


def _recipients(tenant: Tenant, notification: Notification, owner: Any) -> list[TenantUserBase]:
    users = user_model(tenant).objects.filter(is_active=True)
    if notification.to == "owner":
        return list(users.filter(pk=owner)) if owner is not None else []
    return list(users.filter(role=notification.to.removeprefix("role:")).order_by("id"))


def notify_on_event(event: DomainEvent) -> None:
    """Subscriber: the `notify` e-mails of the event's table, if any are due."""
    tenant = registry().get(event.app)
    resource = resources_of(tenant).get(event.resource) if tenant is not None else None
    if tenant is None or resource is None:
        return
    due = [notification for notification in resource.notifications if _due(notification, event)]
    if not due:
        return
    bound = existing_resource(tenant, resource.name)
    names = [spec.attname for spec in bound.model._meta.concrete_fields]
    api_names = {bound.attnames[spec.name]: spec.name for spec in resource.visible_fields}
    row = bound.model._default_manager.filter(pk=event.id).values(*names).first()
    if row is None:  # deleted meanwhile
        return
    # JSON-safe values (dates, decimals) as the API gives them: variables are stored
    record = orjson.loads(
        render_json({api_names[key]: value for key, value in row.items() if key in api_names})
    )
    owner_field = resource.owner_field
    owner = row[bound.attnames[owner_field.name]] if owner_field is not None else event.owner
    for notification in due:
        mailer = hooks.account_mailer(tenant, notification.template)
        if mailer is None:
            logger.warning(
                "%s: no e-mail template %r for %s.notify", tenant.app, notification.template, resource.name
            )
            continue
        for user in _recipients(tenant, notification, owner):
            variables = {
                "record": record,
                "resource": resource.name,
                "action": event.action,
                "name": user.name,
                "email": user.email,
            }
            with transaction.atomic(using="default"):
                mailer.send(tenant=tenant, template=notification.template, user=user, variables=variables)
