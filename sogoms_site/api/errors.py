"""Error codes of the contract and the DRF exception handler that speaks them.

Every error leaves as `{"success": false, "error": {code, message, details}}`; a code
maps to one HTTP status. Framework exceptions are translated here, in one place.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from sogoms_site.api.envelope import error_body


class ApiError(drf.APIException):
    """An error of the contract: a code, a message for people, and optional details."""

    status_code = 400
    code = "VALIDATION_ERROR"
    default_detail = "The request is invalid."

    def __init__(self, message: str | None = None, details: Any = None, headers: dict | None = None):
        super().__init__(message or self.default_detail)
        self.message = str(message or self.default_detail)
        self.details = details or {}
        self.headers = headers or {}


def _error(name: str, status: int, code: str, message: str) -> type[ApiError]:
    return type(name, (ApiError,), {"status_code": status, "code": code, "default_detail": message})


ValidationFailed = _error("ValidationFailed", 400, "VALIDATION_ERROR", "The request is invalid.")
Unauthorized = _error("Unauthorized", 401, "UNAUTHORIZED", "Authentication is required.")
TokenExpired = _error("TokenExpired", 401, "TOKEN_EXPIRED", "The token has expired.")
InvalidCredentials = _error("InvalidCredentials", 401, "INVALID_CREDENTIALS", "Invalid e-mail or password.")
Forbidden = _error("Forbidden", 403, "FORBIDDEN", "You are not allowed to do this.")
NotFound = _error("NotFound", 404, "NOT_FOUND", "Not found.")
TenantNotFound = _error("TenantNotFound", 404, "TENANT_NOT_FOUND", "No app is served on this host.")
MethodNotAllowed = _error("MethodNotAllowed", 405, "METHOD_NOT_ALLOWED", "Method not allowed.")
Conflict = _error("Conflict", 409, "CONFLICT", "The request conflicts with existing data.")
PayloadTooLarge = _error("PayloadTooLarge", 413, "PAYLOAD_TOO_LARGE", "The request body is too large.")
UnsupportedMediaType = _error(
    "UnsupportedMediaType",
    415,
    "UNSUPPORTED_MEDIA_TYPE",
    "The body must be JSON (Content-Type: application/json).",
)
RateLimited = _error("RateLimited", 429, "RATE_LIMITED", "Too many attempts; try again later.")
InternalError = _error("InternalError", 500, "INTERNAL_ERROR", "An internal error occurred.")


def translate(exc: Exception) -> ApiError | None:
    """The contract error for a framework exception, or None if it is not one we know."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, drf.ValidationError):
        return ValidationFailed("The request is invalid.", details=_field_details(exc.detail))
    if isinstance(exc, drf.ParseError):
        return ValidationFailed(f"The body is not valid JSON: {exc.detail}")
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return Unauthorized(str(exc.detail))
    if isinstance(exc, drf.PermissionDenied | DjangoPermissionDenied):
        return Forbidden()
    if isinstance(exc, drf.NotFound | Http404):
        return NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return UnsupportedMediaType()
    if isinstance(exc, drf.NotAcceptable):
        return ApiError("The response can only be JSON.", headers={})
    if isinstance(exc, drf.Throttled):
        wait = int(exc.wait or 1)
        return RateLimited(headers={"Retry-After": str(wait)})
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    return None


def _field_details(detail: Any) -> Any:
    """Flatten DRF's ErrorDetail structure into plain strings, keyed by field."""
    if isinstance(detail, dict):
        return {str(key): _field_details(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if len(detail) and not isinstance(detail[0], dict | list):
            return [str(item) for item in detail]
        return [_field_details(item) for item in detail]
    return [str(detail)]


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    error = translate(exc)
    if error is None:
        return None  # unknown: ApiErrorMiddleware logs it and answers INTERNAL_ERROR
    details = error.details
    if isinstance(details, dict) and "non_field_errors" in details:
        details["_body"] = details.pop("non_field_errors")
    response = Response(error_body(error.code, error.message, details), status=error.status_code)
    for name, value in error.headers.items():
        response[name] = value
    if error.status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
