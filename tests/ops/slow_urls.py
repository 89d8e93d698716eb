"""The site's URL conf plus `/test-only/slow?seconds=N&mark=NAME` (tests.ops.slow_settings).

The view first creates `$SOGOMS_VAR_DIR/NAME`, so a test knows the request is in flight,
then sleeps, then answers 200 with a body long enough that a cut-off answer shows.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

from sogoms_site.urls import urlpatterns as site_urlpatterns

BODY_PAD = "x" * 100_000


def slow(request: HttpRequest) -> JsonResponse:
    seconds = min(float(request.GET.get("seconds", "1")), 60.0)
    mark = request.GET.get("mark", "")
    if mark.isalnum():
        (Path(settings.VAR_DIR) / mark).touch()
    time.sleep(seconds)
    return JsonResponse({"slept": seconds, "pad": BODY_PAD})


urlpatterns = [path("test-only/slow", slow), *site_urlpatterns]
