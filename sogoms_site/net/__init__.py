"""Outgoing HTTP to addresses that tenants choose, guarded against server-side request forgery.

One place for every feature that calls a tenant's URL (scheduled http jobs, webhooks):
`guarded_request` vets the target (`guard`) and connects to the vetted address (`client`).
"""

from sogoms_site.net.client import MAX_BODY_BYTES, GuardedResponse, guarded_request
from sogoms_site.net.guard import (
    RESERVED_HEADERS,
    RequestFailed,
    Target,
    TargetRefused,
    header_problem,
    parse_allow,
)

__all__ = [
    "MAX_BODY_BYTES",
    "RESERVED_HEADERS",
    "GuardedResponse",
    "RequestFailed",
    "Target",
    "TargetRefused",
    "guarded_request",
    "header_problem",
    "parse_allow",
]
