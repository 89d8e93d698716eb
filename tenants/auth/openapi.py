"""The OpenAPI description of `<base>/auth/*`: register, login, refresh, me, logout, sessions,
password reset, e-mail verification, sign-in with providers and linked identities.

Registered by TenantsConfig.ready() as a provider of the tenant's OpenAPI document
(sogoms_site.api.openapi). The password forgot/reset paths are described only for a
tenant that can send the `password_reset` e-mail, the verify paths only for one that
verifies addresses and can send the `verify_email` e-mail; otherwise they answer 404
NOT_FOUND.
"""

from __future__ import annotations

from typing import Any

from sogoms_site.api.openapi import (
    OpenApiPart,
    envelope,
    json_body,
    no_data,
    page_meta_schema,
    path_parameter,
    query_parameter,
    ref,
    responses,
)
from sogoms_site.api.paging import MAX_PER_PAGE
from tenants import hooks
from tenants.auth.passwordreset import TEMPLATE as PASSWORD_RESET_TEMPLATE
from tenants.auth.verification import verification_mailer
from tenants.config import Tenant

# Served for every tenant, described only for one that can send the reset e-mail.
PASSWORD_RESET_PATHS = ("/auth/password/forgot", "/auth/password/reset")
# Served for every tenant, described only for one that sends verification codes.
# Likewise the provider sign-in paths, described only for a tenant with `auth.oauth` providers.
VERIFY_PATHS = ("/auth/verify", "/auth/verify/resend")


def auth_paths(tenant: Tenant) -> OpenApiPart:
    """The provider: the auth paths of `tenant`, with the User and Session schemas."""
    paths = _session_paths(tenant)
    if tenant.oauth and tenant.oauth.providers:
        paths.update(_oauth_paths(tenant))
    if hooks.account_mailer(tenant, PASSWORD_RESET_TEMPLATE) is not None:
        paths.update(_password_reset_paths())
    paths.update(_users_paths())
    if verification_mailer(tenant) is not None:
        paths.update(_verify_paths())
    return OpenApiPart(
        paths=paths,
        schemas=_schemas(tenant),
        tags=[
            {"name": "auth", "description": "Accounts and sessions: JWT access and refresh tokens."},
            {"name": "users", "description": "Role admin manages the users."},
        ],
    )


