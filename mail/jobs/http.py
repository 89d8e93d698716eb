"""The ``http`` kind of scheduled job: one GET or POST to a tenant's URL, with a time limit.

A tenant writes the URL, so the request must not become a way into the network the server
sits in (server-side request forgery). Before connecting, the host name is resolved and every
address is vetted: private, loopback, link-local, multicast, reserved, unspecified and shared
addresses are refused, also when an IPv6 address only wraps one of them. The connection then
goes to the vetted address itself, so a second DNS answer (DNS rebinding) cannot redirect it,
while the Host header and the TLS name check still use the host name. Redirects are never
followed: a 3xx is reported as it is. The tenant's allow-list opens named hosts or networks
on purpose (an intranet service, or a test server on 127.0.0.1).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import re
import socket
import ssl
import time
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

OUTPUT_BODY_CHARS = 1_000
# The body is read only this far: enough to count and quote it, and a target that streams
# without end cannot fill the worker's memory.
MAX_BODY_BYTES = 1024 * 1024
USER_AGENT = "SOGOMS-cron/1"

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
# NAT64 prefixes (RFC 6052 well-known, RFC 8215 local use): a gateway turns them into the
# IPv4 address in their low 32 bits, so that IPv4 address is what gets reached.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d form
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
_HOST_CHARS = re.compile(r"[a-z0-9._-]+")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# Set here from the URL and the body; a tenant's value would contradict the request sent.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


class JobFailed(Exception):
    """The job ran and did not succeed; the message is written for the tenant's operators."""


class JobRefused(JobFailed):
    """The target is refused by the guard; retrying cannot help, so it is never retried."""


def _error(kind: str, message: str) -> PydanticCustomError:
    # A custom error keeps the message as written, without pydantic's "Value error, " prefix.
    return PydanticCustomError(kind, message)


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


class _Target:
    """The parts of a checked URL that the request is made of."""

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


class HttpParams(BaseModel):
    """The ``params`` of an ``http`` job, as the tenant writes them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    method: Literal["GET", "POST"] = "GET"
    timeout: float = Field(10, gt=0, le=120, description="seconds for the whole request")
    headers: dict[str, str] = {}
    body: str | dict[str, Any] | list[Any] | None = None
    expect_status: list[int] | None = Field(None, min_length=1)

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str) -> str:
        url = url.strip()
        if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
            raise _error("http_url", "the URL must not contain spaces or control characters")
        try:
            _Target(url)
        except ValueError as exc:
            raise _error("http_url", str(exc)) from None
        return url

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.fullmatch(name):
                raise _error("http_header", f"{name!r} is not a valid header name")
            if name.lower() in _RESERVED_HEADERS:
                raise _error("http_header", f"header {name} is set from the URL and body, not here")
            # A line break would let a value start a header or request of its own.
            if any(ch in value for ch in "\r\n\0"):
                raise _error("http_header", f"the value of header {name} must not contain line breaks")
        return headers

    @field_validator("expect_status")
    @classmethod
    def _check_statuses(cls, statuses: list[int] | None) -> list[int] | None:
        for status in statuses or ():
            if not 100 <= status <= 599:
                raise _error("http_status", f"{status} is not an HTTP status (100 to 599)")
        return statuses

    @model_validator(mode="after")
    def _body_needs_post(self) -> HttpParams:
        if self.body is not None and self.method != "POST":
            raise _error("http_body", "a body is sent only with method POST")
        return self


# -- the guard -------------------------------------------------------------------------------


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


def _refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be contacted, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            reason = _refusal(inner)
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
    """The allow-list as host names and networks; JobRefused names a bad entry."""
    names: set[str] = set()
    networks: list[IPNetwork] = []
    for entry in allow:
        entry = entry.strip().lower()
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if not entry or not _HOST_CHARS.fullmatch(entry):
                raise JobRefused(f"allow-list entry {entry!r} is neither a host name nor a network") from None
            names.add(entry.removesuffix("."))
    return names, networks


def _unmapped(address: IPAddress) -> IPAddress:
    # ::ffff:a.b.c.d is the IPv4 host a.b.c.d itself, so it matches IPv4 networks.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _resolve(target: _Target) -> list[IPAddress]:
    if target.address is not None:
        return [target.address]
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise JobFailed(f"cannot resolve {target.host}: {exc}") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonname, sockaddr in infos:
        # The scope of a link-local address (fe80::1%eth0) is dropped; it is refused anyway.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise JobFailed(f"cannot resolve {target.host}: no addresses")
    return addresses


def _vetted_addresses(target: _Target, allow: Sequence[str]) -> list[IPAddress]:
    """The addresses to connect to, all of them checked; JobRefused when any is refused."""
    names, networks = parse_allow(allow)
    if target.host in names:
        return _resolve(target)
    # localhost and *.localhost mean this machine whatever DNS says (RFC 6761).
    if target.host == "localhost" or target.host.endswith(".localhost"):
        raise JobRefused(f"{target.host} is this machine; add it to the allow-list to call it")
    addresses = _resolve(target)
    for address in addresses:
        if any(_unmapped(address) in network for network in networks):
            continue
        reason = _refusal(address)
        if reason:
            # A host with one bad address is refused as a whole: which one a later lookup
            # returns is up to whoever runs its DNS.
            what = f"is {reason}" if target.address is not None else f"resolves to {address}, {reason}"
            raise JobRefused(f"{target.host} {what}; refused unless the allow-list names it")
    return addresses


# -- the request -----------------------------------------------------------------------------


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and the certificate check on the host name."""

    def __init__(self, address: str, port: int, *, server_hostname: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_hostname = server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP to the vetted address
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_hostname)


