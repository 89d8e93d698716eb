"""The groups of the operator's `sogoms` command, registered by the apps that own them.

Each app calls `register("<its module>")` from its AppConfig.ready() for every group it
owns; the module has `register(subparsers)`, which adds its parser with `handler=` set to
a function `(options, out) -> int` (the exit status). Modules are imported only when the
command runs, so serving processes do not load the command line. The dispatcher
(management command `sogoms`) knows no app by name.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from django.core.management.base import OutputWrapper

_modules: list[str] = []


def register(module: str) -> None:
    if module not in _modules:
        _modules.append(module)


def add_groups(subparsers: argparse._SubParsersAction) -> None:
    """Every registered group, in the order the apps registered them (INSTALLED_APPS)."""
    for module in _modules:
        importlib.import_module(module).register(subparsers)


# The shapes every group module speaks, for its annotations.
Subparsers = argparse._SubParsersAction
Options = dict[str, Any]
Out = OutputWrapper
