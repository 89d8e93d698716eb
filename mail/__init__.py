"""Outbound and inbound e-mail per tenant, and scheduled jobs through Celery beat."""