def _session_paths(tenant: Tenant) -> dict[str, Any]:
    credentials = {
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": {"type": "string", "minLength": 1, "maxLength": 254},
            "password": {"type": "string", "minLength": 1, "maxLength": 128},
        },
        "additionalProperties": False,
    }
    register = {
        "type": "object",
        "required": ["email", "password", "name"],
        "properties": {
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "password": {"type": "string", "minLength": 8, "maxLength": 128},
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
        },
        "additionalProperties": False,
    }
    logout = {
        "type": "object",
        "properties": {"all": {"type": "boolean", "default": False}},
        "additionalProperties": False,
    }
    refresh = {
        "type": "object",
        "required": ["refresh_token"],
        "properties": {"refresh_token": {"type": "string", "minLength": 1, "maxLength": 4096}},
        "additionalProperties": False,
    }
    profile = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "current_password": {
                "type": "string",
                "maxLength": 128,
                "description": "needed to change the e-mail address",
            },
        },
        "minProperties": 1,
        "additionalProperties": False,
    }
    user_data = envelope({"type": "object", "required": ["user"], "properties": {"user": ref("User")}})
    required = tenant.verify_email == "required"
    login_errors = ("400", "401", "413", "415", "429", "500")
    login_responses = responses("200", envelope(ref("Session")), "a session", login_errors)
    if required:
        login_responses["403"] = {
            "description": "EMAIL_NOT_VERIFIED: the password is right, the e-mail address not yet verified",
            "content": {"application/json": {"schema": ref("Error")}},
        }
    return {
        "/auth/register": {
            "post": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_register",
                "summary": "Create an account"
                + (" (no session until the e-mail address is verified)" if required else ""),
                "requestBody": json_body(register),
                "responses": responses(
                    "201",
                    user_data if required else envelope(ref("Session")),
                    "the account, to verify before signing in" if required else "a session",
                    ("400", "409", "413", "415", "429", "500"),
                ),
            }
        },
        "/auth/login": {
            "post": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_login",
                "summary": "Log in"
                + (f" (with {', '.join(tenant.login_includes)})" if tenant.login_includes else ""),
                "requestBody": json_body(credentials),
                "responses": login_responses,
            }
        },
        "/auth/refresh": {
            "post": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_refresh",
                "summary": "Rotate the refresh token (the session goes on)",
                "requestBody": json_body(refresh),
                "responses": responses(
                    "200", envelope(ref("Session")), "a new session", ("400", "401", "413", "415", "500")
                ),
            }
        },
        "/auth/me": {
            "get": {
                "tags": ["auth"],
                "operationId": "auth_me",
                "summary": "The current user",
                "responses": responses("200", user_data, "the user", ("401", "500")),
            },
            "patch": {
                "tags": ["auth"],
                "operationId": "auth_me_update",
                "summary": "Change the name, or the e-mail address (with the current password; it is "
                "then unverified and a new code is sent); sessions go on",
                "requestBody": json_body(profile),
                "responses": responses(
                    "200", user_data, "the user", ("400", "401", "409", "413", "415", "429", "500")
                ),
            },
        },
        "/auth/logout": {
            "post": {
                "tags": ["auth"],
                "operationId": "auth_logout",
                "summary": "End this session, or with `all` every session of the caller",
                "requestBody": {**json_body(logout), "required": False},
                "responses": responses("200", no_data(), "logged out", ("400", "401", "413", "415", "500")),
            }
        },
        "/auth/sessions": {
            "get": {
                "tags": ["auth"],
                "operationId": "auth_sessions",
                "summary": "The caller's sessions that are on, the most recently used first",
                "responses": responses(
                    "200",
                    envelope({"type": "array", "items": ref("SessionInfo")}),
                    "the sessions",
                    ("401", "500"),
                ),
            }
        },
        "/auth/sessions/{session_id}": {
            "delete": {
                "tags": ["auth"],
                "operationId": "auth_session_end",
                "summary": "End one of the caller's sessions (its tokens are refused, its sockets closed)",
                "parameters": [
                    {
                        "name": "session_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                    }
                ],
                "responses": responses("200", no_data(), "the session ended", ("401", "404", "500")),
            }
        },
    }


