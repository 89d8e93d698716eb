"""Rate limits in the Django cache (Redis when configured, shared by processes): fixed
windows for sign-in attempts, sliding windows for the API."""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

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


def hit(scope: str, subject: str, rate: RateLimit, *, windows_kept: int = 1) -> int:
    """Count one event and return the count in the current window (kept for
    `windows_kept` windows: a sliding window reads the previous one)."""
    now = time.time()
    start, size = _window(rate, now)
    key = _key(scope, subject, start)
    keep = size * windows_kept + 1
    cache.add(key, 0, timeout=keep)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=keep)
        return 1


def refuse_over(rate: RateLimit, current: int) -> None:
    """TooManyAttempts, with the seconds until the window ends, when `current` is over the limit."""
    if current > rate.limit:
        start, size = _window(rate, time.time())
        raise TooManyAttempts(retry_after=_retry_after(start, size, time.time()))


# --- sliding windows: the API limits ---------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """Where one caller stands against one limit, after counting this request."""

    limit: int
    window: int  # seconds
    used: float  # the sliding estimate, this request included
    reset: int  # seconds until the estimate is back under the limit (or the window ends)

    @property
    def over(self) -> bool:
        return self.used > self.limit

    @property
    def remaining(self) -> int:
        return max(0, math.floor(self.limit - self.used))


def hit_sliding(scope: str, subject: str, rate: RateLimit) -> Usage:
    """Count one request against a sliding window: the previous fixed window's count,
    weighted by how much of it still overlaps, plus the current one's. It smooths the
    double burst a fixed window allows at its edge, with two counters per subject."""
    now = time.time()
    start, size = _window(rate, now)
    current = hit(scope, subject, rate, windows_kept=2)
    previous = int(cache.get(_key(scope, subject, start - size), 0))
    elapsed = (now - start) / size
    used = previous * (1 - elapsed) + current
    if used > rate.limit:
        reset = _until_under(rate.limit, previous, current, start, size, now)
    else:
        reset = max(1, math.ceil(start + size - now))
    return Usage(rate.limit, size, used, reset)


def _until_under(limit: int, previous: int, current: int, start: int, size: int, now: float) -> int:
    """Seconds until `previous * (1 - elapsed) + current` falls to the limit without new
    requests: within this window when the previous one's share is what is over, else
    into the next one, where this window's count is the decaying share."""
    if current <= limit and previous > 0:
        needed = 1 - (limit - current) / previous
        return max(1, math.ceil(start + needed * size - now))
    if current <= limit:
        return max(1, math.ceil(start + size - now))
    return max(1, math.ceil(start + size - now + size * (1 - limit / current)))
