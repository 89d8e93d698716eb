"""Access rules checked at config load: fields, roles, owner and value types.

A rule that parses is checked against its table (every field named exists, is not
hidden, and takes the value it is compared with) and against the tenant's roles. Its
constants are typed to their field here, through the field-type registry, so the ORM
and the in-memory evaluation compare values of the field's own Python type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from crud.access.grammar import (
    And,
    Compare,
    Const,
    Node,
    Not,
    Or,
    Owner,
    Role,
    Rule,
    RuleSyntaxError,
    Special,
    parse,
    walk,
)
from crud.fieldtypes import INVALID, value_type
from crud.fieldtypes.numeric import BigIntType, DecimalType, FloatType, IntegerType
from crud.fieldtypes.other import BoolType
from crud.fieldtypes.temporal import DateTimeType, DateType
from crud.fieldtypes.textual import TextualType
from crud.resource import FieldSpec

Problem = Callable[[str, str], None]  # (key path, message)
ORDERING_OPS = ("<", "<=", ">", ">=")
_FILTER_OP = {"==": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def checked_rule(
    text: object,
    where: str,
    fields: Iterable[FieldSpec],
    roles: tuple[str, ...],
    problem: Problem,
    *,
    caller_only: bool = False,
) -> Rule | None:
    """The rule `text` with typed constants, or None after reporting each problem at `where`.

    caller_only: a field's read/write rule, which may name the caller (public, auth,
    role) but no column: it decides a whole column at once, not row by row.
    """
    if not isinstance(text, str):
        problem(where, "a rule is a text, e.g. `owner or role(admin)`")
        return None
    try:
        rule = parse(text)
    except RuleSyntaxError as exc:
        problem(where, f"is not a rule: {exc}")
        return None
    by_name = {spec.name: spec for spec in fields}
    has_owner = any(spec.owner for spec in by_name.values())
    ok = True
    for node in walk(rule.node):
        message = _node_problem(node, by_name, roles, has_owner=has_owner, caller_only=caller_only)
        if message:
            problem(where, message)
            ok = False
    if not ok:
        return None
    return Rule(rule.source, _typed(rule.node, by_name))


def _node_problem(
    node: Node, by_name: dict[str, FieldSpec], roles: tuple[str, ...], *, has_owner: bool, caller_only: bool
) -> str | None:
    if isinstance(node, Role):
        unknown = [name for name in node.names if name not in roles]
        if unknown:
            return f"role {', '.join(unknown)} is not a role of this app ({', '.join(roles)})"
    elif isinstance(node, Owner | Compare) and caller_only:
        return "a field rule names the caller only (public, auth, role(...)), not owner or fields"
    elif isinstance(node, Owner) and not has_owner:
        return "`owner` needs a table with an owner field (`filter: owner`)"
    elif isinstance(node, Compare):
        return _comparison_problem(node, by_name.get(node.field))
    return None


def _comparison_problem(node: Compare, spec: FieldSpec | None) -> str | None:
    if spec is None:
        return f"{node.field!r} is not a field of this table"
    if spec.hidden:
        return f"{node.field!r} is a hidden field"
    kind = value_type(spec)
    value = node.value
    if isinstance(value, Const) and value.value is None:
        if node.op not in ("==", "!="):
            return f"{node.field} {node.op} null: null is compared with == or != only"
        return None
    if _FILTER_OP[node.op] not in kind.operators:
        return f"{node.op} does not apply to {spec.type} field {node.field!r}"
    if isinstance(value, Special):
        wanted = {
            "@user.id": (IntegerType,),
            "@user.role": (TextualType,),
            "@now": (DateType, DateTimeType),
        }[value.name]
        if not isinstance(kind, wanted):
            return f"{value.name} cannot be compared with {spec.type} field {node.field!r}"
        return None
    raw = value.value
    if isinstance(raw, bool):
        fits = isinstance(kind, BoolType)
    elif isinstance(raw, int | float):
        fits = isinstance(kind, IntegerType | BigIntType | DecimalType | FloatType) and (
            isinstance(raw, int) or not isinstance(kind, IntegerType)
        )
    else:
        fits = isinstance(kind, TextualType | DateType | DateTimeType)
    if not fits or kind.coerce(str(raw)) is INVALID:
        return f"{raw!r} is not a value of {spec.type} field {node.field!r}"
    return None


def _typed(node: Node, by_name: dict[str, FieldSpec]) -> Node:
    """The node with each constant converted to its field's Python type."""
    if isinstance(node, Compare) and isinstance(node.value, Const) and node.value.value is not None:
        raw = node.value.value
        if isinstance(raw, bool):
            return node
        return Compare(node.field, node.op, Const(value_type(by_name[node.field]).coerce(str(raw))))
    if isinstance(node, And):
        return And(_typed(node.left, by_name), _typed(node.right, by_name))
    if isinstance(node, Or):
        return Or(_typed(node.left, by_name), _typed(node.right, by_name))
    if isinstance(node, Not):
        return Not(_typed(node.inner, by_name))
    return node
