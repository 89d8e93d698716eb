"""App config of the site package (it owns no models; it holds the API contract)."""

from django.apps import AppConfig


class SogomsSiteConfig(AppConfig):
    name = "sogoms_site"

    def ready(self) -> None:
        # Metrics are wired into every process type: the servers and Celery alike.
        from sogoms_site import commands, metrics_endpoint

        metrics_endpoint.install()
        # `sogoms ctl`: the process manager of small installs (sogoms_site.ctl).
        commands.register("sogoms_site.ctl.cli")
