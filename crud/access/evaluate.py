"""Rules on an in-memory row: a new row before its INSERT, a changed row before its
UPDATE, a committed row before its push event goes out.

Three-valued, like SQL: None means "cannot tell" (a comparison with NULL, or a part that
names a caller when the caller is not known, as for "every signed-in user"). Only a
definite True lets a row through. The results agree with the Q of crud.access.compile:
Django's negation of a nullable column keeps NULL rows, and so does `not` here.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from django.utils import timezone

from crud.access.callers import is_anonymous
from crud.access.grammar import And, Auth, Compare, Node, Not, Or, Owner, Public, Role, Special
from tenants.auth.principal import TenantPrincipal

EVERY_SIGNED_IN_USER = None  # the caller of `holds()` when the rule must hold for anyone signed in
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def holds(
    node: Node, row: Mapping[str, Any], caller: TenantPrincipal | None, owner_field: str | None
) -> bool:
    """Whether the rule is certainly true of `row` for `caller` (None: any signed-in user)."""
    return _value(node, row, caller, owner_field) is True


def _value(
    node: Node, row: Mapping[str, Any], caller: TenantPrincipal | None, owner: str | None
) -> bool | None:
    if isinstance(node, Public | Auth | Role | Owner):
        return _caller_part(node, row, caller, owner)
    if isinstance(node, Compare):
        return _comparison(node, row, caller)
    if isinstance(node, Not):
        inner = _value(node.inner, row, caller, owner)
        return None if inner is None else not inner
    left = _value(node.left, row, caller, owner)
    right = _value(node.right, row, caller, owner)
    if isinstance(node, And):
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    assert isinstance(node, Or)
    if left is True or right is True:
        return True
    return None if left is None or right is None else False


def _caller_part(
    node: Public | Auth | Role | Owner,
    row: Mapping[str, Any],
    caller: TenantPrincipal | None,
    owner: str | None,
) -> bool | None:
    if isinstance(node, Public):
        return True
    if caller is None:  # any signed-in user: signed in, of a role and an id not known
        return True if isinstance(node, Auth) else None
    if is_anonymous(caller):
        return False
    if isinstance(node, Auth):
        return True
    if isinstance(node, Role):
        return caller.role in node.names
    return owner is not None and row.get(owner) == caller.id


def _comparison(node: Compare, row: Mapping[str, Any], caller: TenantPrincipal | None) -> bool | None:
    actual = row.get(node.field)
    if isinstance(node.value, Special):
        if node.value.name == "@now":
            expected: Any = datetime.now(UTC)
            if isinstance(actual, date) and not isinstance(actual, datetime):
                expected = timezone.localdate()
        elif caller is None:
            return None
        elif is_anonymous(caller):
            return False
        else:
            expected = caller.id if node.value.name == "@user.id" else caller.role
    else:
        expected = node.value.value
    if expected is None:  # `== null` / `!= null`: is null, is not null
        return (actual is None) == (node.op == "==")
    if actual is None:
        # NULL compared is unknown in SQL; Django's `!=` (a negated equality) keeps NULL rows
        return node.op == "!="
    if isinstance(actual, datetime) and timezone.is_naive(actual):
        actual = timezone.make_aware(actual, UTC)
    try:
        return bool(_COMPARE[node.op](actual, expected))
    except TypeError:  # a value of another type than the field's (never from the engine)
        return False
