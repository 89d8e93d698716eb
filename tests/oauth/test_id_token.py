"""The id_token checks on their own: signature by the issuer's JWKS, alg, iss, aud, exp, nonce.

The provider's documents are served from memory here; the real provider's round trip is in
test_oidc.py."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from sogoms_site.errors import OAuthFailed
from tenants.auth.oauth import oidc
from tenants.config import OAuthProvider

ISSUER = "https://id.example.com"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})


@pytest.fixture
def provider(monkeypatch):
    documents = {
        f"{ISSUER}/.well-known/openid-configuration": {
            "issuer": ISSUER,
            "jwks_uri": f"{ISSUER}/jwks",
            "authorization_endpoint": f"{ISSUER}/auth",
            "token_endpoint": f"{ISSUER}/token",
            "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        },
        f"{ISSUER}/jwks": {"keys": [KEY.as_dict(private=False)]},
    }
    fetched: list[str] = []

    def get_json(_session, url, _what, **_kw):
        fetched.append(url)
        return documents[url]

    monkeypatch.setattr(oidc, "get_json", get_json)
    provider = oidc.OpenIDProvider(OAuthProvider("corp", "oidc", "client-1", "secret", issuer=ISSUER))
    provider.documents, provider.fetched = documents, fetched  # what the tests change and count
    return provider


def token(key=KEY, alg: str = "RS256", kid: str = "k1", **overrides) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "client-1", "sub": "u1", "iat": now, "exp": now + 300, "nonce": "n1"}
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return {"access_token": "at", "id_token": jwt.encode({"alg": alg, "kid": kid}, claims, key)}


def test_a_good_id_token_gives_its_claims(provider):
    claims = provider._id_token_claims(None, token(email="a@example.com"), "n1")

    assert (claims["sub"], claims["email"]) == ("u1", "a@example.com")


@pytest.mark.parametrize(
    ("sent", "nonce"),
    [
        (token(key=OTHER_KEY), "n1"),  # signed by someone else
        (token(iss="https://evil.example"), "n1"),
        (token(aud="another-client"), "n1"),
        (token(exp=int(time.time()) - 3600), "n1"),
        (token(nonce=None), "n1"),
        (token(), "another-nonce"),
        (token(key=OctKey.import_key("secret" * 6), alg="HS256"), "n1"),  # HMAC with the client secret
        ({"access_token": "at"}, "n1"),  # no id_token at all
        ({"access_token": "at", "id_token": "not.a.jwt"}, "n1"),
    ],
    ids=["signature", "iss", "aud", "exp", "no-nonce", "nonce", "hmac", "missing", "garbage"],
)
def test_a_bad_id_token_fails_the_sign_in(provider, sent, nonce):
    with pytest.raises(OAuthFailed):
        provider._id_token_claims(None, sent, nonce)


def test_a_discovery_document_naming_another_issuer_is_refused(monkeypatch):
    document = {"issuer": "https://evil.example", "jwks_uri": "https://evil.example/jwks"}
    monkeypatch.setattr(oidc, "get_json", lambda *_args, **_kw: document)
    provider = oidc.OpenIDProvider(OAuthProvider("corp", "oidc", "c", "s", issuer="https://other.example"))

    with pytest.raises(OAuthFailed, match="another issuer"):
        provider.metadata()


def jwks_fetches(provider) -> int:
    return provider.fetched.count(f"{ISSUER}/jwks")


def test_the_key_set_is_fetched_once_for_many_sign_ins(provider):
    for _ in range(3):
        provider._id_token_claims(None, token(), "n1")

    assert jwks_fetches(provider) == 1


def test_a_token_signed_by_a_rotated_key_fetches_the_key_set_again(provider):
    provider._id_token_claims(None, token(), "n1")  # k1 is kept
    rotated = RSAKey.generate_key(2048, parameters={"kid": "k2", "use": "sig"})
    provider.documents[f"{ISSUER}/jwks"] = {"keys": [rotated.as_dict(private=False)]}

    claims = provider._id_token_claims(None, token(key=rotated, kid="k2"), "n1")

    assert claims["sub"] == "u1"
    assert jwks_fetches(provider) == 2


def test_a_bad_signature_by_a_known_key_id_does_not_fetch_the_key_set_again(provider):
    provider._id_token_claims(None, token(), "n1")

    for _ in range(2):
        with pytest.raises(OAuthFailed):
            provider._id_token_claims(None, token(key=OTHER_KEY), "n1")  # kid k1, another key

    assert jwks_fetches(provider) == 1
