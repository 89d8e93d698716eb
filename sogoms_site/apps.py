"""App config of the site package (it owns no models; it holds the API contract)."""

from django.apps import AppConfig


class SogomsSiteConfig(AppConfig):
    name = "sogoms_site"
