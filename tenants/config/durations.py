"""Durations and rates as written in YAML: `24h`, `15m`, `1h30m`, `30d`, `10/15m`."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_WHOLE = re.compile(r"^(?:\d+(?:ms|s|m|h|d))+$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """Parse a Go-style duration (the seed writes `24h`); a bare integer means seconds."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"{value!r} is not a positive duration")
        return _bounded(value, value)
    text = str(value).strip()
    if not _WHOLE.match(text):
        raise ValueError(f"{value!r} is not a duration (examples: 30s, 15m, 24h, 7d)")
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a positive duration")
    return _bounded(seconds, value)


MAX_DURATION = timedelta(days=3650)


def _bounded(seconds: float, value: object) -> timedelta:
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{value!r} is too long a duration (at most 3650d)")
    return timedelta(seconds=seconds)


def parse_rate(value: object) -> tuple[int, timedelta]:
    """Parse `N/duration`, e.g. `10/15m`: at most N events per window."""
    text = str(value).strip()
    count, sep, window = text.partition("/")
    if not sep or not (count.isascii() and count.isdigit()) or int(count) <= 0:
        raise ValueError(f"{value!r} is not a rate (examples: 10/15m, 60/1m)")
    return int(count), parse_duration(window)


def format_duration(value: timedelta) -> str:
    """The inverse of parse_duration for people: `1d`, `24h` stays `1d`, `1h30m`."""
    remaining = value // timedelta(milliseconds=1)
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"
