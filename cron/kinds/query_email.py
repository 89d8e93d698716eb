"""The `query_email` kind: read a resource, per user or once, and e-mail the rows.

Per user, each active user gets their own rows (as the API would show them to that
user) through one bulk send; users with no rows get nothing unless `skip_empty: false`.
Once, the rows are read as role admin and sent to `to`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, model_validator
from typing_extensions import override

from cron.kinds.base import JobKind
from cron.kinds.queries import admin_of, check_query, query_rows
from mail import services
from mail.config import mail_settings
from tenants.auth.principal import TenantPrincipal
from tenants.config import Tenant
from tenants.usermodel import user_model

if TYPE_CHECKING:
    from cron.config import Job


class QueryEmail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    resource: str
    query: str = ""  # the list API's query string, e.g. filter=due_today&include=project
    template: str
    per_user: bool = True
    to: str | None = None  # the recipient when per_user is false
    variable: str = "rows"  # the name the rows have in the template
    skip_empty: bool = True
    limit: int = Field(default=100, ge=1, le=1000)

    @model_validator(mode="after")
    def _recipient(self) -> QueryEmail:
        if not self.per_user and not self.to:
            raise ValueError("with per_user: false, give `to`")
        return self


def check_query_email(tenant: Tenant, params: QueryEmail) -> list[tuple[str, str]]:
    problems = []
    if mail_settings(tenant).template(params.template) is None:
        problems.append(("template", f"{tenant.app} has no e-mail template {params.template!r}"))
    problem = check_query(tenant, params.resource, params.query, params.limit)
    if problem:
        problems.append(("query", problem))
    return problems


class QueryEmailKind(JobKind):
    name = "query_email"
    params_type = QueryEmail

    @override
    def check(self, tenant: Tenant, params: QueryEmail) -> list[tuple[str, str]]:
        return check_query_email(tenant, params)

    @override
    def run(self, tenant: Tenant, params: QueryEmail, job: Job) -> str:
        return run_query_email(tenant, params, job)


def run_query_email(tenant: Tenant, params: QueryEmail, job: Job) -> str:
    # The job's day is its time zone's: `:today` in the query and `date` in the e-mail
    # both mean today where the job runs (07:00 in Paris is already tomorrow's digest).
    with timezone.override(job.schedule.zone):
        return _run(tenant, params, job)


def _run(tenant: Tenant, params: QueryEmail, job: Job) -> str:
    today = timezone.localdate().isoformat()
    shared = {"date": today, "job": job.name}
    if not params.per_user:
        rows = query_rows(tenant, params.resource, params.query, caller=admin_of(tenant), limit=params.limit)
        if not rows and params.skip_empty:
            return "0 rows: nothing sent"
        message = services.mail_send_template(
            tenant=tenant,
            template=params.template,
            to=params.to or "",
            variables={**shared, params.variable: rows},
        )
        return f"{len(rows)} row(s) sent to {message.to_email} (message #{message.pk})"
    recipients, users = [], 0
    for user in user_model(tenant).objects.filter(is_active=True).order_by("id"):
        users += 1
        # their own rows even for an admin: the e-mail is the user's data, not an audit
        caller = dataclasses.replace(TenantPrincipal.of_user(user, tenant.app), role="default")
        rows = query_rows(tenant, params.resource, params.query, caller=caller, limit=params.limit)
        if rows or not params.skip_empty:
            recipients.append(services.Recipient(user.email, user.name, {params.variable: rows}))
    if not recipients:
        return f"{users} user(s) read, no rows: nothing sent"
    bulk = services.mail_send_bulk(
        tenant=tenant, template=params.template, recipients=recipients, variables=shared
    )
    return f"{users} user(s) read, {bulk.count} e-mail(s) queued (batch {bulk.batch})"
