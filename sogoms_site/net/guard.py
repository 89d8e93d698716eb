"""The guard of outgoing requests to URLs that tenants write (server-side request forgery).

Before connecting, the host name is resolved and every address is vetted: private,
loopback, link-local, multicast, reserved, unspecified and shared addresses are refused,
also when an IPv6 address only wraps one of them. The caller then connects to the vetted
address itself (sogoms_site.net.client), so a second DNS answer (DNS rebinding) cannot
redirect it. An allow-list opens named hosts or networks on purpose (an intranet service,
or a test server on 127.0.0.1).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): a gateway turns them into the
# IPv4 address in their low 32 bits, so that IPv4 address is what gets reached.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d form
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
_HOST_CHARS = re.compile(r"[a-z0-9._-]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Set by the client from the URL and the body; a caller's value would contradict the request.
RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class RequestFailed(Exception):
    """The request did not succeed; the message is written for the tenant's operators."""


class TargetRefused(RequestFailed):
    """The guard refuses the target; nothing was contacted and retrying cannot help."""


def _parse_ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """Read ``host`` the way inet_aton (and so the resolver) does: 1 to 4 parts, each decimal,
    octal (leading 0) or hex (0x), the last filling the remaining bytes; ``2130706433``,
    ``0x7f.1`` and ``0177.0.0.1`` all mean 127.0.0.1. None when ``host`` is not all numbers."""
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_LABEL.fullmatch(part) for part in parts):
        return None
    values = []
    for part in parts:
        if part.startswith("0x"):
            values.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            try:
                values.append(int(part, 8))
            except ValueError:
                raise ValueError(f"{host!r} is not a valid IPv4 address") from None
        else:
            values.append(int(part))
    *head, last = values
    if any(value > 255 for value in head) or last >= 256 ** (4 - len(head)):
        raise ValueError(f"{host!r} is not a valid IPv4 address")
    number = last
    for index, value in enumerate(head):
        number += value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


class Target:
    """The parts of a checked URL that the request is made of; ValueError says what is wrong."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            shown = f", not {parts.scheme}://" if parts.scheme else ""
            raise ValueError(f"the URL must start with http:// or https://{shown}")
        if parts.username is not None or parts.password is not None:
            raise ValueError("the URL must not carry a user name or password; send them in headers")
        raw_host = parts.hostname
        if not raw_host:
            raise ValueError("the URL has no host name")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the URL has an invalid port") from None
        self.scheme = parts.scheme
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.address: IPAddress | None = None
        if ":" in raw_host:  # only IPv6 literals ([...] in the URL) have a colon here
            try:
                self.address = ipaddress.IPv6Address(raw_host)
            except ValueError:
                raise ValueError(f"{raw_host!r} is not a valid IPv6 address") from None
            self.host = raw_host
        else:
            try:
                host = raw_host.encode("idna").decode("ascii").lower()
            except UnicodeError:
                raise ValueError(f"{raw_host!r} is not a valid host name") from None
            if not _HOST_CHARS.fullmatch(host):
                raise ValueError(f"{raw_host!r} is not a valid host name")
            self.address = _parse_ipv4_number(host)
            self.host = str(self.address) if self.address else host.removesuffix(".")
        host_in_header = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if self.scheme == "https" else 80
        self.host_header = host_in_header if self.port == default_port else f"{host_in_header}:{self.port}"
        self.path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def header_problem(name: str, value: str) -> str | None:
    """Why a caller's header cannot be sent as given, or None."""
    if not _HEADER_NAME.fullmatch(name):
        return f"{name!r} is not a valid header name"
    if name.lower() in RESERVED_HEADERS:
        return f"header {name} is set from the URL and body, not here"
    # A line break would let a value start a header or request of its own.
    if any(ch in value for ch in "\r\n\0"):
        return f"the value of header {name} must not contain line breaks"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when traffic to it ends up there."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if any(address in prefix for prefix in _NAT64):
        return low32
    # ::/96 is the IPv4-compatible form, except :: and ::1 which are IPv6's own.
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return low32
    return None


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be contacted, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            reason = refusal(inner)
            return f"an IPv6 form of {inner}, which is {reason}" if reason else None
        if address.is_site_local:
            return "a site-local address"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("shared (carrier-grade NAT)", isinstance(address, ipaddress.IPv4Address) and address in _SHARED),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        # is_global also catches the special-purpose ranges the flags above leave out.
        ("not public", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{'an' if name[0] in 'aeiou' else 'a'} {name} address"
    return None


def parse_allow(allow: Sequence[str]) -> tuple[set[str], list[IPNetwork]]:
    """The allow-list as host names and networks; TargetRefused names a bad entry."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in allow:
        entry = entry.strip().lower()
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if not entry or not _HOST_CHARS.fullmatch(entry):
                raise TargetRefused(
                    f"allow-list entry {entry!r} is neither a host name nor a network"
                ) from None
            names.add(entry.removesuffix("."))
    return names, networks


def _unmapped(address: IPAddress) -> IPAddress:
    # ::ffff:a.b.c.d is the IPv4 host a.b.c.d itself, so it matches IPv4 networks.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _resolve(target: Target) -> list[IPAddress]:
    if target.address is not None:
        return [target.address]
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RequestFailed(f"cannot resolve {target.host}: {exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        # The scope of a link-local address (fe80::1%eth0) is dropped; it is refused anyway.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise RequestFailed(f"cannot resolve {target.host}: no addresses")
    return addresses


def vetted_addresses(target: Target, allow: Sequence[str]) -> list[IPAddress]:
    """The addresses to connect to, all of them checked; TargetRefused when any is refused."""
    names, networks = parse_allow(allow)
    if target.host in names:
        return _resolve(target)
    # localhost and *.localhost mean this machine whatever DNS says (RFC 6761).
    if target.host == "localhost" or target.host.endswith(".localhost"):
        raise TargetRefused(f"{target.host} is this machine; add it to the allow-list to call it")
    addresses = _resolve(target)
    for address in addresses:
        if any(_unmapped(address) in network for network in networks):
            continue
        reason = refusal(address)
        if reason:
            # A host with one bad address is refused as a whole: which one a later lookup
            # returns is up to whoever runs its DNS.
            what = f"is {reason}" if target.address is not None else f"resolves to {address}, {reason}"
            raise TargetRefused(f"{target.host} {what}; refused unless the allow-list names it")
    return addresses


# -- the request -----------------------------------------------------------------------------
