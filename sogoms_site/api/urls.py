"""The routes every tenant gets under its base path, gathered from the apps."""

from __future__ import annotations


def api_urlpatterns() -> list:
    from cron.urls import urlpatterns as cron_urls
    from crud.urls import resource_urlpatterns
    from crud.urls import urlpatterns as crud_urls
    from mail.urls import urlpatterns as mail_urls
    from realtime.urls import urlpatterns as push_urls
    from tenants.auth.urls import urlpatterns as auth_urls

    # The resources first: nearly every request is one, and their names never match the
    # other routes (crud.urls).
    return [*resource_urlpatterns, *auth_urls, *mail_urls, *cron_urls, *push_urls, *crud_urls]
