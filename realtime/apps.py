"""App config of the realtime app: CRUD events are published to their owner's topic."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"

    def ready(self) -> None:
        from crud import events
        from realtime.events import publish_crud_event
        from sogoms_site import commands

        events.subscribe(publish_crud_event)
        commands.register("realtime.cli")
