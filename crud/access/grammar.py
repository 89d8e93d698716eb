"""The access-rule language: a tokenizer and a recursive-descent parser to a small AST.

    rule       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | atom
    atom       := "(" or ")" | "public" | "auth" | "owner" | "role" "(" name ("," name)* ")"
                | field op value
    op         := == != < <= > >=
    value      := integer | decimal | 'text' | "text" | true | false | null
                | @user.id | @user.role | @now

The parser knows no table: names of fields and roles are checked against the schema and
the tenant later (crud.access.check). Nodes are frozen, hashable dataclasses, so a rule
can be part of a cache key and of a frozen Resource.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
KEYWORDS = ("public", "auth", "owner", "role", "and", "or", "not", "true", "false", "null")
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<special>@[a-z_]+(?:\.[a-z_]+)?)
    | (?P<op>==|!=|<=|>=|<|>)
    | (?P<punct>[(),])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
SPECIALS = ("@user.id", "@user.role", "@now")
MAX_RULE_LENGTH = 2000


class RuleSyntaxError(ValueError):
    """A rule that does not parse; the message says where."""


# --- the AST ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Public:
    pass


@dataclass(frozen=True)
class Auth:
    pass


@dataclass(frozen=True)
class Owner:
    pass


@dataclass(frozen=True)
class Role:
    names: tuple[str, ...]


@dataclass(frozen=True)
class Const:
    value: Any  # int, float, str, bool, None; typed to its field by crud.access.check


@dataclass(frozen=True)
class Special:
    name: str  # one of SPECIALS


Value = Const | Special


@dataclass(frozen=True)
class Compare:
    field: str
    op: str  # one of OPERATORS
    value: Value


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    inner: Node


Node = Public | Auth | Owner | Role | Compare | And | Or | Not


@dataclass(frozen=True)
class Rule:
    """A parsed rule and the text it was written as (shown by /_schema)."""

    source: str
    node: Node


# --- tokenizer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, special, op, punct, name, end
    text: str
    at: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise RuleSyntaxError(f"unexpected {text[position]!r} at character {position + 1}")
        kind = match.lastgroup or ""
        token_text = match.group(kind)
        if kind == "special" and token_text not in SPECIALS:
            raise RuleSyntaxError(f"{token_text!r} is not one of {', '.join(SPECIALS)}")
        tokens.append(Token(kind, token_text, match.start(kind)))
        position = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# --- parser -------------------------------------------------------------------------------


def parse(text: str) -> Rule:
    """The rule `text` as an AST; RuleSyntaxError says what is wrong and where."""
    if not isinstance(text, str) or not text.strip():
        raise RuleSyntaxError("a rule is a non-empty text")
    if len(text) > MAX_RULE_LENGTH:
        raise RuleSyntaxError(f"a rule is at most {MAX_RULE_LENGTH} characters")
    parser = _Parser(tokenize(text))
    node = parser.disjunction()
    parser.expect_end()
    return Rule(text.strip(), node)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_word(self, word: str) -> bool:
        return self.current.kind == "name" and self.current.text == word

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.current
        if token.kind != kind or (text is not None and token.text != text):
            wanted = repr(text) if text else kind
            raise RuleSyntaxError(f"expected {wanted} at character {token.at + 1}, found {_shown(token)}")
        return self.advance()

    def expect_end(self) -> None:
        if self.current.kind != "end":
            raise RuleSyntaxError(f"unexpected {_shown(self.current)} at character {self.current.at + 1}")

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.is_word("or"):
            self.advance()
            node = Or(node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.negation()
        while self.is_word("and"):
            self.advance()
            node = And(node, self.negation())
        return node

    def negation(self) -> Node:
        if self.is_word("not"):
            self.advance()
            return Not(self.negation())
        return self.atom()

    def atom(self) -> Node:
        token = self.current
        if token.kind == "punct" and token.text == "(":
            self.depth += 1
            if self.depth > 32:  # a bound on recursion: rules are written by people
                raise RuleSyntaxError("parentheses nest deeper than 32")
            self.advance()
            node = self.disjunction()
            self.expect("punct", ")")
            self.depth -= 1
            return node
        if token.kind != "name":
            raise RuleSyntaxError(f"expected a condition at character {token.at + 1}, found {_shown(token)}")
        word = token.text
        if word == "public":
            self.advance()
            return Public()
        if word == "auth":
            self.advance()
            return Auth()
        if word == "owner":
            self.advance()
            return Owner()
        if word == "role":
            return self.role()
        if word in KEYWORDS:
            raise RuleSyntaxError(f"unexpected {word!r} at character {token.at + 1}")
        self.advance()
        op = self.expect("op").text
        return Compare(word, op, self.value())

    def role(self) -> Node:
        self.advance()
        self.expect("punct", "(")
        names = [self.expect("name").text]
        while self.current.kind == "punct" and self.current.text == ",":
            self.advance()
            names.append(self.expect("name").text)
        self.expect("punct", ")")
        return Role(tuple(names))

    def value(self) -> Value:
        token = self.advance()
        if token.kind == "number":
            return Const(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "string":
            return Const(_unquote(token.text))
        if token.kind == "special":
            return Special(token.text)
        if token.kind == "name" and token.text in ("true", "false", "null"):
            return Const({"true": True, "false": False, "null": None}[token.text])
        raise RuleSyntaxError(f"expected a value at character {token.at + 1}, found {_shown(token)}")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _shown(token: Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


def walk(node: Node) -> list[Node]:
    """Every node of a rule, the node itself first."""
    found: list[Node] = [node]
    if isinstance(node, And | Or):
        found += walk(node.left) + walk(node.right)
    elif isinstance(node, Not):
        found += walk(node.inner)
    return found
