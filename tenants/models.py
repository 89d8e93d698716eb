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


class PasswordResetToken(models.Model):
    """A single-use, expiring password-reset token; only its SHA-256 is stored."""

    app = models.CharField(max_length=40)
    user_id = models.BigIntegerField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["app", "user_id"])]

    def __str__(self) -> str:
        return f"{self.app}:{self.user_id}:{self.token_hash[:8]}"
