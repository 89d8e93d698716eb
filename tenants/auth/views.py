"""HTTP endpoints of tenant auth, under the tenant's base path: thin over services."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from sogoms_site.api.envelope import ok
from sogoms_site.clientip import client_ip
from tenants.auth import passwordreset, services
from tenants.auth.selectors import user_public
from tenants.auth.serializers import (
    LoginInput,
    PasswordForgotInput,
    PasswordResetInput,
    RefreshInput,
    RegisterInput,
)
from tenants.requests import TenantRequest, caller


def _valid(serializer_class: type[Serializer], request: TenantRequest) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PublicAuthView(APIView):
    """Endpoints reached without a token (a stray Authorization header is ignored)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class RegisterView(PublicAuthView):
    def post(self, request: TenantRequest) -> Response:
        data = _valid(RegisterInput, request)
        session = services.user_register(tenant=request.tenant, **data)
        return ok(session.as_data(), "Account created", status=201)


class LoginView(PublicAuthView):
    def post(self, request: TenantRequest) -> Response:
        data = _valid(LoginInput, request)
        session = services.user_login(tenant=request.tenant, client_ip=client_ip(request), **data)
        extras = services.login_extras(tenant=request.tenant, user=session.user)
        return ok({**session.as_data(), **extras}, "Logged in")


class RefreshView(PublicAuthView):
    def post(self, request: TenantRequest) -> Response:
        data = _valid(RefreshInput, request)
        session = services.session_refresh(tenant=request.tenant, **data)
        return ok(session.as_data(), "Token refreshed")


class MeView(APIView):
    def get(self, request: TenantRequest) -> Response:
        user = services.user_current(tenant=request.tenant, principal=caller(request))
        return ok({"user": user_public(user)})


class LogoutView(APIView):
    def post(self, request: TenantRequest) -> Response:
        services.session_logout(tenant=request.tenant, principal=caller(request))
        return ok(None, "Logged out")


class PasswordForgotView(PublicAuthView):
    def post(self, request: TenantRequest) -> Response:
        data = _valid(PasswordForgotInput, request)
        passwordreset.password_forgot(tenant=request.tenant, client_ip=client_ip(request), **data)
        return ok(None, "If an account exists for this e-mail, a reset link is on its way.", status=202)


class PasswordResetView(PublicAuthView):
    def post(self, request: TenantRequest) -> Response:
        data = _valid(PasswordResetInput, request)
        passwordreset.password_reset(tenant=request.tenant, **data)
        return ok(None, "Password changed; sign in again on every device.")
