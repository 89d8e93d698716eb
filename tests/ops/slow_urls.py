"""The site's URL conf plus two test-only paths (tests.ops.slow_settings).

`/test-only/slow?seconds=N&mark=NAME` first creates `$SOGOMS_VAR_DIR/NAME`, so a test knows
the request is in flight, then sleeps, then answers 200 with a body long enough that a
cut-off answer shows. `/test-only/release` answers the content `$SOGOMS_VAR_DIR/release`
had when this process imported the code: which release a worker runs.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import path

from sogoms_site.urls import urlpatterns as site_urlpatterns

BODY_PAD = "x" * 100_000
_release_file = Path(settings.VAR_DIR) / "release"
RELEASE = _release_file.read_text().strip() if _release_file.exists() else ""


def slow(request: HttpRequest) -> JsonResponse:
    seconds = min(float(request.GET.get("seconds", "1")), 60.0)
    mark = request.GET.get("mark", "")
    if mark.isalnum():
        (Path(settings.VAR_DIR) / mark).touch()
    time.sleep(seconds)
    return JsonResponse({"slept": seconds, "pad": BODY_PAD})


def release(_request: HttpRequest) -> JsonResponse:
    return JsonResponse({"release": RELEASE})


urlpatterns = [path("test-only/slow", slow), path("test-only/release", release), *site_urlpatterns]
