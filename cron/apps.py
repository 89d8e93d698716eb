"""App config of scheduled jobs: registers `sogoms cron` and the `_cron` paths of the OpenAPI document."""

from django.apps import AppConfig


class CronConfig(AppConfig):
    name = "cron"
    verbose_name = "Scheduled jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cron.openapi import cron_paths
        from cron.purge import purge_runs
        from sogoms_site import commands
        from sogoms_site.api import openapi
        from tenants import retention

        commands.register("cron.cli")
        openapi.register_provider(cron_paths)
        retention.register_purger(purge_runs)
