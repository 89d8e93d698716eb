"""Content negotiation of the API: DRF's, with the common Accept headers answered at once.

Every answer is the JSON envelope. A request that accepts it as nearly every client asks
(no Accept header, `*/*`, `application/json`) gets the JSON renderer without DRF parsing
the header and ranking media types, which cost a few percent of a short request; any
other header, or a `format` override, goes through DRF's negotiation as before (one that
refuses JSON is a 400: errors.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from typing_extensions import override

JSON_AT_ONCE = frozenset({"", "*/*", "application/json"})


class EnvelopeNegotiation(DefaultContentNegotiation):
    @override
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, Any]:
        renderers = list(renderers)
        first = renderers[0] if renderers else None
        if (
            first is not None
            and first.media_type == "application/json"
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT", "").strip() in JSON_AT_ONCE
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)
