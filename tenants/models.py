"""Control-plane tables of the tenants app (in the `default` database).

Tenant users are not here: they live in each tenant's own database (see usermodel.py).
"""

from __future__ import annotations

from django.db import models


class TenantRecord(models.Model):
    """A read-only mirror of one tenant's config, so operators see it in the admin."""

    app = models.CharField(primary_key=True, max_length=40)
    version = models.CharField(max_length=40)
    base_path = models.CharField(max_length=200)
    hosts = models.TextField(help_text="One host per line.")
    db_engine = models.CharField(max_length=20)
    db_alias = models.CharField(max_length=60)
    jwt_expiry_seconds = models.PositiveIntegerField()
    refresh_expiry_seconds = models.PositiveIntegerField()
    log_retention_days = models.PositiveIntegerField()
    source = models.CharField(max_length=500)
    synced_at = models.DateTimeField()

    class Meta:
        ordering = ["app"]
        verbose_name = "tenant"

    def __str__(self) -> str:
        return self.app


class IssuedRefreshToken(models.Model):
    """Every refresh token handed out, so it can be rotated once and revoked."""

    jti = models.CharField(max_length=64, unique=True)
    app = models.CharField(max_length=40)
    user_id = models.BigIntegerField()
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.CharField(max_length=64, blank=True, default="")
    session_id = models.CharField(max_length=64, blank=True, default="", db_index=True)

    class Meta:
        indexes = [models.Index(fields=["app", "user_id"])]

    def __str__(self) -> str:
        return f"{self.app}:{self.user_id}:{self.jti}"


class RevokedAccessToken(models.Model):
    """Access tokens revoked before expiry (logout); rows are useless after `expires_at`."""

    jti = models.CharField(max_length=64, unique=True)
    app = models.CharField(max_length=40)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.app}:{self.jti}"


class OneTimeCode(models.Model):
    """A single-use, expiring code e-mailed to a tenant user; only its SHA-256 is stored.

    Issued and spent by `tenants.auth.onetime`; rows are purged some days after they expire.
    """

    app = models.CharField(max_length=40)
    user_id = models.BigIntegerField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    # Declared so that type checkers see it on `type[OneTimeCode]`; each kind inherits it.
    objects = models.Manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.app}:{self.user_id}:{self.token_hash[:8]}"


class PasswordResetToken(OneTimeCode):
    """A password-reset code (`auth/password/forgot`, spent by `auth/password/reset`)."""

    class Meta:
        indexes = [models.Index(fields=["app", "user_id"])]


class EmailVerificationCode(OneTimeCode):
    """A code proving a user's e-mail address (sent on register, resend, e-mail change)."""

    class Meta:
        indexes = [models.Index(fields=["app", "user_id"])]


class AuthSession(models.Model):
    """One signed-in client of a tenant user: every access and refresh token names it (`sid`).

    Login and register open one, refresh keeps it, and logout, "log out everywhere", a
    password change or reset, deactivation and a reused refresh token end it (`ended_at`).
    """

    id = models.CharField(primary_key=True, max_length=64)
    app = models.CharField(max_length=40)
    user_id = models.BigIntegerField()
    created_at = models.DateTimeField()
    # Written at most once a minute per session (see tenants.auth.current), and on refresh.
    last_used_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True, help_text="When its newest refresh token expires.")
    ip = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=255, blank=True, default="")
    ended_at = models.DateTimeField(null=True, blank=True, db_index=True)
    end_reason = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["app", "user_id"])]
        verbose_name = "session"

    def __str__(self) -> str:
        return f"{self.app}:{self.user_id}:{self.id}"


class UserTokensCutoff(models.Model):
    """Per tenant user, the moment before which every session is over, whatever its row says.

    Moved forward by a password change or reset, deactivation and "log out everywhere", in
    the same transaction that ends the sessions: a session opened concurrently with it, and
    thus missed by that update, is still refused.
    """

    app = models.CharField(max_length=40)
    user_id = models.BigIntegerField()
    tokens_valid_after = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["app", "user_id"], name="one_cutoff_per_user")]

    def __str__(self) -> str:
        return f"{self.app}:{self.user_id}:{self.tokens_valid_after:%Y-%m-%dT%H:%M:%S}"


class OAuthState(models.Model):
    """One sign-in started at a provider: what the callback needs to finish it, single use.

    `state` travels through the browser, so only its SHA-256 is kept; the PKCE verifier and
    the nonce never leave the server until the callback sends them to the provider.
    """

    app = models.CharField(max_length=40)
    provider = models.CharField(max_length=40)
    state_hash = models.CharField(max_length=64, unique=True)
    code_verifier = models.CharField(max_length=128)
    nonce = models.CharField(max_length=128, blank=True, default="")
    redirect_uri = models.CharField(max_length=2000, help_text="The client page the user goes back to.")
    callback_url = models.CharField(max_length=2000, help_text="Ours, as sent to the provider.")
    # Set when a signed-in user links a provider account instead of signing in with it.
    link_user_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth state"

    def __str__(self) -> str:
        return f"{self.app}:{self.provider}:{self.state_hash[:8]}"


class OAuthCode(models.Model):
    """The one-time code a finished sign-in hands to the client, traded for tokens once.

    Only its SHA-256 is kept; it lives a minute."""

    app = models.CharField(max_length=40)
    provider = models.CharField(max_length=40)
    user_id = models.BigIntegerField()
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth code"

    def __str__(self) -> str:
        return f"{self.app}:{self.user_id}:{self.code_hash[:8]}"


class Identity(models.Model):
    """A provider account (provider, subject) that signs in as one tenant user.

    One per provider and user: unlinking names the provider."""

    app = models.CharField(max_length=40)
    provider = models.CharField(max_length=40)
    subject = models.CharField(max_length=255, help_text="The provider's stable id of the account.")
    user_id = models.BigIntegerField()
    email = models.CharField(max_length=254, blank=True, default="", help_text="As the provider said.")
    email_verified = models.BooleanField(default=False, help_text="Whether the provider vouched for it.")
    created_at = models.DateTimeField()
    last_used_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["app", "provider", "subject"], name="one_user_per_identity"),
            models.UniqueConstraint(fields=["app", "user_id", "provider"], name="one_identity_per_provider"),
        ]
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return f"{self.app}:{self.provider}:{self.subject}"
