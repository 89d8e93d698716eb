#!/usr/bin/env python
"""manage.py of the hand-written DRF baseline (bench only)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_baseline.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
