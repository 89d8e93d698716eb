"""Create or extend a tenant's tables from its models, without ever dropping anything.

Missing tables are created and missing columns added through Django's schema editor, so
the SQL is the engine's own. Destructive changes are the schema CLI's business.
"""

from __future__ import annotations

from django.db import connections, models

from tenants import hooks
from tenants.config import Tenant
from tenants.usermodel import user_model


def tenant_models(tenant: Tenant) -> list[type[models.Model]]:
    """Every table SOGOMS manages for a tenant: users, then what the table providers add."""
    found: list[type[models.Model]] = [user_model(tenant)]
    for provider in hooks.table_providers:
        found.extend(model for model in provider(tenant) if model not in found)
    return found


def sync_tenant_tables(tenant: Tenant) -> list[str]:
    """Bring the tenant's database up to its models; returns what was done, for people."""
    connection = connections[tenant.db_alias]
    done: list[str] = []
    with connection.schema_editor() as editor:
        existing = set(connection.introspection.table_names())
        for model in tenant_models(tenant):
            table = model._meta.db_table
            if table not in existing:
                editor.create_model(model)
                done.append(f"created table {table}")
                continue
            with connection.cursor() as cursor:
                columns = {c.name for c in connection.introspection.get_table_description(cursor, table)}
            for field in model._meta.local_fields:
                if field.column not in columns:
                    editor.add_field(model, field)
                    done.append(f"added column {table}.{field.column}")
    return done
