"""SOGOMS site package: settings, URLs, ASGI/WSGI entry points, the Celery app and the API contract."""

from sogoms_site.celery import app as celery_app

__all__ = ["celery_app"]
