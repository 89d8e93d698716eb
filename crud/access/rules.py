"""Which rule governs an operation of a resource, and which fields a caller may read or write.

A schema table's `access:` names a rule per operation (list, view, create, update,
delete); an operation it leaves out keeps the engine's default: `owner or role(admin)`
on a table with an owner field, `auth` on any other. A v1 query resource has no rules
here (its SQL and role filters decide).
"""

from __future__ import annotations

from crud.access.callers import anonymous
from crud.access.compile import Compiled, to_q
from crud.access.evaluate import holds
from crud.access.grammar import Rule, parse
from crud.resource import FieldSpec, Resource
from tenants.auth.principal import TenantPrincipal

RULE_OPERATIONS = ("list", "view", "create", "update", "delete")
# the engine's operation names (crud.resource.OPERATIONS) -> the rule that governs them
RULE_OF = {"list": "list", "show": "view", "create": "create", "update": "update", "delete": "delete"}
OWNER_DEFAULT = parse("owner or role(admin)")
SIGNED_IN_DEFAULT = parse("auth")


class _SameNames(dict):
    """Column names as they are: a static decision builds a Q it only tests for True/False."""

    def __missing__(self, key: str) -> str:
        return key


def default_rule(resource: Resource) -> Rule:
    return OWNER_DEFAULT if resource.owner_field is not None else SIGNED_IN_DEFAULT


def rule_for(resource: Resource, operation: str) -> Rule:
    """The rule of `operation` (a rule name or the engine's: show is governed by view)."""
    return resource.access.get(RULE_OF.get(operation, operation)) or default_rule(resource)


def is_default(resource: Resource, operation: str) -> bool:
    return RULE_OF.get(operation, operation) not in resource.access


def static_decision(resource: Resource, operation: str, caller: TenantPrincipal) -> Compiled:
    """The rule of `operation` for the caller with every column left open: False means no
    row can ever pass (the operation is refused as such), True that every row does."""
    owner = resource.owner_field
    return to_q(rule_for(resource, operation).node, caller, _SameNames(), owner.name if owner else None)


def may_be_anonymous(resource: Resource, operation: str) -> bool:
    """Whether the rule of `operation` can let a caller without a token through."""
    return static_decision(resource, operation, anonymous(resource.app)) is not False


def _field_allows(rule: Rule | None, caller: TenantPrincipal) -> bool:
    # field rules name the caller only (crud.access.check), so no row is needed
    return rule is None or holds(rule.node, {}, caller, None)


def unreadable(resource: Resource, caller: TenantPrincipal) -> frozenset[str]:
    """Fields whose `read:` rule the caller does not meet: left out of its answers."""
    guarded = _guarded(resource, "read")
    if not guarded:
        return frozenset()
    return frozenset(spec.name for spec in guarded if not _field_allows(spec.read, caller))


def unwritable(resource: Resource, caller: TenantPrincipal) -> frozenset[str]:
    """Fields whose `write:` rule the caller does not meet: refused by name."""
    guarded = _guarded(resource, "write")
    if not guarded:
        return frozenset()
    return frozenset(spec.name for spec in guarded if not _field_allows(spec.write, caller))


def _guarded(resource: Resource, which: str) -> tuple[FieldSpec, ...]:
    return tuple(spec for spec in resource.fields if getattr(spec, which) is not None)
