"""The SOGOMS response envelope, the only shape a tenant API answers with.

Success: `{"success": true, "message": ..., "data": ...}` (plus `meta` for lists).
Error:   `{"success": false, "error": {"code", "message", "details", "request_id"}}`.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse

from sogoms_site.requestid import current_request_id


class Envelope(dict):
    """A body that is already in the envelope; the renderer passes it through as is."""


def success_body(data: Any = None, message: str = "OK", meta: dict | None = None) -> Envelope:
    body = Envelope(success=True, message=message, data=data)
    if meta is not None:
        body["meta"] = meta
    return body


def error_body(code: str, message: str, details: Any = None) -> Envelope:
    error = {"code": code, "message": message, "details": details or {}}
    request_id = current_request_id()
    if request_id:
        error["request_id"] = request_id
    return Envelope(success=False, error=error)


def ok(
    data: Any = None,
    message: str = "OK",
    *,
    status: int = 200,
    meta: dict | None = None,
    headers: dict | None = None,
) -> HttpResponse:
    """What every API view returns on success: the envelope, rendered here.

    A plain response, not DRF's: DRF's view still negotiates first (a client that accepts
    no JSON is refused before the view runs) and adds its headers (`Allow`, `Vary`), but
    the renderer round (a template response per request) is skipped.
    """
    return json_response(success_body(data, message, meta), status, headers)


def json_response(body: Envelope, status: int, headers: dict | None = None) -> HttpResponse:
    """An envelope as the response every API answer is: JSON, the status, extra headers."""
    response = HttpResponse(render_json(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


_DJANGO_TYPES = DjangoJSONEncoder()
# Datetimes as RFC 3339 (`Z` for UTC, microseconds kept); int keys as strings, as json did.
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS


def _other_types(value: Any) -> Any:
    """What orjson does not know (Decimal, lazy translations, durations), as Django says."""
    return _DJANGO_TYPES.default(value)


def render_json(body: Any) -> bytes:
    """The one JSON encoding of API bodies: compact, UTF-8, Django types understood."""
    return orjson.dumps(body, default=_other_types, option=_OPTIONS)


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict | None = None
) -> HttpResponse:
    """An error envelope outside DRF (middleware, Django's 404/500 handlers)."""
    return json_response(error_body(code, message, details), status, headers)


def page_meta(*, page: int, per_page: int, total: int) -> dict:
    """The `meta` of a page of a list: where it is and how many there are."""
    return {
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": -(-total // per_page) if total else 0,
    }
