"""Reading an introspected column's size, digits and default, the same for every engine.

Database introspection and the schema tools both read columns; this is the one reading of
what MySQL/MariaDB report and what SQLite keeps only in the declared type.
"""

from __future__ import annotations

import re
from typing import Any


def column_max_length(column: Any) -> int | None:
    """MySQL reports the size; SQLite keeps it in the declared type, `VARCHAR(120)`."""
    size = column.internal_size or column.display_size
    if size:
        return int(size)
    declared = re.search(r"\((\d+)\)", str(column.type_code))
    return int(declared[1]) if declared else None


def column_digits(column: Any) -> tuple[int, int] | None:
    """MySQL reports precision and scale; SQLite keeps them in `decimal(6, 2)`."""
    if column.precision is not None:
        return (int(column.precision), int(column.scale or 0))
    declared = re.search(r"\((\d+)\s*,\s*(\d+)\)", str(column.type_code))
    return (int(declared[1]), int(declared[2])) if declared else None


def normalize_default(value: Any) -> str | None:
    """A column default as comparable text: quotes, brackets and engine spellings removed."""
    if value is None:
        return None
    text = str(value).strip()
    if text.upper() == "NULL":
        return None
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1].replace("''", "'")
    lowered = text.lower()
    if lowered in ("true", "false"):
        return "1" if lowered == "true" else "0"
    if re.fullmatch(r"-?\d+\.0+", text):
        text = text.split(".")[0]
    return text
