"""App config of the mail app: plugs the auth-flow e-mails into tenants."""

from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "mail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mail.hooks import template_mailer
        from tenants import hooks

        hooks.register(hooks.account_mailers, template_mailer)
