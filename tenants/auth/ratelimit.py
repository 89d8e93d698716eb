"""Fixed-window counters in the Django cache (Redis when configured, shared by processes)."""

from __future__ import annotations

import hashlib
import math
import time

from django.core.cache import cache

from sogoms_site.errors import TooManyAttempts
from tenants.config import RateLimit


def _window(rate: RateLimit, now: float) -> tuple[int, int]:
    size = max(1, int(rate.window.total_seconds()))
    start = int(now // size) * size
    return start, size


def _key(scope: str, subject: str, start: int) -> str:
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"rl:{scope}:{digest}:{start}"


def _retry_after(start: int, size: int, now: float) -> int:
    return max(1, math.ceil(start + size - now))


def count(scope: str, subject: str, rate: RateLimit) -> int:
    start, _ = _window(rate, time.time())
    return int(cache.get(_key(scope, subject, start), 0))


def hit(scope: str, subject: str, rate: RateLimit) -> int:
    """Count one event and return the count in the current window."""
    now = time.time()
    start, size = _window(rate, now)
    key = _key(scope, subject, start)
    cache.add(key, 0, timeout=size + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=size + 1)
        return 1


def refuse_over(rate: RateLimit, current: int) -> None:
    """TooManyAttempts, with the seconds until the window ends, when `current` is over the limit."""
    if current > rate.limit:
        start, size = _window(rate, time.time())
        raise TooManyAttempts(retry_after=_retry_after(start, size, time.time()))
