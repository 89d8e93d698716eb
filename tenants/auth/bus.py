"""Auth changes between processes: Redis pub/sub on one channel, when REDIS_URL is set.

A change is a small JSON object (`{"app": ..., "user_id": ...}` or `{"app": ...,
"session_id": ...}`) meaning "forget what you cached about this". Each process that reads
auth state listens in a daemon thread, started on first use (so after a fork). Without
REDIS_URL there is nothing to do: the embedded default is one process, and the short TTL of
tenants.auth.current bounds how stale another process (a command) can be.

Losing the connection may lose messages: the listener then clears the whole cache before it
listens again. A failed publish is logged, never raised: the TTL still bounds the staleness.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings

logger = logging.getLogger("sogoms.auth")
Receiver = Callable[[dict[str, Any]], None]
_state: dict[str, Any] = {"client": None, "pid": None, "thread": None}
_lock = threading.Lock()


def enabled() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def _client() -> redis.Redis:
    if _state["client"] is None or _state["pid"] != os.getpid():
        _state["client"] = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
        )
        _state["pid"] = os.getpid()
    return _state["client"]


def publish(change: dict[str, Any]) -> None:
    if not enabled():
        return
    try:
        _client().publish(settings.SOGOMS_AUTH_CHANGES_CHANNEL, json.dumps(change))
    except redis.RedisError as exc:
        logger.warning("could not announce an auth change through Redis: %s", exc)


def listen(receive: Receiver, lost: Callable[[], None]) -> None:
    """Start this process's listener once: `receive` per change, `lost` after a disconnection."""
    if not enabled():
        return
    thread = _state["thread"]
    if thread is not None and thread.is_alive() and thread.sogoms_pid == os.getpid():
        return
    with _lock:
        thread = _state["thread"]
        if thread is not None and thread.is_alive() and thread.sogoms_pid == os.getpid():
            return
        thread = threading.Thread(
            target=_listen_forever, args=(receive, lost), name="sogoms-auth-changes", daemon=True
        )
        thread.sogoms_pid = os.getpid()  # type: ignore[attr-defined]  # a fork gets a new one
        _state["thread"] = thread
        thread.start()


def _listen_forever(receive: Receiver, lost: Callable[[], None]) -> None:
    pause = 0.5
    while True:
        try:
            client = redis.Redis.from_url(settings.REDIS_URL, health_check_interval=30, socket_keepalive=True)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(settings.SOGOMS_AUTH_CHANGES_CHANNEL)
            pause = 0.5
            for message in pubsub.listen():
                try:
                    change = json.loads(message["data"])
                except (TypeError, ValueError):
                    continue
                if isinstance(change, dict):
                    receive(change)
        except Exception:  # the listener must outlive Redis restarts and our own bugs
            logger.warning("the auth change listener lost Redis; retrying", exc_info=True)
        lost()  # messages may have been missed: forget everything
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
