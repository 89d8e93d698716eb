"""Input validation shared by every endpoint: strict about keys the endpoint does not declare."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from typing_extensions import override


class StrictInput(serializers.Serializer):
    """Refuses keys it does not declare, so a client cannot slip in `role`, an owner or a typo.

    `read_only_names` are keys a client may see in responses but never write; they get
    their own message. Unknown keys are reported together with the other field errors.
    """

    read_only_names: frozenset[str] = frozenset()

    @override
    def to_internal_value(self, data: object) -> dict[str, Any]:
        extra: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            for name in sorted(set(data) - set(self.fields)):
                extra[name] = ["read-only field" if name in self.read_only_names else "unknown field"]
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if extra and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **extra}) from None
            raise
        if extra:
            raise serializers.ValidationError(extra)
        return value
