"""CRUD events to push: a committed create, update or delete reaches its owner's topic.

Subscribed to `crud.events` (called after commit). What a resource publishes comes from
`config/push/<app>.yaml` (default: every action of every resource, to the owner only).
The event goes to `<app>/user/<owner>/<resource>`, and to `<app>/broadcast/<resource>`
only where the push file asks for it: nothing crosses users otherwise, nor tenants.
"""

from __future__ import annotations

from crud.events import DomainEvent
from realtime import services
from realtime.config import push_settings
from realtime.topics import broadcast_topic, user_topic
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
    if owner is not None:
        services.publish(app=tenant.app, topic=user_topic(tenant.app, owner, event.resource), data=data)
    if rule.broadcast:
        services.publish(app=tenant.app, topic=broadcast_topic(tenant.app, event.resource), data=data)
