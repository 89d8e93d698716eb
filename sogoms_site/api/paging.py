"""Page numbers from clients: `page` and `per_page`, checked the same on every list."""

from __future__ import annotations

import re
from collections.abc import Mapping

from sogoms_site.errors import InvalidInput

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def positive_int(raw: str) -> int | None:
    """A page number from the client: ASCII digits only (`str.isdigit()` takes `²`, `\\d`
    takes Arabic-Indic digits), at most nine of them, so that no offset overflows a database integer."""
    return int(raw) if re.fullmatch(r"[1-9][0-9]{0,8}", raw.strip()) else None


def page_problem(key: str, raw: str) -> str | None:
    """What is wrong with the value of `page` or `per_page`, or None."""
    number = positive_int(raw)
    if number is None:
        return f"{raw!r} is not a positive integer"
    if key == "per_page" and number > MAX_PER_PAGE:
        return f"at most {MAX_PER_PAGE}"
    return None


def page_and_size(params: Mapping[str, str]) -> tuple[int, int]:
    """(page, per_page) of the request's parameters; one 400 naming each bad one."""
    raw = {"page": params.get("page", "1"), "per_page": params.get("per_page", str(DEFAULT_PER_PAGE))}
    errors = {key: [problem] for key, value in raw.items() if (problem := page_problem(key, value))}
    if errors:
        raise InvalidInput("The query parameters are invalid.", details=errors)
    return int(raw["page"]), int(raw["per_page"])
