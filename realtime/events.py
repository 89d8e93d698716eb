"""CRUD events to push: a committed create, update or delete reaches its owner's topic.

Subscribed to `crud.events` (called after commit). What a resource publishes comes from
`config/push/<app>.yaml` (default: every action of every resource, to the owner only).
The event goes to `<app>/user/<owner>/<resource>`, and to `<app>/broadcast/<resource>`
only where the push file asks for it: nothing crosses users otherwise, nor tenants.

A table with its own `view` rule (crud.access) decides by that rule on the row as
written (as it was, for a delete): the owner's topic gets the event only if the owner,
with the role they have now, may view the row; the broadcast topic (which every
signed-in user of the app may subscribe to) only if every signed-in user may, whatever
their role (`public`, `auth`, conditions on the row's columns). Other users who may view
it through their role are not told: there is no topic per role.
"""

from __future__ import annotations

from crud.access.evaluate import EVERY_SIGNED_IN_USER, holds
from crud.access.rules import is_default, rule_for
from crud.config import resources_of
from crud.events import DomainEvent
from crud.resource import Resource
from realtime import services
from realtime.config import push_settings
from realtime.topics import broadcast_topic, user_topic
from tenants.auth.principal import TenantPrincipal
from tenants.config import Tenant
from tenants.registry import registry


def publish_crud_event(event: DomainEvent) -> None:
    tenant = registry().get(event.app)
    if tenant is None:
        return
    rule = push_settings(tenant).rule_for(event.resource, event.action)
    if rule is None:
        return
    data = {
        "resource": event.resource,
        "action": event.action,
        "id": event.id,
        "changed": list(event.changed),
        **({"record": event.data} if event.data else {}),
    }
    try:
        owner = int(event.owner)
    except (TypeError, ValueError):
        owner = None  # a row without an owner has no user topic
    to_owner, to_everyone = owner is not None, rule.broadcast
    resource = resources_of(tenant).get(event.resource)
    if resource is not None and not is_default(resource, "show"):
        to_owner, to_everyone = _viewers(tenant, resource, event, owner)
    if to_owner and owner is not None:
        services.publish(app=tenant.app, topic=user_topic(tenant.app, owner, event.resource), data=data)
    if to_everyone:
        services.publish(app=tenant.app, topic=broadcast_topic(tenant.app, event.resource), data=data)


def _viewers(tenant: Tenant, resource: Resource, event: DomainEvent, owner: int | None) -> tuple[bool, bool]:
    """(the owner may view the row, every signed-in user may) under the table's view rule."""
    row = event.row
    if row is None:  # a write that did not say what it wrote: tell no one rather than anyone
        return False, False
    node = rule_for(resource, "show").node
    owner_field = resource.owner_field.name if resource.owner_field else None
    everyone = holds(node, row, EVERY_SIGNED_IN_USER, owner_field)
    owner_may = False
    if owner is not None:
        principal = _current_user(tenant, owner)
        owner_may = principal is not None and holds(node, row, principal, owner_field)
    return owner_may, everyone


def _current_user(tenant: Tenant, user_id: int) -> TenantPrincipal | None:
    """The user as they are now (role, active), or None for one gone or disabled."""
    from tenants.usermodel import user_model

    user = user_model(tenant).objects.filter(pk=user_id, is_active=True).first()
    return TenantPrincipal.of_user(user, tenant.app) if user is not None else None