def _oauth_paths(tenant: Tenant) -> dict[str, Any]:
    """For a tenant with providers; one it does not configure answers 404 NOT_FOUND."""
    names = sorted(tenant.oauth.providers) if tenant.oauth else []
    provider = path_parameter(
        "provider",
        {"type": "string", **({"enum": names} if names else {})},
        "a provider of `auth.oauth.providers`",
    )
    redirect_uri = {"type": "string", "maxLength": 2000}
    failed = {
        "description": "OAUTH_FAILED: the provider could not be reached, or refused, or answered wrongly",
        "content": {"application/json": {"schema": ref("Error")}},
    }
    identity = {
        "type": "object",
        "required": ["provider", "email", "email_verified", "created_at", "last_used_at"],
        "properties": {
            "provider": {"type": "string"},
            "email": {"type": "string", "description": "as the provider said"},
            "email_verified": {"type": "boolean", "description": "the provider vouched for the e-mail"},
            "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": {"type": "string", "format": "date-time"},
        },
    }
    exchange = {
        "type": "object",
        "required": ["code"],
        "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 200}},
        "additionalProperties": False,
    }
    link = {
        "type": "object",
        "required": ["redirect_uri"],
        "properties": {"redirect_uri": redirect_uri},
        "additionalProperties": False,
    }
    authorize = {
        "type": "object",
        "required": ["authorize_url"],
        "properties": {"authorize_url": {"type": "string"}},
    }
    return {
        "/auth/oauth/{provider}/start": {
            "get": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_oauth_start",
                "summary": "Sign in with a provider: 302 to its authorization page (PKCE, state, nonce)",
                "parameters": [
                    provider,
                    query_parameter(
                        "redirect_uri",
                        redirect_uri,
                        "the client page to return to (auth.oauth.redirect_uris)",
                        required=True,
                    ),
                ],
                "responses": {
                    "302": {"description": "to the provider; it comes back to the callback"},
                    **_error_refs("400", "404", "500"),
                    "502": failed,
                },
            }
        },
        "/auth/oauth/{provider}/callback": {
            "get": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_oauth_callback",
                "summary": "The provider's redirect: 302 to the client page with `code`, `linked` or `error`",
                "parameters": [
                    provider,
                    query_parameter("state", {"type": "string"}, required=True),
                    query_parameter("code", {"type": "string"}),
                    query_parameter("error", {"type": "string"}),
                ],
                "responses": {
                    "302": {
                        "description": "to the client page: `?code=` (one-time, 60 s), `?linked=<provider>`, "
                        "or `?error=<code>&error_description=` (ACCOUNT_EXISTS, IDENTITY_IN_USE, "
                        "OAUTH_FAILED, FORBIDDEN)"
                    },
                    **_error_refs("400", "404", "500"),
                },
            }
        },
        "/auth/oauth/exchange": {
            "post": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_oauth_exchange",
                "summary": "Trade the one-time code for a session (the login answer)",
                "requestBody": json_body(exchange),
                "responses": responses(
                    "200", envelope(ref("Session")), "a session", ("400", "403", "413", "415", "429", "500")
                ),
            }
        },
        "/auth/oauth/{provider}/link": {
            "post": {
                "tags": ["auth"],
                "operationId": "auth_oauth_link",
                "summary": "Start linking a provider account to the caller: the URL to send the browser to",
                "parameters": [provider],
                "requestBody": json_body(link),
                "responses": {
                    **responses(
                        "200",
                        envelope(authorize),
                        "the authorization URL",
                        ("400", "401", "404", "413", "415", "500"),
                    ),
                    "502": failed,
                },
            }
        },
        "/auth/me/identities": {
            "get": {
                "tags": ["auth"],
                "operationId": "auth_identities",
                "summary": "The caller's linked provider accounts",
                "responses": responses(
                    "200", envelope({"type": "array", "items": identity}), "the identities", ("401", "500")
                ),
            }
        },
        "/auth/me/identities/{provider}": {
            "delete": {
                "tags": ["auth"],
                "operationId": "auth_identity_unlink",
                "summary": "Unlink a provider account of the caller (409 CONFLICT: the last way to sign in)",
                "parameters": [path_parameter("provider", {"type": "string"})],
                "responses": responses("200", no_data(), "unlinked", ("401", "404", "409", "500")),
            }
        },
    }


def _error_refs(*codes: str) -> dict[str, Any]:
    """The contract's error responses alone (for an operation whose success is a redirect)."""
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in codes}


def _password_reset_paths() -> dict[str, Any]:
    forgot = {
        "type": "object",
        "required": ["email"],
        "properties": {"email": {"type": "string", "format": "email", "maxLength": 254}},
        "additionalProperties": False,
    }
    reset = {
        "type": "object",
        "required": ["token", "password"],
        "properties": {
            "token": {"type": "string", "minLength": 1, "maxLength": 200},
            "password": {"type": "string", "minLength": 8, "maxLength": 128},
        },
        "additionalProperties": False,
    }
    forgot_path, reset_path = PASSWORD_RESET_PATHS
    return {
        forgot_path: {
            "post": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_password_forgot",
                "summary": "E-mail a single-use reset token (the same answer for unknown addresses)",
                "requestBody": json_body(forgot),
                "responses": responses("202", no_data(), "accepted", ("400", "413", "415", "429", "500")),
            }
        },
        reset_path: {
            "post": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_password_reset",
                "summary": "Set a new password with a reset token; every session of the user ends",
                "requestBody": json_body(reset),
                "responses": responses("200", no_data(), "password changed", ("400", "413", "415", "500")),
            }
        },
    }


