"""Outgoing HTTP to a tenant's URL through the guard: pinned address, time limit, bounded body.

The connection goes to the address the guard vetted, while the Host header and the TLS
name check still use the host name. Redirects are never followed: the caller sees the 3xx.
Scheduled http jobs use it today; outgoing webhooks are its next user.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sogoms_site.net.guard import IPAddress, RequestFailed, Target, vetted_addresses

# The body is read only this far: enough to count and quote it, and a target that streams
# without end cannot fill the worker's memory.
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class GuardedResponse:
    status: int
    location: str
    content: bytes  # at most MAX_BODY_BYTES + one read

    @property
    def truncated(self) -> bool:
        return len(self.content) > MAX_BODY_BYTES


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and the certificate check on the host name."""

    def __init__(self, address: str, port: int, *, server_hostname: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(address, port, timeout=timeout, context=self.tls)
        self.server_hostname = server_hostname

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP to the vetted address
        self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.server_hostname)


def _connection(target: Target, address: IPAddress, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(str(address), target.port, server_hostname=target.host, timeout=timeout)
    return http.client.HTTPConnection(str(address), target.port, timeout=timeout)


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


def _exchange(
    method: str, target: Target, addresses: list[IPAddress], body: bytes | None, headers: dict, timeout: float
) -> GuardedResponse:
    deadline = time.monotonic() + timeout
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
            conn.request(method, target.path, body=body, headers=headers)
            response = conn.getresponse()
            content = _read_body(response, conn, deadline)
            return GuardedResponse(response.status, response.getheader("Location", "") or "", content)
        finally:
            conn.close()
    if last_error is not None:
        raise last_error
    raise TimeoutError


def guarded_request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
    timeout: float,
    allow: Sequence[str] = (),
) -> GuardedResponse:
    """Send one request to `url` unless the guard refuses it.

    Raises TargetRefused when the guard refuses the target (nothing is contacted then), and
    RequestFailed on a network error, a TLS failure or no answer within `timeout` seconds.
    `headers` are sent as given, with Host set from the URL.
    """
    target = Target(url)
    addresses = vetted_addresses(target, allow)
    sent = {name: value for name, value in headers.items() if name.lower() != "host"}
    sent["Host"] = target.host_header
    shown = f"{method} {url}"
    try:
        return _exchange(method, target, addresses, body, sent, timeout)
    except TimeoutError:
        raise RequestFailed(f"{shown}: no answer within {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise RequestFailed(f"{shown}: TLS failed: {exc}") from None
    except (OSError, http.client.HTTPException) as exc:
        raise RequestFailed(f"{shown}: {exc.__class__.__name__}: {exc}") from None
