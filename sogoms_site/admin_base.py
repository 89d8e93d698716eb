"""Building blocks of the operators' admin shared by the apps."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from typing_extensions import override


class HistoryAdmin(admin.ModelAdmin):
    """Rows the platform writes (the outbox, job runs, the jobs mirror): shown, never added or
    edited here; the admin's actions change them through the apps' services."""

    @override
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @override
    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
