"""App config of the mail app: the auth-flow e-mails for tenants, `sogoms mail`, the `_mail` OpenAPI."""

from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "mail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mail import delivery
        from mail.hooks import flush_all_pending, template_mailer
        from mail.openapi import mail_paths
        from mail.pending import pending_tables
        from mail.purge import purge_outbox
        from sogoms_site import commands
        from sogoms_site.api import openapi
        from tenants import hooks, retention

        commands.register("mail.cli")

        hooks.register(hooks.account_mailers, template_mailer)
        hooks.register(hooks.table_providers, pending_tables)
        hooks.register(delivery.before_sweep, flush_all_pending)
        openapi.register_provider(mail_paths)
        retention.register_purger(purge_outbox)
