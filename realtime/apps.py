"""App config of the realtime app."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
