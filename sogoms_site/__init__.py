"""SOGOMS site package: settings, URLs, ASGI/WSGI entry points and the API response contract."""
