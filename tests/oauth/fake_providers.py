"""Discord and Spotify as their APIs answer, on 127.0.0.1: authorize, token and user info.

One threaded HTTP server serves both under `/discord/...` and `/spotify/...`. It checks what
a real provider checks (client credentials, the redirect URI, PKCE S256, single-use codes)
and records each token request, so tests can see what SOGOMS sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "fake-client"
CLIENT_SECRET = "fake-secret"

# Where each kind answers, as the config's authorize_url/token_url/userinfo_url name them.
PATHS = {
    "discord": {
        "authorize": "/discord/oauth2/authorize",
        "token": "/discord/api/oauth2/token",
        "userinfo": "/discord/api/users/@me",
    },
    "spotify": {
        "authorize": "/spotify/authorize",
        "token": "/spotify/api/token",
        "userinfo": "/spotify/v1/me",
    },
}


@dataclass
class Grant:
    kind: str
    redirect_uri: str
    challenge: str
    method: str
    profile: dict[str, Any]


@dataclass
class FakeProviders:
    base_url: str = ""
    # The user-info answer the next sign-in of each kind gets, in that provider's shape.
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)

    def url(self, kind: str, endpoint: str) -> str:
        return self.base_url + PATHS[kind][endpoint]


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _handler(state: FakeProviders) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _kind(self, endpoint: str) -> str | None:
            path = urlsplit(self.path).path
            return next((kind for kind, paths in PATHS.items() if paths[endpoint] == path), None)

        def do_GET(self) -> None:
            query = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
            kind = self._kind("authorize")
            if kind is not None:
                state.authorize_requests.append(query)
                if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                    return self._json(400, {"error": "invalid_request"})
                code = secrets.token_urlsafe(16)
                state.grants[code] = Grant(
                    kind,
                    query.get("redirect_uri", ""),
                    query.get("code_challenge", ""),
                    query.get("code_challenge_method", ""),
                    dict(state.profiles[kind]),
                )
                back = {"code": code, "state": query.get("state", "")}
                self.send_response(302)
                self.send_header("Location", f"{query.get('redirect_uri')}?{urlencode(back)}")
                self.end_headers()
                return None
            kind = self._kind("userinfo")
            if kind is not None:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                issued = state.tokens.get(token)
                if issued is None or issued["kind"] != kind:
                    return self._json(401, {"message": "401: Unauthorized"})
                return self._json(200, issued["profile"])
            return self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            kind = self._kind("token")
            if kind is None:
                return self._json(404, {"error": "not found"})
            length = int(self.headers.get("Content-Length", "0"))
            form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
            return self._json(*_token(state, kind, form, self.headers.get("Authorization", "")))

    return Handler


def _token(state: FakeProviders, kind: str, form: dict[str, str], authorization: str) -> tuple[int, dict]:
    """The token endpoint's answer: the checks of a real provider, PKCE S256 included."""
    state.token_requests.append({**form, "authorization": authorization})
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    if authorization != f"Basic {expected}":
        return 401, {"error": "invalid_client"}
    grant = state.grants.pop(form.get("code", ""), None)
    if (
        grant is None
        or grant.kind != kind
        or form.get("grant_type") != "authorization_code"
        or form.get("redirect_uri") != grant.redirect_uri
        or grant.method != "S256"
        or _s256(form.get("code_verifier", "")) != grant.challenge
    ):
        return 400, {"error": "invalid_grant"}
    access = secrets.token_urlsafe(16)
    state.tokens[access] = {"kind": kind, "profile": grant.profile}
    return 200, {"access_token": access, "token_type": "Bearer", "expires_in": 3600, "scope": "x"}


@contextmanager
def fake_providers():
    """The fake Discord and Spotify on a free loopback port, for the block."""
    state = FakeProviders()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
