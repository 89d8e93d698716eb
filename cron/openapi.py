"""The OpenAPI description of `<base>/_cron/*`: a tenant's scheduled jobs, their runs, a trigger.

`cron_paths` is a provider of the tenant's OpenAPI document (sogoms_site.api.openapi),
registered by the cron app's AppConfig.ready(). The run shape comes from the model and the
views' field list, the query parameters from the views' serializer, so the document
follows the code.
"""

from __future__ import annotations

import copy
from typing import Any

from cron.config import cron_settings
from cron.models import JobRun
from cron.views import RUN_FIELDS, RunsQuery
from sogoms_site.api.openapi import (
    OpenApiPart,
    envelope,
    model_schema,
    page_meta_schema,
    path_parameter,
    query_parameters,
    ref,
    responses,
)
from tenants.config import Tenant

TAG = "cron"
ADMIN = ("401", "403")  # no token; a user who is not role admin


def cron_paths(tenant: Tenant) -> OpenApiPart:
    """The provider: the `_cron` paths of every tenant (a tenant without jobs lists none)."""
    job_name: dict[str, Any] = {"type": "string"}
    jobs = sorted(cron_settings(tenant).jobs)
    if jobs:  # other names answer 404
        job_name["enum"] = jobs
    paths: dict[str, dict[str, Any]] = {
        "/_cron/jobs": {
            "get": _operation(
                "cron_jobs",
                "The declared jobs, with their next run and their last run",
                responses(
                    "200",
                    envelope({"type": "array", "items": ref("CronJob")}),
                    "the jobs",
                    (*ADMIN, "500"),
                ),
            )
        },
        "/_cron/jobs/{name}/trigger": {
            "parameters": [path_parameter("name", job_name, f"a job of config/cron/{tenant.app}.yaml")],
            "post": _operation(
                "cron_trigger",
                "Run a job now, outside its schedule (404: no such job, 409: a disabled job)",
                responses("202", envelope(ref("CronRun")), "the queued run", (*ADMIN, "404", "409", "500")),
            ),
        },
        "/_cron/runs": {
            "get": {
                **_operation(
                    "cron_runs",
                    "Runs, newest first",
                    responses(
                        "200",
                        envelope({"type": "array", "items": ref("CronRun")}, page_meta_schema()),
                        "a page of runs",
                        ("400", *ADMIN, "500"),
                    ),
                ),
                "parameters": query_parameters(RunsQuery),
            }
        },
    }
    return OpenApiPart(
        paths=paths,
        schemas=_schemas(),
        tags=[{"name": TAG, "description": "Scheduled jobs of config/cron/<app>.yaml and their runs."}],
    )


def _operation(operation_id: str, summary: str, answers: dict[str, Any]) -> dict[str, Any]:
    return {
        "tags": [TAG],
        "operationId": operation_id,
        "summary": f"{summary} (role admin)",
        "responses": answers,
    }


def _schemas() -> dict[str, Any]:
    run = model_schema(JobRun, RUN_FIELDS)
    run["properties"]["trigger"]["enum"] = ["schedule", "manual", "retry"]
    job = {
        "type": "object",
        "required": [
            "name",
            "kind",
            "description",
            "schedule",
            "timezone",
            "enabled",
            "retries",
            "next_run",
            "last_run",
        ],
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string"},
            "description": {"type": "string"},
            "schedule": {"type": "string", "description": "a cron expression"},
            "timezone": {"type": "string"},
            "enabled": {"type": "boolean"},
            "retries": {"type": "integer"},
            "next_run": {"type": "string", "format": "date-time", "nullable": True},
            "last_run": {**copy.deepcopy(run), "nullable": True},  # `nullable` beside a $ref is ignored
        },
    }
    return {"CronJob": job, "CronRun": run}
