"""Subcommands of `python manage.py sogoms`, one module per group.

Each module has `register(subparsers)`, which adds its parser with `handler=` set to a
function `(options, out) -> int` (the exit status).
"""
