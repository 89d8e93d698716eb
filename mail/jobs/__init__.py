"""Scheduled job kinds: one module per kind, described here by one `JobKind` each.

A kind has a params model (checked when the config loads), an optional check against
the tenant (templates and resources exist), and a run function returning a short output
for the run history; a run function raises to fail the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class JobKind:
    name: str
    params_model: type[BaseModel]  # a model with one field, `params`
    run: Callable  # (tenant, params, job) -> str
    check: Callable = lambda tenant, params: []  # (tenant, params) -> [(key, message)]
    retryable: Callable = lambda exc: True  # (exception) -> whether another attempt may help


def _http_kind() -> JobKind:
    from mail.jobs.http import HttpParams, JobRefused, run_http

    class HttpJob(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        params: HttpParams

    return JobKind(
        name="http",
        params_model=HttpJob,
        run=lambda tenant, params, job: run_http(params, allow=job.allow_hosts),
        retryable=lambda exc: not isinstance(exc, JobRefused),
    )


def kinds() -> dict[str, JobKind]:
    from mail.jobs.query_email import QueryEmailJob, check_query_email, run_query_email
    from mail.jobs.service import ServiceJob, check_service, run_service

    return {
        "service": JobKind("service", ServiceJob, run_service, check_service),
        "http": _http_kind(),
        "query_email": JobKind("query_email", QueryEmailJob, run_query_email, check_query_email),
    }
