"""HTTP endpoints of the provider sign-in, under the tenant's base path: thin over services."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseRedirect
from rest_framework import serializers
from rest_framework.views import APIView

from sogoms_site.api.envelope import ok
from sogoms_site.api.errors import translate
from sogoms_site.api.inputs import StrictInput
from sogoms_site.clientip import client_ip
from tenants.auth.oauth import services
from tenants.auth.services import login_extras
from tenants.auth.views import PublicAuthView
from tenants.requests import TenantRequest, caller


class ExchangeInput(StrictInput):
    code = serializers.CharField(max_length=200)


class LinkInput(StrictInput):
    redirect_uri = serializers.CharField(max_length=2000)


def _valid(serializer_class: type[serializers.Serializer], request: TenantRequest) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _user_agent(request: TenantRequest) -> str:
    return str(request.META.get("HTTP_USER_AGENT", ""))


def _callback_url(request: TenantRequest, provider: str) -> str:
    # From the request's scheme and host, as the proxy settings (SECURE_PROXY_SSL_HEADER) say.
    return request.build_absolute_uri(f"{request.tenant.base_path}/auth/oauth/{provider}/callback")


def _query(request: TenantRequest, name: str) -> str:
    value = request.query_params.get(name, "")
    return value if isinstance(value, str) else ""


class OAuthStartView(PublicAuthView):
    """Send the browser to the provider; it comes back to the callback."""

    def get(self, request: TenantRequest, provider: str) -> HttpResponseRedirect:
        url = services.oauth_start(
            tenant=request.tenant,
            provider=provider,
            redirect_uri=_query(request, "redirect_uri"),
            callback_url=_callback_url(request, provider),
            client_ip=client_ip(request),
        )
        return HttpResponseRedirect(url)


class OAuthCallbackView(PublicAuthView):
    """The provider's redirect: back to the client's page with a one-time code or an error."""

    def get(self, request: TenantRequest, provider: str) -> HttpResponseRedirect:
        outcome = services.oauth_callback(
            tenant=request.tenant, provider=provider, params=request.query_params.dict()
        )
        error = translate(outcome.error) if outcome.error is not None else None
        return HttpResponseRedirect(services.outcome_url(outcome, error.code if error else ""))


class OAuthExchangeView(PublicAuthView):
    def post(self, request: TenantRequest) -> HttpResponse:
        data = _valid(ExchangeInput, request)
        session = services.oauth_exchange(
            tenant=request.tenant,
            code=data["code"],
            client_ip=client_ip(request),
            user_agent=_user_agent(request),
        )
        extras = login_extras(tenant=request.tenant, user=session.user)
        return ok({**session.as_data(), **extras}, "Logged in")


class OAuthLinkView(APIView):
    """Start linking a provider account to the caller: the URL to send the browser to."""

    def post(self, request: TenantRequest, provider: str) -> HttpResponse:
        data = _valid(LinkInput, request)
        url = services.oauth_start(
            tenant=request.tenant,
            provider=provider,
            redirect_uri=data["redirect_uri"],
            callback_url=_callback_url(request, provider),
            link_user_id=caller(request).id,
        )
        return ok({"authorize_url": url})


class IdentitiesView(APIView):
    def get(self, request: TenantRequest) -> HttpResponse:
        found = services.identities_list(tenant=request.tenant, principal=caller(request))
        return ok(
            [
                {
                    "provider": identity.provider,
                    "email": identity.email,
                    "email_verified": identity.email_verified,
                    "created_at": identity.created_at,
                    "last_used_at": identity.last_used_at,
                }
                for identity in found
            ]
        )


class IdentityView(APIView):
    def delete(self, request: TenantRequest, provider: str) -> HttpResponse:
        services.identity_unlink(tenant=request.tenant, principal=caller(request), provider=provider)
        return ok(None, "Provider unlinked")