def _connection(target: _Target, address: IPAddress, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(str(address), target.port, server_hostname=target.host, timeout=timeout)
    return http.client.HTTPConnection(str(address), target.port, timeout=timeout)


def _request_body(params: HttpParams) -> tuple[bytes | None, dict[str, str]]:
    headers = {"User-Agent": USER_AGENT, "Accept": "*/*"}
    if params.body is None:
        return None, headers
    if isinstance(params.body, str):
        headers["Content-Type"] = "text/plain; charset=utf-8"
        return params.body.encode(), headers
    headers["Content-Type"] = "application/json"
    return json.dumps(params.body).encode(), headers


def _read_body(
    response: http.client.HTTPResponse, conn: http.client.HTTPConnection, deadline: float
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY_BYTES:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if conn.sock is not None:
            # The socket timeout bounds one read; the deadline bounds the whole body.
            conn.sock.settimeout(remaining)
        chunk = response.read1(64 * 1024)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _exchange(params: HttpParams, target: _Target, addresses: list[IPAddress]) -> tuple[int, str, bytes]:
    body, headers = _request_body(params)
    # Tenant headers win over the defaults, but never over Host (names differ only in case).
    own = {name.lower() for name in params.headers}
    headers = {name: value for name, value in headers.items() if name.lower() not in own}
    headers.update(params.headers)
    headers["Host"] = target.host_header
    deadline = time.monotonic() + params.timeout
    last_error: OSError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        conn = _connection(target, address, remaining)
        try:
            try:
                conn.connect()
            except TimeoutError:
                raise
            except OSError as exc:
                # An unreachable address (often IPv6 without a route) lets the next one try.
                last_error = exc
                continue
            conn.request(params.method, target.path, body=body, headers=headers)
            response = conn.getresponse()
            content = _read_body(response, conn, deadline)
            return response.status, response.getheader("Location", ""), content
        finally:
            conn.close()
    if last_error is not None:
        raise last_error
    raise TimeoutError


def _text(content: bytes) -> str:
    return content[: OUTPUT_BODY_CHARS * 4].decode("utf-8", errors="replace")[:OUTPUT_BODY_CHARS]


def run_http(params: HttpParams, *, allow: Sequence[str] = ()) -> str:
    """Make the request; return a short report of it, the start of the body included.

    Raises JobRefused when the guard refuses the target (nothing is contacted then), and
    JobFailed on a network error, a timeout or a status other than the expected ones.
    """
    target = _Target(params.url)
    addresses = _vetted_addresses(target, allow)
    shown = f"{params.method} {params.url}"
    try:
        status, location, content = _exchange(params, target, addresses)
    except TimeoutError:
        raise JobFailed(f"{shown}: no answer within {params.timeout:g} s") from None
    except ssl.SSLError as exc:
        raise JobFailed(f"{shown}: TLS failed: {exc}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise JobFailed(f"{shown}: {exc.__class__.__name__}: {exc}") from None
    size = f"{len(content)} bytes" if len(content) <= MAX_BODY_BYTES else f"over {MAX_BODY_BYTES} bytes"
    summary = f"{shown} -> {status} ({size})"
    if location and 300 <= status < 400:
        summary += f", redirect to {location} not followed"
    expected = status in params.expect_status if params.expect_status else 200 <= status < 300
    text = _text(content)
    if not expected:
        wanted = ", ".join(map(str, params.expect_status)) if params.expect_status else "2xx"
        raise JobFailed(f"{summary}, expected {wanted}" + (f"\n{text}" if text else ""))
    return f"{summary}\n{text}" if text else summary
