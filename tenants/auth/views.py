"""HTTP endpoints of tenant auth, under the tenant's base path: thin over services."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework.permissions import AllowAny
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from sogoms_site.api.envelope import ok
from sogoms_site.clientip import client_ip
from tenants.auth import passwordreset, ratelimit, services, verification
from tenants.auth.selectors import session_public, user_public
from tenants.auth.serializers import (
    LoginInput,
    LogoutInput,
    PasswordForgotInput,
    PasswordResetInput,
    ProfileInput,
    RefreshInput,
    RegisterInput,
    VerifyInput,
    VerifyResendInput,
)
from tenants.requests import TenantRequest, caller


def _valid(serializer_class: type[Serializer], request: TenantRequest) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _count_per_ip(request: TenantRequest, scope: str) -> None:
    """Count one attempt from the client's IP; TooManyAttempts (429) past the tenant's rate."""
    rate = request.tenant.login_rate_per_ip
    ratelimit.refuse_over(rate, ratelimit.hit(scope, f"{request.tenant.app}|{client_ip(request)}", rate))


class PublicAuthView(APIView):
    """Endpoints reached without a token (a stray Authorization header is ignored)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class RegisterView(PublicAuthView):
    def post(self, request: TenantRequest) -> HttpResponse:
        _count_per_ip(request, "register-ip")
        data = _valid(RegisterInput, request)
        registration = services.user_register(
            tenant=request.tenant, ip=client_ip(request), user_agent=_user_agent(request), **data
        )
        if registration.session is None:
            return ok(
                registration.as_data(), "Account created; verify your e-mail address to sign in", status=201
            )
        return ok(registration.as_data(), "Account created", status=201)


class LoginView(PublicAuthView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(LoginInput, request)
        session = services.user_login(
            tenant=request.tenant, client_ip=client_ip(request), user_agent=_user_agent(request), **data
        )
        extras = services.login_extras(tenant=request.tenant, user=session.user)
        return ok({**session.as_data(), **extras}, "Logged in")


class RefreshView(PublicAuthView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(RefreshInput, request)
        session = services.session_refresh(tenant=request.tenant, **data)
        return ok(session.as_data(), "Token refreshed")


class MeView(APIView):
    def get(self, request: TenantRequest) -> HttpResponse:
        user = services.user_current(tenant=request.tenant, principal=caller(request))
        return ok({"user": user_public(user)})

    def patch(self, request: TenantRequest) -> HttpResponse:
        data = _valid(ProfileInput, request)
        user = services.user_update_profile(tenant=request.tenant, principal=caller(request), **data)
        return ok({"user": user_public(user)}, "Profile updated")


class LogoutView(APIView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(LogoutInput, request)
        principal = caller(request)
        services.session_logout(tenant=request.tenant, principal=principal, everywhere=data["all"])
        everywhere = data["all"] or principal.is_legacy  # a Go-era token has no session alone
        return ok(None, "Logged out everywhere" if everywhere else "Logged out")


class PasswordForgotView(PublicAuthView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(PasswordForgotInput, request)
        passwordreset.password_forgot(tenant=request.tenant, client_ip=client_ip(request), **data)
        return ok(None, "If an account exists for this e-mail, a reset link is on its way.", status=202)


class PasswordResetView(PublicAuthView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(PasswordResetInput, request)
        passwordreset.password_reset(tenant=request.tenant, **data)
        return ok(None, "Password changed; sign in again on every device.")


class VerifyView(PublicAuthView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(VerifyInput, request)
        user = verification.email_verify(tenant=request.tenant, **data)
        return ok({"user": user_public(user)}, "E-mail address verified")


class VerifyResendView(PublicAuthView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(VerifyResendInput, request)
        verification.email_verification_resend(tenant=request.tenant, client_ip=client_ip(request), **data)
        return ok(None, "If this address needs verifying, a new code is on its way.")


def _user_agent(request: TenantRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))


class SessionsView(APIView):
    def get(self, request: TenantRequest) -> HttpResponse:
        principal = caller(request)
        found = services.user_sessions(tenant=request.tenant, principal=principal)
        return ok([session_public(s, current_id=principal.session_id) for s in found])


class SessionView(APIView):
    def delete(self, request: TenantRequest, session_id: str) -> HttpResponse:
        services.session_revoke(tenant=request.tenant, principal=caller(request), session_id=session_id)
        return ok(None, "Session ended")
