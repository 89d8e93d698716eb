"""Authlib's requests session, sending every request through the SSRF guard (sogoms_site.net).

Discovery, JWKS, token and user-info requests all leave through `GuardedAdapter`: the target
is vetted and pinned, redirects are not followed, the answer is bounded. Private and loopback
providers are refused unless `SOGOMS_OAUTH_ALLOW_PRIVATE_NETWORK` is on.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]
from django.conf import settings
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from sogoms_site.errors import OAuthFailed
from sogoms_site.net import RequestFailed, TargetRefused, guarded_request

TIMEOUT_SECONDS = 10.0
# Every address, when the operator opened private networks on purpose.
_ANYWHERE = ("0.0.0.0/0", "::/0", "localhost")
# Headers requests adds that the guarded client must not forward as they are: it reads the
# body as sent (no gzip) and closes every connection.
_DROPPED = frozenset({"accept-encoding", "connection", "host"})


def allow_list() -> tuple[str, ...]:
    return _ANYWHERE if settings.SOGOMS_OAUTH_ALLOW_PRIVATE_NETWORK else ()


class GuardedAdapter(BaseAdapter):
    """A requests transport that is `sogoms_site.net.guarded_request`."""

    def send(  # requests' own signature
        self,
        request: requests.PreparedRequest,
        stream: bool = False,  # noqa: ARG002
        timeout: float | tuple[float | None, float | None] | None = None,  # noqa: ARG002  (ours applies)
        verify: bool | str = True,  # noqa: ARG002  (the guarded client always verifies)
        cert: str | tuple[str, str] | None = None,  # noqa: ARG002
        proxies: dict[str, str] | None = None,  # noqa: ARG002  (never through a proxy)
    ) -> requests.Response:
        raw = request.body
        body = raw.encode() if isinstance(raw, str) else raw
        if body is not None and not isinstance(body, bytes):
            raise OAuthFailed("A streamed request body cannot be sent to the provider.")
        headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in request.headers.items()
            if name.lower() not in _DROPPED
        }
        url = str(request.url)
        try:
            answer = guarded_request(
                str(request.method),
                url,
                headers=headers,
                body=body,
                timeout=TIMEOUT_SECONDS,
                allow=allow_list(),
            )
        except TargetRefused as exc:
            raise OAuthFailed(f"The provider's address is refused: {exc}") from None
        except RequestFailed as exc:
            raise OAuthFailed(f"The provider cannot be reached: {exc}") from None
        if answer.truncated:
            raise OAuthFailed("The provider's answer is too large.")
        response = requests.Response()
        response.status_code = answer.status
        response._content = answer.content
        response.headers = CaseInsensitiveDict()  # the Location of a 3xx is left out: never followed
        response.encoding = "utf-8"
        response.url = url
        response.reason = ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def oauth_session(*, client_id: str, client_secret: str, scope: str, redirect_uri: str) -> OAuth2Session:
    """An Authlib client (PKCE S256, client_secret_basic) whose requests go through the guard."""
    session = OAuth2Session(
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    adapter = GuardedAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def get_json(session: requests.Session, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
    """A JSON object from the provider, or OAuthFailed saying which answer was wrong."""
    response = session.get(url, **kwargs)
    if response.status_code != 200:
        raise OAuthFailed(f"The provider's {what} answered HTTP {response.status_code}.")
    try:
        data = response.json()
    except ValueError:
        raise OAuthFailed(f"The provider's {what} is not JSON.") from None
    if not isinstance(data, dict):
        raise OAuthFailed(f"The provider's {what} is not a JSON object.")
    return data
