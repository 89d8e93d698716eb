"""Rules to Django `Q` objects for one caller, never SQL text.

What depends on the caller alone (public, auth, owner for an anonymous caller, role,
comparisons with @user.role) is decided here, so the Q holds only column conditions;
`@user.id` stays a value of the Q (a bound parameter, and a marker the compiled-read
cache traces). `shape_key()` is what of the caller changes the SQL: the cache keys on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q

from crud.access.callers import is_anonymous
from crud.access.grammar import And, Auth, Compare, Node, Not, Or, Owner, Public, Role, Special, walk
from tenants.auth.principal import TenantPrincipal

# A condition no row meets, that still compiles to SQL (an empty `__in` does not):
# the primary key is never NULL.
NOTHING = Q(pk__isnull=True)
LOOKUPS = {"==": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}

Compiled = Q | bool  # True: every row; False: none


def to_q(
    node: Node, caller: TenantPrincipal, attnames: Mapping[str, str], owner_attname: str | None
) -> Compiled:
    """The rows `node` lets the caller reach, as a Q, or True/False when no row matters."""
    if isinstance(node, Public | Auth | Role | Owner):
        return _caller_part(node, caller, owner_attname)
    if isinstance(node, Compare):
        return _comparison(node, caller, attnames[node.field])
    if isinstance(node, Not):
        inner = to_q(node.inner, caller, attnames, owner_attname)
        return (not inner) if isinstance(inner, bool) else ~inner
    left = to_q(node.left, caller, attnames, owner_attname)
    if isinstance(node, And):
        return False if left is False else _and(left, to_q(node.right, caller, attnames, owner_attname))
    assert isinstance(node, Or)
    return True if left is True else _or(left, to_q(node.right, caller, attnames, owner_attname))


def _caller_part(
    node: Public | Auth | Role | Owner, caller: TenantPrincipal, owner_attname: str | None
) -> Compiled:
    if isinstance(node, Public):
        return True
    if is_anonymous(caller):
        return False
    if isinstance(node, Auth):
        return True
    if isinstance(node, Role):
        return caller.role in node.names
    return False if owner_attname is None else Q(**{owner_attname: caller.id})


def _and(left: Compiled, right: Compiled) -> Compiled:
    if left is False or right is False:
        return False
    if left is True:
        return right
    return left if right is True else left & right


def _or(left: Compiled, right: Compiled) -> Compiled:
    if left is True or right is True:
        return True
    if left is False:
        return right
    return left if right is False else left | right


def _comparison(node: Compare, caller: TenantPrincipal, attname: str) -> Compiled:
    value: Any
    if isinstance(node.value, Special):
        if node.value.name == "@now":
            value = datetime.now(UTC)
        elif is_anonymous(caller):
            return False  # no user: a comparison with its id or role is never true
        else:
            value = caller.id if node.value.name == "@user.id" else caller.role
    else:
        value = node.value.value
    if value is None:
        return Q(**{f"{attname}__isnull": node.op == "=="})
    if node.op == "!=":
        return ~Q(**{attname: value})
    return Q(**{f"{attname}__{LOOKUPS[node.op]}": value})


def apply(queryset: Any, compiled: Compiled) -> Any:
    """The queryset narrowed to the rows of a compiled rule."""
    if compiled is True:
        return queryset
    return queryset.filter(NOTHING if compiled is False else compiled)


def uses_now(node: Node) -> bool:
    """A rule with @now compiles to a new value each time: its reads are never cached."""
    return any(isinstance(n, Compare) and n.value == Special("@now") for n in walk(node))


def row_dependent(node: Node) -> bool:
    """Whether the rule looks at the row (its columns or its owner), not only the caller."""
    return any(isinstance(n, Compare | Owner) for n in walk(node))


def shape_key(caller: TenantPrincipal) -> tuple[bool, str]:
    """What of the caller a rule's SQL shape may depend on (its id is a bound value)."""
    return (is_anonymous(caller), caller.role)
