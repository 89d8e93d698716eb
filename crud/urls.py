"""Resource routes, mounted under each tenant's base path.

The two resource routes come first, so a resource's request (nearly every request) is
resolved by its first or second pattern instead of after every other route has failed
(each failed `include()` costs Django an exception). They step aside for the paths of the
other apps, which all start with `_` or `auth/` (crud.config.RESERVED_NAMES), so those
resolve as before; the route text (a metric's label) is unchanged.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.urls.resolvers import ResolverMatch, RoutePattern
from typing_extensions import override

from crud import describe_views, views


class ResourcePattern(URLPattern):
    """`<str:resource>...`, except where the first segment is another app's route."""

    def __init__(self, route: str, view: Any) -> None:
        super().__init__(RoutePattern(route, is_endpoint=True), view)

    @override
    def resolve(self, path: str) -> ResolverMatch | None:
        if path.startswith(("_", "auth/")) or path == "auth":
            return None
        return super().resolve(path)


resource_urlpatterns = [
    ResourcePattern("<str:resource>", views.CollectionView.as_view()),
    ResourcePattern("<str:resource>/<str:pk>", views.ItemView.as_view()),
]
urlpatterns = [
    path("_schema", describe_views.DictionaryView.as_view()),
    path("_schema/<str:table>", describe_views.DictionaryView.as_view()),
    path("_openapi", describe_views.OpenApiView.as_view()),
    path("_docs", describe_views.swagger_ui),
]
