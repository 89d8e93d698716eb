"""The JSON renderer of the API: envelopes pass through, anything else is wrapped."""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer

from sogoms_site.api.envelope import Envelope, render_json, success_body


class EnvelopeRenderer(JSONRenderer):
    charset = None  # application/json carries no charset parameter (RFC 8259)

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return render_json(data if isinstance(data, Envelope) else success_body(data))
