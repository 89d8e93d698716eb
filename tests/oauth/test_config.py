"""`auth.oauth` in the routes YAML: what is accepted, and each mistake named by its key."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from tenants import registry as registry_module
from tenants.config import load_config
from tests.realtime.servers import BASE_DIR


def _load(tmp_path: Path, block: str):
    config = tmp_path / "config"
    shutil.copytree(BASE_DIR / "tests" / "config", config)
    routes = config / "routes" / "alpha.yaml"
    routes.write_text(routes.read_text().replace("auth:\n", "auth:\n" + block, 1))
    (tmp_path / "secret").write_text("s3cret\n")
    return load_config(dataclasses.replace(registry_module.load_options(), config_dir=config))


def _problems(tmp_path: Path, block: str) -> list[str]:
    result = _load(tmp_path, block)
    assert not result.ok
    return [str(problem) for problem in result.problems]


def test_providers_of_each_kind_load_with_their_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("SPOTIFY_SECRET", "from-env")
    result = _load(
        tmp_path,
        "  oauth:\n"
        "    redirect_uris: [https://app.example.com/done]\n"
        "    providers:\n"
        f"      discord: {{client_id: d, client_secret_file: {tmp_path / 'secret'}}}\n"
        "      spotify: {client_id: s, client_secret: 'env:SPOTIFY_SECRET', scopes: [user-read-email, x]}\n"
        "      corp:\n"
        "        issuer: https://login.example.com/\n"
        "        client_id: c\n"
        f"        client_secret_file: {tmp_path / 'secret'}\n"
        "        token_url: https://login.example.com/token\n",
    )

    assert result.ok, result.problems
    oauth = result.registry.get("alpha").oauth
    assert oauth.redirect_uris == ("https://app.example.com/done",)
    discord, spotify, corp = (oauth.providers[name] for name in ("discord", "spotify", "corp"))
    assert (discord.kind, discord.client_secret, discord.scopes) == ("discord", "s3cret", ())
    assert (spotify.kind, spotify.client_secret, spotify.scopes) == (
        "spotify",
        "from-env",
        ("user-read-email", "x"),
    )
    assert (corp.kind, corp.issuer, corp.token_url) == (
        "oidc",
        "https://login.example.com",
        "https://login.example.com/token",
    )
    assert "s3cret" not in repr(discord)
    assert result.registry.get("beta").oauth is None


DISCORD = "discord: {client_id: x, client_secret_file: s}"


@pytest.mark.parametrize(
    ("redirects", "provider", "expected"),
    [
        ("[https://a.example/]", "gh: {client_id: x, client_secret_file: s}", "provider 'gh': set issuer"),
        ("[https://a.example/]", "discord: {client_id: x, client_secret: literal}", "never sit in YAML"),
        ("[https://a.example/]", "discord: {client_id: x}", "set client_secret_file or client_secret"),
        ("[javascript:alert(1)]", DISCORD, "redirect_uris[0]: 'javascript:alert(1)' is not an absolute"),
        ("[https://a.example/#x]", DISCORD, "must not carry a user name, password or #fragment"),
        ("[https://a.example/, https://a.example/]", DISCORD, "a redirect URI is listed twice"),
        ("[]", DISCORD, "auth.oauth.redirect_uris"),
        ("[https://a.example/]", "Bad Name: {client_id: x, client_secret_file: s}", "not a provider name"),
        (
            "[https://a.example/]",
            "discord: {client_id: x, client_secret_file: s, scope: [a]}",
            "auth.oauth.providers.discord.scope: unknown key (did you mean 'scopes'?)",
        ),
        (
            "[https://a.example/]",
            "corp: {kind: oidc, client_id: x, client_secret_file: s}",
            "needs its issuer",
        ),
        (
            "[https://a.example/]",
            "discord: {client_id: x, client_secret_file: nowhere/secret}",
            "auth.oauth.providers.discord.client_secret_file: secret file",
        ),
        (
            "[https://a.example/]",
            "corp: {issuer: 'ftp://x', client_id: x, client_secret_file: s}",
            "'ftp://x' is not an absolute http:// or https:// URL",
        ),
    ],
)
def test_mistakes_are_named_by_their_key(tmp_path, redirects, provider, expected):
    block = f"  oauth:\n    redirect_uris: {redirects}\n    providers:\n      {provider}\n"

    problems = _problems(tmp_path, block)

    assert any(expected in problem for problem in problems), problems
