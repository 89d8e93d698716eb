"""Sign-in with providers, end to end: a real OpenID provider (Node's oidc-provider), fake
Discord and Spotify, and alpha configured to use them (a copy of the test config with an
`auth.oauth` block, loaded by the real loader).

The browser is played by `requests`: it follows the provider's redirects (with its cookies)
until they point back at SOGOMS, whose callback the Django test client then serves.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from rest_framework.test import APIClient

from tenants import registry as registry_module
from tenants.auth.oauth import oidc
from tenants.config import load_config
from tests.conftest import TenantApi
from tests.oauth.fake_providers import CLIENT_ID, CLIENT_SECRET, FakeProviders, fake_providers
from tests.realtime.servers import BASE_DIR, free_port, stop_process

SERVER_DIR = Path(__file__).parent / "oidc_server"
HOST = "alpha.test"
OIDC_CLIENT_ID = "sogoms-alpha"
OIDC_CLIENT_SECRET = "a-long-client-secret-for-the-test-provider"
CLIENT_PAGE = "https://app.example.com/oauth/done"  # the client's page, allow-listed
OTHER_CLIENT_PAGE = "http://localhost:5173/cb"


def callback_url(provider: str) -> str:
    return f"http://{HOST}/api/auth/oauth/{provider}/callback"


@dataclasses.dataclass
class OidcServer:
    issuer: str


def _node_or_fail() -> str:
    """Node and the installed package; missing: a failure in CI, a skip elsewhere."""
    node = shutil.which("node")
    problem = ""
    if node is None:
        problem = "node is not installed"
    elif not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        problem = f"oidc-provider is not installed (cd {SERVER_DIR} && npm ci)"
    if problem:
        if os.environ.get("SOGOMS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the OpenID provider of the tests cannot run: {problem}")
        pytest.skip(problem)
    assert node is not None
    return node


@pytest.fixture(scope="session")
def oidc_server(tmp_path_factory):
    node = _node_or_fail()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("oidc") / "server.log"
    redirect_uris = [callback_url("local"), callback_url("corp")]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [node, "server.js", str(port), OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, *redirect_uris],
            cwd=SERVER_DIR,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=1):  # noqa: S310
                    break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail(f"the OpenID provider did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        yield OidcServer(issuer)
    finally:
        stop_process(server)


@pytest.fixture(scope="session")
def fakes():
    with fake_providers() as state:
        yield state


def oauth_yaml(oidc_issuer: str, fake: FakeProviders, secrets: Path) -> str:
    (secrets / "oidc").write_text(OIDC_CLIENT_SECRET + "\n")
    (secrets / "fake").write_text(CLIENT_SECRET + "\n")

    def endpoints(kind: str) -> str:
        return (
            f"      authorize_url: {fake.url(kind, 'authorize')}\n"
            f"      token_url: {fake.url(kind, 'token')}\n"
            f"      userinfo_url: {fake.url(kind, 'userinfo')}\n"
        )

    return (
        "  oauth:\n"
        f"    redirect_uris: [{CLIENT_PAGE}, {OTHER_CLIENT_PAGE}]\n"
        "    providers:\n"
        "      local:\n"
        f"        issuer: {oidc_issuer}\n"
        f"        client_id: {OIDC_CLIENT_ID}\n"
        f"        client_secret_file: {secrets / 'oidc'}\n"
        "      discord:\n"
        f"        client_id: {CLIENT_ID}\n"
        f"        client_secret_file: {secrets / 'fake'}\n"
        + endpoints("discord").replace("      ", "        ")
        + "      spotify:\n"
        f"        client_id: {CLIENT_ID}\n"
        f"        client_secret_file: {secrets / 'fake'}\n"
        + endpoints("spotify").replace("      ", "        ")
    )


def install_config(tmp_path: Path, monkeypatch, block: str):
    """alpha with `block` added under `auth:`, loaded by the real loader and made current."""
    config = tmp_path / "config"
    shutil.copytree(BASE_DIR / "tests" / "config", config)
    routes = config / "routes" / "alpha.yaml"
    routes.write_text(routes.read_text().replace("auth:\n", "auth:\n" + block, 1))
    options = dataclasses.replace(registry_module.load_options(), config_dir=config)
    result = load_config(options)
    assert result.ok, result.problems
    monkeypatch.setitem(registry_module._state, "result", result)
    return result.registry


@pytest.fixture(autouse=True)
def _private_providers(settings):
    # The providers of these tests are on 127.0.0.1, which production refuses.
    settings.SOGOMS_OAUTH_ALLOW_PRIVATE_NETWORK = True
    oidc._discovered.clear()
    oidc._key_sets.clear()


@pytest.fixture
def oauth_alpha(tmp_path, monkeypatch, oidc_server, fakes):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    registry = install_config(tmp_path, monkeypatch, oauth_yaml(oidc_server.issuer, fakes, secrets))
    return registry.get("alpha")


@pytest.fixture
def api(oauth_alpha):
    return TenantApi(oauth_alpha, APIClient(), HOST)


# --- the browser ---------------------------------------------------------------------------


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def get(api: TenantApi, url: str, token: str | None = None):
    """GET a URL of SOGOMS (absolute or a path with its query) through the test client."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"HTTP_HOST": HOST}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return api.client.get(target, **headers)


def start(api: TenantApi, provider: str, redirect_uri: str = CLIENT_PAGE) -> str:
    """The provider's authorization URL that SOGOMS redirects the browser to."""
    response = get(api, f"/api/auth/oauth/{provider}/start?redirect_uri={redirect_uri}")
    assert response.status_code == 302, response.content
    return response["Location"]


def at_provider(
    authorize_url: str,
    *,
    account: str = "user-1",
    email: str = "",
    email_verified: bool = True,
    name: str = "",
) -> str:
    """Play the browser at the provider until it is sent back to SOGOMS: the callback URL.

    At the OpenID provider's interaction the account signs in with these claims."""
    browser = requests.Session()
    url = authorize_url
    for _ in range(10):
        if url.startswith(f"http://{HOST}/"):
            return url
        path = urlsplit(url).path
        if path.startswith("/interaction/"):
            claims = {"account": account, "email": email or f"{account}@example.com", "name": name or account}
            claims["email_verified"] = "true" if email_verified else "false"
            response = browser.get(f"{url}/finish", params=claims, allow_redirects=False, timeout=10)
        else:
            response = browser.get(url, allow_redirects=False, timeout=10)
        assert response.status_code in (302, 303), (response.status_code, response.text[:500])
        url = urljoin(url, response.headers["Location"])
    raise AssertionError(f"no way back to SOGOMS from {authorize_url}")


def sign_in(api: TenantApi, provider: str = "local", **claims) -> dict[str, str]:
    """Start, sign in at the provider, come back: the query the client's page receives."""
    back = get(api, at_provider(start(api, provider), **claims))
    assert back.status_code == 302, back.content
    assert back["Location"].startswith(CLIENT_PAGE + "?"), back["Location"]
    return query_of(back["Location"])


def exchange(api: TenantApi, code: str):
    return api.post("auth/oauth/exchange", {"code": code})
