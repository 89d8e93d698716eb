"""The ``http`` kind of scheduled job: one GET or POST to a tenant's URL, with a time limit.

The request goes through the guarded client (sogoms_site.net): a URL that leads into the
server's own network is refused unless the tenant's `allow_hosts` names it, and redirects
are never followed (a 3xx is reported as it is). A run fails on a status other than the
expected ones; a refused target fails without retries.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import override

from cron.kinds.base import JobKind
from sogoms_site.net import (
    MAX_BODY_BYTES,
    RequestFailed,
    Target,
    TargetRefused,
    guarded_request,
    header_problem,
)
from tenants.config import Tenant

if TYPE_CHECKING:
    from cron.config import Job

OUTPUT_BODY_CHARS = 1_000
USER_AGENT = "SOGOMS-cron/1"


def _error(kind: str, message: str) -> PydanticCustomError:
    # A custom error keeps the message as written, without pydantic's "Value error, " prefix.
    return PydanticCustomError(kind, message)


class HttpParams(BaseModel):
    """The ``params`` of an ``http`` job, as the tenant writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    method: Literal["GET", "POST"] = "GET"
    timeout: float = Field(10, gt=0, le=120, description="seconds for the whole request")
    headers: dict[str, str] = {}
    body: str | dict[str, Any] | list[Any] | None = None
    expect_status: list[int] | None = Field(None, min_length=1)

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        url = url.strip()
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            raise _error("http_url", "the URL must not contain spaces or control characters")
        try:
            Target(url)
        except ValueError as exc:
            raise _error("http_url", str(exc)) from None
        return url

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            problem = header_problem(name, value)
            if problem:
                raise _error("http_header", problem)
        return headers

    @field_validator("expect_status")
    @classmethod
    def _check_statuses(cls, statuses: list[int] | None) -> list[int] | None:
        for status in statuses or ():
            if not 100 <= status <= 599:
                raise _error("http_status", f"{status} is not an HTTP status (100 to 599)")
        return statuses

    @model_validator(mode="after")
    def _body_needs_post(self) -> HttpParams:
        if self.body is not None and self.method != "POST":
            raise _error("http_body", "a body is sent only with method POST")
        return self


class HttpKind(JobKind):
    name = "http"
    params_type = HttpParams

    @override
    def run(self, tenant: Tenant, params: HttpParams, job: Job) -> str:
        return run_http(params, allow=job.allow_hosts)

    @override
    def retryable(self, exc: Exception) -> bool:
        return not isinstance(exc, TargetRefused)  # the guard's answer does not change


def _request(params: HttpParams) -> tuple[bytes | None, dict[str, str]]:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    body: bytes | None = None
    if isinstance(params.body, str):
        headers["Content-Type"] = "text/plain; charset=utf-8"
        body = params.body.encode()
    elif params.body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(params.body).encode()
    # Tenant headers win over the defaults (names differ only in case).
    own = {name.lower() for name in params.headers}
    headers = {name: value for name, value in headers.items() if name.lower() not in own}
    headers.update(params.headers)
    return body, headers


def _text(content: bytes) -> str:
    return content[: OUTPUT_BODY_CHARS * 4].decode("utf-8", errors="replace")[:OUTPUT_BODY_CHARS]


def run_http(params: HttpParams, *, allow: Sequence[str] = ()) -> str:
    """Make the request; return a short report of it, the start of the body included.

    Raises TargetRefused when the guard refuses the target (nothing is contacted then), and
    RequestFailed on a network error, a timeout or a status other than the expected ones.
    """
    body, headers = _request(params)
    response = guarded_request(
        params.method, params.url, headers=headers, body=body, timeout=params.timeout, allow=allow
    )
    status, content = response.status, response.content
    size = f"over {MAX_BODY_BYTES} bytes" if response.truncated else f"{len(content)} bytes"
    summary = f"{params.method} {params.url} -> {status} ({size})"
    if response.location and 300 <= status < 400:
        summary += f", redirect to {response.location} not followed"
    expected = status in params.expect_status if params.expect_status else 200 <= status < 300
    text = _text(content)
    if not expected:
        wanted = ", ".join(map(str, params.expect_status)) if params.expect_status else "2xx"
        raise RequestFailed(f"{summary}, expected {wanted}" + (f"\n{text}" if text else ""))
    return f"{summary}\n{text}" if text else summary
