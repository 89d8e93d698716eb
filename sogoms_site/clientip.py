"""The client's IP address, trusting X-Forwarded-For only from the proxies named in settings.

Each proxy appends the address it received the request from to X-Forwarded-For, so only
the right end of the header is written by proxies we run; everything to its left came
from the client and may be anything. The client is therefore the right-most hop that is
not one of ours, never the left-most entry.

`SOGOMS_TRUSTED_PROXIES` says which hops are ours, either as a count (`1`: one proxy in
front, the usual nginx; `2`: a load balancer and nginx) or as a comma-separated list of
addresses and networks (`10.0.0.0/8, 127.0.0.1`). Empty: no proxy, X-Forwarded-For is
ignored and the peer address is the client. The older `SOGOMS_TRUST_X_FORWARDED_FOR=1`
means `SOGOMS_TRUSTED_PROXIES=1`.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_trusted_proxies(value: str) -> int | tuple[Network, ...]:
    """A count of proxies, or the networks they live in; ValueError on anything else."""
    value = value.strip()
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    networks = []
    for item in value.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"{item.strip()!r} is neither a proxy count nor an address or network"
                ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    peer = request.META.get("REMOTE_ADDR", "") or "unknown"
    trusted = parse_trusted_proxies(settings.SOGOMS_TRUSTED_PROXIES)
    if not trusted:
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    # Left to right as the request travelled: X-Forwarded-For's entries, then the peer.
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()] + [peer]
    if isinstance(trusted, int):
        index = max(0, len(hops) - 1 - trusted)
    else:
        index = len(hops) - 1
        while index > 0 and _is_trusted(hops[index], trusted):
            index -= 1
    # A hop that is not an address was not written by a proxy of ours: answer with the
    # nearest one to its right, which was.
    while index < len(hops) - 1 and _address(hops[index]) is None:
        index += 1
    return hops[index]


def _is_trusted(hop: str, networks: tuple[Network, ...]) -> bool:
    address = _address(hop)
    return address is not None and any(address in network for network in networks)
