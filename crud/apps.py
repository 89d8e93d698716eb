"""App config of the resource engine: plugs its tables, login lists, event log and OpenAPI paths in."""

from django.apps import AppConfig


class CrudConfig(AppConfig):
    name = "crud"

    def ready(self) -> None:
        from crud import events
        from crud.hooks import login_lists, resource_tables
        from crud.notify import notify_on_event
        from crud.openapi import crud_paths
        from sogoms_site import commands
        from sogoms_site.api import openapi
        from tenants import hooks

        commands.register("crud.cli")
        commands.register("crud.schematools.cli")

        hooks.register(hooks.table_providers, resource_tables)
        hooks.register(hooks.login_enrichers, login_lists)
        events.subscribe(events.log_to_tenant)
        events.subscribe(notify_on_event)
        openapi.register_provider(crud_paths)
