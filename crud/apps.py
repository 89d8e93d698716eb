"""App config of the crud app."""

from django.apps import AppConfig


class CrudConfig(AppConfig):
    name = "crud"
