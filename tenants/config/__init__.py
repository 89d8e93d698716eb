"""The tenant configuration: YAML files validated into immutable `Tenant` objects.

`load_config()` is the one loader; everything else reads the `Registry` it returns.
"""

from tenants.config.loader import ConfigProblem, LoadResult, load_config
from tenants.config.model import OAuthProvider, OAuthSettings, RateLimit, Registry, Tenant

__all__ = [
    "ConfigProblem",
    "LoadResult",
    "OAuthProvider",
    "OAuthSettings",
    "RateLimit",
    "Registry",
    "Tenant",
    "load_config",
]
