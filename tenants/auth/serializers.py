"""Input shapes of the auth endpoints, with per-field errors."""

from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from sogoms_site.api.inputs import StrictInput


class NewPasswordInput(StrictInput):
    """A password the user chooses, held to the site's password rules."""

    password = serializers.CharField(max_length=128, trim_whitespace=False)

    def validate_password(self, value: str) -> str:
        try:
            password_validation.validate_password(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        return value


class RegisterInput(NewPasswordInput):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=255)


class PasswordResetInput(NewPasswordInput):
    token = serializers.CharField(max_length=200)


class PasswordForgotInput(StrictInput):
    email = serializers.EmailField(max_length=254)


class LoginInput(StrictInput):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RefreshInput(StrictInput):
    refresh_token = serializers.CharField(max_length=4096)


class LogoutInput(StrictInput):
    """`{"all": true}` ends every session of the caller; without it, only this one."""

    all = serializers.BooleanField(required=False, default=False)


class VerifyInput(StrictInput):
    token = serializers.CharField(max_length=200)


class VerifyResendInput(StrictInput):
    email = serializers.EmailField(max_length=254)


class ProfileInput(StrictInput):
    """`PATCH auth/me`: a new name, a new e-mail address (with the current password), or both."""

    name = serializers.CharField(max_length=255, required=False)
    email = serializers.EmailField(max_length=254, required=False)
    current_password = serializers.CharField(max_length=128, trim_whitespace=False, required=False)

    def validate(self, attrs: dict) -> dict:
        if "name" not in attrs and "email" not in attrs:
            raise serializers.ValidationError({"_body": ["give a name or an email to change"]})
        return attrs