def _users_paths() -> dict[str, Any]:
    """`/_users` for role admin (tenants.auth.users_admin)."""
    errors = ("400", "401", "403", "500")
    managed = {"allOf": [ref("User"), {"type": "object", "properties": {"is_active": {"type": "boolean"}}}]}
    listing = [
        query_parameter("page", {"type": "integer", "minimum": 1}),
        query_parameter("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}),
        query_parameter("q", {"type": "string"}, "part of the e-mail or the name"),
        query_parameter("role", {"type": "string"}),
        query_parameter("is_active", {"type": "boolean"}),
    ]
    change = {
        "type": "object",
        "properties": {"role": ref("Role"), "is_active": {"type": "boolean"}},
        "additionalProperties": False,
    }
    one = path_parameter("user_id", {"type": "integer", "minimum": 1})
    return {
        "/_users": {
            "get": {
                "tags": ["users"],
                "operationId": "users_list",
                "summary": "The tenant's users (role admin)",
                "parameters": listing,
                "responses": responses(
                    "200",
                    envelope({"type": "array", "items": managed}, page_meta_schema()),
                    "a page of users",
                    errors,
                ),
            }
        },
        "/_users/{user_id}": {
            "parameters": [one],
            "get": {
                "tags": ["users"],
                "operationId": "users_show",
                "summary": "One user (role admin)",
                "responses": responses("200", envelope(managed), "the user", (*errors, "404")),
            },
            "patch": {
                "tags": ["users"],
                "operationId": "users_change",
                "summary": "Change a user's role or active flag, at once (role admin; not on oneself)",
                "requestBody": json_body(change),
                "responses": responses("200", envelope(managed), "the changed user", (*errors, "404", "409")),
            },
        },
    }


def _verify_paths() -> dict[str, Any]:
    verify = {
        "type": "object",
        "required": ["token"],
        "properties": {"token": {"type": "string", "minLength": 1, "maxLength": 200}},
        "additionalProperties": False,
    }
    resend = {
        "type": "object",
        "required": ["email"],
        "properties": {"email": {"type": "string", "format": "email", "maxLength": 254}},
        "additionalProperties": False,
    }
    user_data = envelope({"type": "object", "required": ["user"], "properties": {"user": ref("User")}})
    verify_path, resend_path = VERIFY_PATHS
    return {
        verify_path: {
            "post": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_verify",
                "summary": "Verify the e-mail address with the code it received (single use)",
                "requestBody": json_body(verify),
                "responses": responses("200", user_data, "the verified user", ("400", "413", "415", "500")),
            }
        },
        resend_path: {
            "post": {
                "security": [],  # public
                "tags": ["auth"],
                "operationId": "auth_verify_resend",
                "summary": "E-mail a new verification code (the same answer for every address)",
                "requestBody": json_body(resend),
                "responses": responses("200", no_data(), "accepted", ("400", "413", "415", "429", "500")),
            }
        },
    }


def _schemas(tenant: Tenant) -> dict[str, Any]:
    user = {
        "type": "object",
        "required": ["id", "email", "name", "role", "created_at", "email_verified"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "role": ref("Role"),
            "created_at": {"type": "string", "format": "date-time"},
            "email_verified": {"type": "boolean"},
        },
    }
    session = {
        "type": "object",
        "required": ["token", "refresh_token", "token_type", "expires_in", "user"],
        "properties": {
            "token": {"type": "string"},
            "refresh_token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer"},
            "user": ref("User"),
        },
        "additionalProperties": True,
    }
    session_info = {
        "type": "object",
        "required": ["id", "created_at", "last_used_at", "ip", "user_agent", "current"],
        "properties": {
            "id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "last_used_at": {"type": "string", "format": "date-time"},
            "ip": {"type": "string"},
            "user_agent": {"type": "string"},
            "current": {"type": "boolean", "description": "the session of the token asking"},
        },
    }
    role = {"type": "string", "enum": list(tenant.roles), "description": "routes: roles"}
    return {"User": user, "Role": role, "Session": session, "SessionInfo": session_info}
