"""Bench-only settings: SOGOMS's settings with async-capable versions of its middleware.

Run with DJANGO_SETTINGS_MODULE=experiments.settings_async_middleware and bench/ on
PYTHONPATH (bench/README.md). Nothing else differs from sogoms_site.settings.
"""

from sogoms_site.settings import *  # noqa: F403
from sogoms_site.settings import MIDDLEWARE as _BASE

_SWAP = {
    "sogoms_site.middleware.RequestIdMiddleware": "experiments.async_middleware.AsyncRequestIdMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware": "experiments.async_middleware.AsyncWhiteNoiseMiddleware",
    "tenants.middleware.TenantMiddleware": "experiments.async_middleware.AsyncTenantMiddleware",
    "sogoms_site.middleware.ApiErrorMiddleware": "experiments.async_middleware.AsyncApiErrorMiddleware",
}
MIDDLEWARE = [_SWAP.get(name, name) for name in _BASE]
