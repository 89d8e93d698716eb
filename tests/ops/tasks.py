"""A task of the worker tests only (loaded with `celery worker --include tests.ops.tasks`).

It writes "started <pid>" to a file, sleeps, then writes "done <pid>": the file tells
which worker processes ran it and whether one finished it.
"""

from __future__ import annotations

import os
import time

from celery import shared_task

NAME = "tests.ops.record_then_sleep"


@shared_task(name=NAME)
def record_then_sleep(path: str, seconds: float) -> None:
    with open(path, "a") as record:
        record.write(f"started {os.getpid()}\n")
    time.sleep(seconds)
    with open(path, "a") as record:
        record.write(f"done {os.getpid()}\n")
