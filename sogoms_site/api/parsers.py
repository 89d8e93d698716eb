"""The JSON body parser: bounded in size and in nesting depth, strict about what JSON is."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import IO, Any, NoReturn

import orjson
from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser
from typing_extensions import override

from sogoms_site.api.errors import PayloadTooLarge

# Nineteen digits in a row may be an integer orjson cannot hold (inside a string too: then
# the exact decoder reads the body, which is only slower).
_LONG_DIGITS = re.compile(r"[0-9]{19}")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


# A JSON string (escapes included): its brackets do not nest anything. An unterminated
# one runs to the end (the decoder refuses it later), which keeps the scan linear.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting_depth(text: str) -> int:
    """How deep arrays and objects nest in `text`, counted without recursion.

    Python's decoder recurses once per level: a body of 50,000 `[` is a RecursionError
    (a 500) before any view sees it, so the depth is measured before decoding.
    """
    if text.count("[") + text.count("{") <= 1:
        return text.count("[") + text.count("{")
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_STEP[char] for char in brackets), default=0)


class BoundedJSONParser(BaseParser):
    media_type = "application/json"

    @override
    def parse(
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:  # any JSON value: a view refuses a body that is not the object it wants
        limit = settings.SOGOMS_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        if not raw.strip():
            return {}
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(str(exc)) from None
        max_depth = settings.SOGOMS_MAX_JSON_DEPTH
        if nesting_depth(text) > max_depth:
            raise ParseError(f"arrays and objects nest deeper than {max_depth} levels")
        try:
            if _LONG_DIGITS.search(text):
                # orjson reads an integer beyond 64 bits as a float: Python's decoder keeps it exact
                return json.loads(text, parse_constant=_reject_constant)
            return orjson.loads(raw)  # it refuses NaN and Infinity, which are not JSON
        except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
            raise ParseError(str(exc)) from None
