"""Input validation shared by every endpoint: strict about keys the endpoint does not declare."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from rest_framework import serializers
from rest_framework.utils.serializer_helpers import BindingDict
from typing_extensions import override


class StrictInput(serializers.Serializer):
    """Refuses keys it does not declare, so a client cannot slip in `role`, an owner or a typo.

    `read_only_names` are keys a client may see in responses but never write; they get
    their own message. Unknown keys are reported together with the other field errors.
    """

    read_only_names: frozenset[str] = frozenset()
    _shared_fields: BindingDict

    @cached_property
    @override
    def fields(self) -> BindingDict:
        """The class's fields, made and bound once instead of deep-copied per instance.

        DRF copies every declared field for each serializer so that one instance may
        change its own; an input never does, and the copy was about a tenth of a write's
        CPU. A field's validation reads only its own settings, so one set serves every
        request and thread. An instance given a context or `partial` (which fields read
        through their root) still gets fields of its own.
        """
        if self.partial or self._context:
            return super().fields
        cls = type(self)
        # kept on the class itself (not inherited: each class has its own fields), so
        # they go when a reloaded config's classes do
        shared: BindingDict | None = cls.__dict__.get("_shared_fields")
        if shared is None:  # two threads may both build it; either result is the same
            template = cls()
            shared = BindingDict(template)
            for name, field in template.get_fields().items():
                shared[name] = field
            cls._shared_fields = shared
        return shared

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
