"""App config of the realtime app: CRUD events go to their owner's topic; `_push` and socket OpenAPI."""

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"

    def ready(self) -> None:
        from crud import events
        from realtime.events import publish_crud_event
        from realtime.openapi import push_paths
        from sogoms_site import commands
        from sogoms_site.api import openapi

        events.subscribe(publish_crud_event)
        commands.register("realtime.cli")
        openapi.register_provider(push_paths)
