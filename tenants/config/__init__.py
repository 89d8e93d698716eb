"""The tenant configuration: YAML files validated into immutable `Tenant` objects.

`load_config()` is the one loader; everything else reads the `Registry` it returns.
"""

from tenants.config.loader import ConfigProblem, LoadResult, load_config
from tenants.config.model import ApiLimits, OAuthProvider, OAuthSettings, RateLimit, Registry, Tenant

__all__ = [
    "ApiLimits",
    "ConfigProblem",
    "LoadResult",
    "OAuthProvider",
    "OAuthSettings",
    "RateLimit",
    "Registry",
    "Tenant",
    "load_config",
]
