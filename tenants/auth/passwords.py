"""Password hashing: Django's hashers, plus the Go system's bcrypt hashes on the way out.

A `$2a$`/`$2b$`/`$2y$` hash from the Go era verifies with bcrypt and is reported as
needing a rehash, so the first successful login moves it to Django's default hasher.
"""

from __future__ import annotations

from functools import cache

import bcrypt
from django.contrib.auth.hashers import check_password, make_password

GO_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")


def hash_password(raw: str) -> str:
    return make_password(raw)


def verify_password(raw: str, stored: str) -> tuple[bool, bool]:
    """(matches, needs_rehash) for a raw password against a stored hash."""
    if stored.startswith(GO_BCRYPT_PREFIXES):
        # PHP's $2y$ is the same algorithm as $2b$; the bcrypt module knows only $2a$/$2b$.
        candidate = "$2b$" + stored[4:] if stored.startswith("$2y$") else stored
        try:
            matches = bcrypt.checkpw(raw.encode(), candidate.encode())
        except ValueError:  # malformed hash, or a password bcrypt cannot take (> 72 bytes)
            matches = False
        return matches, matches
    upgrades: list[bool] = []
    matches = check_password(raw, stored, setter=lambda _raw: upgrades.append(True))
    return matches, bool(matches and upgrades)


@cache
def _dummy_hash() -> str:
    return make_password("sogoms timing equaliser")


def spend_hashing_time(raw: str) -> None:
    """Run the hasher for an unknown e-mail too, so timing does not tell who exists."""
    check_password(raw, _dummy_hash())
