"""App config of scheduled jobs: registers `sogoms cron`."""

from django.apps import AppConfig


class CronConfig(AppConfig):
    name = "cron"
    verbose_name = "Scheduled jobs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sogoms_site import commands

        commands.register("cron.cli")
