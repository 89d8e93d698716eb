"""Error codes of the contract and the DRF exception handler that speaks them.

Every error leaves as `{"success": false, "error": {code, message, details}}`; a code
maps to one HTTP status. Domain errors (`sogoms_site.errors`, raised by services) and
framework exceptions are translated here, in one place: `translate`, used by the DRF
exception handler and by `ApiErrorMiddleware` alike.
"""

from __future__ import annotations

from typing import Any

import redis
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpResponse
from rest_framework import exceptions as drf

from sogoms_site import errors as domain
from sogoms_site.api.envelope import error_body, json_response


class ApiError(drf.APIException):
    """An error of the contract: a code, a message for people, and optional details."""

    status_code: int = 400
    code: str = "VALIDATION_ERROR"
    default_detail: str = "The request is invalid."

    def __init__(
        self,
        message: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.default_detail)
        self.message: str = str(message or self.default_detail)
        self.details: Any = details or {}
        self.headers: dict[str, str] = headers or {}


class ValidationFailed(ApiError):
    status_code = 400
    code = "VALIDATION_ERROR"
    default_detail = "The request is invalid."


class Unauthorized(ApiError):
    status_code = 401
    code = "UNAUTHORIZED"
    default_detail = "Authentication is required."


class TokenExpired(ApiError):
    status_code = 401
    code = "TOKEN_EXPIRED"
    default_detail = "The token has expired."


class InvalidCredentials(ApiError):
    status_code = 401
    code = "INVALID_CREDENTIALS"
    default_detail = "Invalid e-mail or password."


class Forbidden(ApiError):
    status_code = 403
    code = "FORBIDDEN"
    default_detail = "You are not allowed to do this."


class EmailNotVerified(ApiError):
    status_code = 403
    code = "EMAIL_NOT_VERIFIED"
    default_detail = "Verify your e-mail address before signing in."


class NotFound(ApiError):
    status_code = 404
    code = "NOT_FOUND"
    default_detail = "Not found."


class TenantNotFound(ApiError):
    status_code = 404
    code = "TENANT_NOT_FOUND"
    default_detail = "No app is served on this host."


class MethodNotAllowed(ApiError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"
    default_detail = "Method not allowed."


class Conflict(ApiError):
    status_code = 409
    code = "CONFLICT"
    default_detail = "The request conflicts with existing data."


class AccountExistsError(ApiError):
    status_code = 409
    code = "ACCOUNT_EXISTS"
    default_detail = "An account with this e-mail already exists; sign in to it and link the provider."


class IdentityInUseError(ApiError):
    status_code = 409
    code = "IDENTITY_IN_USE"
    default_detail = "This provider account is linked to another account."


class OAuthStateInvalid(ApiError):
    status_code = 400
    code = "OAUTH_STATE_INVALID"
    default_detail = "The sign-in is unknown, expired or already finished; start again."


class OAuthCodeInvalid(ApiError):
    status_code = 400
    code = "OAUTH_CODE_INVALID"
    default_detail = "The sign-in code is unknown, expired or already used; sign in again."


class OAuthProviderError(ApiError):
    status_code = 502
    code = "OAUTH_FAILED"
    default_detail = "The sign-in with the provider failed."


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"
    default_detail = "The request body is too large."


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "UNSUPPORTED_MEDIA_TYPE"
    default_detail = "The body must be JSON (Content-Type: application/json)."


class RateLimited(ApiError):
    status_code = 429
    code = "RATE_LIMITED"
    default_detail = "Too many attempts; try again later."


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "TENANT_UNAVAILABLE"
    default_detail = "This app is temporarily unavailable; try again later."


class InternalError(ApiError):
    status_code = 500
    code = "INTERNAL_ERROR"
    default_detail = "An internal error occurred."


# The one table from domain errors to the contract, read only by `from_domain` (which
# `translate` calls). It walks the raised class's MRO, so the most specific entry wins
# (ExpiredToken before AuthenticationRequired) and a new subclass answers as its parent
# until it gets a row of its own.
DOMAIN_ERRORS: dict[type[domain.DomainError], type[ApiError]] = {
    domain.DomainError: ValidationFailed,
    domain.InvalidInput: ValidationFailed,
    domain.NotFoundError: NotFound,
    domain.StateConflict: Conflict,
    domain.AlreadyExists: Conflict,
    domain.AccountExists: AccountExistsError,
    domain.IdentityInUse: IdentityInUseError,
    domain.InvalidOAuthState: OAuthStateInvalid,
    domain.InvalidOAuthCode: OAuthCodeInvalid,
    domain.OAuthFailed: OAuthProviderError,
    domain.NotPermitted: Forbidden,
    domain.EmailNotVerified: EmailNotVerified,
    domain.AuthenticationRequired: Unauthorized,
    domain.InvalidToken: Unauthorized,
    domain.ExpiredToken: TokenExpired,
    domain.BadCredentials: InvalidCredentials,
    domain.TooManyAttempts: RateLimited,
    domain.TenantUnavailable: ServiceUnavailable,
}


def from_domain(exc: domain.DomainError) -> ApiError:
    """The contract error for a domain error: code, status, message, details and headers."""
    api_class = next(DOMAIN_ERRORS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_ERRORS)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, domain.TooManyAttempts) else {}
    return api_class(exc.message, details=exc.details, headers=headers)


def translate(exc: Exception) -> ApiError | None:
    """The contract error for a domain or framework exception, or None if it is not one we know."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, domain.DomainError):
        return from_domain(exc)
    return _from_framework(exc)


def _from_framework(exc: Exception) -> ApiError | None:
    """DRF's and Django's own exceptions, in the contract's words."""
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
        wait = int(getattr(exc, "wait", None) or 1)  # set by DRF's throttles, unknown to the stubs
        return RateLimited(headers={"Retry-After": str(wait)})
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        # Redis (cache, rate-limit counters) restarting: the request changed nothing it
        # could not finish, so the client is told to try again, not that we broke.
        return ServiceUnavailable(
            "A service this app needs is briefly unavailable; try again later.", headers={"Retry-After": "1"}
        )
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


def response_headers(error: ApiError) -> dict[str, str]:
    """The headers an error answer carries: its own (Retry-After...) and, on a 401, the challenge."""
    headers = dict(error.headers)
    if error.status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return headers


def api_exception_handler(exc: Exception, _context: dict[str, Any]) -> HttpResponse | None:
    """DRF's EXCEPTION_HANDLER: every exception `translate` knows, as an envelope (rendered
    here, as `ok()` renders successes)."""
    error = translate(exc)
    if error is None:
        return None  # unknown: ApiErrorMiddleware logs it and answers INTERNAL_ERROR
    details = error.details
    if isinstance(details, dict) and "non_field_errors" in details:
        details["_body"] = details.pop("non_field_errors")
    body = error_body(error.code, error.message, details)
    return json_response(body, error.status_code, response_headers(error))
