"""Password hashing per tenant: Django's hashers, or bcrypt as the Go original stored it.

`auth.password_hash: django` (the default): new passwords get Django's default hasher. A
Go-era `$2a$`/`$2b$`/`$2y$` hash verifies with bcrypt and is reported as needing a rehash,
so the first successful login moves it to Django's hasher.

`auth.password_hash: bcrypt`: new passwords are stored as raw `$2y$<cost>$...` hashes,
which the Go system reads too, so both can share a users table while an app moves over. A
stored bcrypt hash is kept byte for byte on login, whatever its cost (the Go side must go on
reading it); any other hash (from an earlier django mode) becomes bcrypt at the next login.
bcrypt reads only the first 72 bytes of a password: a longer new password is refused
rather than silently cut.
"""

from __future__ import annotations

from functools import cache

import bcrypt
from django.contrib.auth.hashers import check_password, make_password

from sogoms_site.errors import InvalidInput
from tenants.config import Tenant

GO_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
BCRYPT = "bcrypt"  # the value of `auth.password_hash` that stores Go-compatible hashes
BCRYPT_MAX_BYTES = 72
TOO_LONG = (
    f"The password is too long: bcrypt takes at most {BCRYPT_MAX_BYTES} bytes "
    "(UTF-8; fewer characters outside ASCII)."
)


def hash_password(raw: str, tenant: Tenant) -> str:
    """The stored form of a new password, by the tenant's `auth.password_hash`.

    Raises InvalidInput (naming `password`) when bcrypt could not take the whole password."""
    if tenant.password_hash == BCRYPT:
        if not fits_bcrypt(raw):
            raise InvalidInput(TOO_LONG, details={"password": [TOO_LONG]})
        return _go_bcrypt(raw, tenant.bcrypt_cost)
    return make_password(raw)


def verify_password(raw: str, stored: str, tenant: Tenant | None = None) -> tuple[bool, bool]:
    """(matches, needs_rehash) for a raw password against a stored hash.

    needs_rehash: the stored hash is not what the tenant's hasher would keep (Django's
    default hasher without a tenant), and `hash_password` can replace it."""
    bcrypt_mode = tenant is not None and tenant.password_hash == BCRYPT
    if stored.startswith(GO_BCRYPT_PREFIXES):
        matches = _bcrypt_matches(raw, stored)
        return matches, matches and not bcrypt_mode
    upgrades: list[bool] = []
    matches = check_password(raw, stored, setter=lambda _raw: upgrades.append(True))
    if bcrypt_mode:
        # A password bcrypt cannot take whole keeps its Django hash rather than fail the login.
        return matches, matches and fits_bcrypt(raw)
    return matches, bool(matches and upgrades)


def fits_bcrypt(raw: str) -> bool:
    return len(raw.encode()) <= BCRYPT_MAX_BYTES


def _go_bcrypt(raw: str, cost: int) -> str:
    # The bcrypt module writes $2b$; $2y$ is the same algorithm under the prefix Go-era rows carry.
    hashed = bcrypt.hashpw(raw.encode(), bcrypt.gensalt(rounds=cost)).decode()
    return "$2y$" + hashed.removeprefix("$2b$")


def _bcrypt_matches(raw: str, stored: str) -> bool:
    # PHP's $2y$ is the same algorithm as $2b$; the bcrypt module knows only $2a$/$2b$.
    candidate = "$2b$" + stored[4:] if stored.startswith("$2y$") else stored
    password = raw.encode()
    try:
        matches = bcrypt.checkpw(password[:BCRYPT_MAX_BYTES], candidate.encode())
    except ValueError:  # a malformed hash
        return False
    # A longer password never matches (it is not cut), but costs the same work: timing
    # must not tell a known account from an unknown one.
    return matches and len(password) <= BCRYPT_MAX_BYTES


@cache
def _dummy_hash() -> str:
    return make_password("sogoms timing equaliser")


@cache
def _dummy_bcrypt(cost: int) -> str:
    return _go_bcrypt("sogoms timing equaliser", cost)


def spend_hashing_time(raw: str, tenant: Tenant) -> None:
    """Run the tenant's hasher for an unknown e-mail too, so timing does not tell who exists."""
    if tenant.password_hash == BCRYPT:
        _bcrypt_matches(raw, _dummy_bcrypt(tenant.bcrypt_cost))
    else:
        check_password(raw, _dummy_hash())
