"""The JSON renderer of the API: envelopes pass through, anything else is wrapped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.renderers import JSONRenderer
from typing_extensions import override

from sogoms_site.api.envelope import Envelope, render_json, success_body


class EnvelopeRenderer(JSONRenderer):
    charset = None  # application/json carries no charset parameter (RFC 8259)

    @override
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return render_json(data if isinstance(data, Envelope) else success_body(data))
