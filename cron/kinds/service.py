"""The `service` kind: one SOGOMS action, the way the Python API or REST would call it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import override

from cron.kinds.base import JobKind
from cron.kinds.queries import admin_of, check_query, query_rows
from mail import services
from mail.config import mail_settings
from realtime import services as push
from tenants.config import Tenant
from tenants.usermodel import user_model

if TYPE_CHECKING:
    from cron.config import Job


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SendTemplate(Action):
    action: Literal["send_template"]
    template: str
    to: str
    to_name: str = ""
    variables: dict[str, Any] = Field(default_factory=dict)


class Recipient(Action):
    email: str
    name: str = ""
    variables: dict[str, Any] = Field(default_factory=dict)


class SendBulk(Action):
    action: Literal["send_bulk"]
    template: str
    recipients: list[Recipient] = Field(default_factory=list)
    all_users: bool = False  # every active user of the tenant, with their name
    variables: dict[str, Any] = Field(default_factory=dict)


class Query(Action):
    action: Literal["query"]
    resource: str
    query: str = ""  # the list API's query string, e.g. filter=open&sort=-position
    limit: int = Field(default=100, ge=1, le=1000)


class Publish(Action):
    action: Literal["publish"]
    topic: str
    data: Any = None


class NotifyUser(Action):
    action: Literal["notify_user"]
    user_id: int
    channel: str
    data: Any = None


class Broadcast(Action):
    action: Literal["broadcast"]
    channel: str
    data: Any = None


ServiceParams = Annotated[
    SendTemplate | SendBulk | Query | Publish | NotifyUser | Broadcast, Field(discriminator="action")
]


class ServiceKind(JobKind):
    name = "service"
    params_type = ServiceParams  # `action` and that action's arguments

    @override
    def check(self, tenant: Tenant, params: ServiceParams) -> list[tuple[str, str]]:
        return check_service(tenant, params)

    @override
    def run(self, tenant: Tenant, params: ServiceParams, job: Job) -> str:
        return run_service(tenant, params)


def check_service(tenant: Tenant, params: ServiceParams) -> list[tuple[str, str]]:
    if (
        isinstance(params, SendTemplate | SendBulk)
        and mail_settings(tenant).template(params.template) is None
    ):
        return [("template", f"{tenant.app} has no e-mail template {params.template!r}")]
    if isinstance(params, Query):
        problem = check_query(tenant, params.resource, params.query, params.limit)
        return [("query", problem)] if problem else []
    return []


def run_service(tenant: Tenant, params: ServiceParams) -> str:
    if isinstance(params, SendTemplate):
        message = services.mail_send_template(
            tenant=tenant,
            template=params.template,
            to=params.to,
            to_name=params.to_name,
            variables=params.variables,
        )
        return f"queued message #{message.pk} to {message.to_email}"
    if isinstance(params, SendBulk):
        recipients = [services.Recipient(r.email, r.name, r.variables) for r in params.recipients]
        if params.all_users:
            users = user_model(tenant).objects.filter(is_active=True).order_by("id")
            recipients += [services.Recipient(u.email, u.name, {"user_id": u.id}) for u in users]
        if not recipients:
            return "no recipients: nothing sent"
        bulk = services.mail_send_bulk(
            tenant=tenant, template=params.template, recipients=recipients, variables=params.variables
        )
        return f"queued {bulk.count} message(s), batch {bulk.batch}"
    if isinstance(params, Query):
        rows = query_rows(tenant, params.resource, params.query, caller=admin_of(tenant), limit=params.limit)
        return f"{len(rows)} row(s): {json.dumps(rows[:5], default=str)[:1000]}"
    if isinstance(params, Publish):
        result = push.publish(app=tenant.app, topic=params.topic, data=params.data)
    elif isinstance(params, NotifyUser):
        result = push.notify_user(
            app=tenant.app, user_id=params.user_id, channel=params.channel, data=params.data
        )
    else:
        result = push.broadcast(app=tenant.app, channel=params.channel, data=params.data)
    return f"published {json.dumps(result, default=str)[:500]}"
