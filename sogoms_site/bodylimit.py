"""Request bodies bounded before Django reads them, under ASGI and WSGI alike.

Django's ASGI handler reads a whole body into a temporary file (on disk past 2.5 MB)
before any middleware runs, so a limit checked in middleware comes after the disk has
filled. These wrappers sit around the Django application instead:

- a `Content-Length` over `SOGOMS_MAX_BODY_BYTES` is answered 413 before a byte of the
  body is read;
- a body without one (`Transfer-Encoding: chunked`) is counted as it arrives and cut at
  the limit with the same 413, and what was read is dropped;
- a body within the limit is kept in memory (at most the limit) and handed to Django,
  with the length a chunked one turned out to have (Django and DRF read no body without).

The answer is the contract's envelope (`PAYLOAD_TOO_LARGE`) with a request id, and the
connection is closed, since the rest of the body was never read.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import IO, Any

from django.conf import settings

from sogoms_site.api.envelope import error_body, render_json
from sogoms_site.requestid import new_request_id, reset_request_id, set_request_id

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_READ_SIZE = 64 * 1024


class Refusal:
    """An error answer made at the edge: status, envelope body and headers."""

    def __init__(self, status: int, code: str, message: str, incoming_request_id: str | None) -> None:
        self.status = status
        self.request_id = new_request_id(incoming_request_id)
        token = set_request_id(self.request_id)
        try:
            self.body = render_json(error_body(code, message))
        finally:
            reset_request_id(token)
        self.headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(self.body))),
            ("X-Request-ID", self.request_id),
            ("Connection", "close"),
        ]


def _too_large(limit: int, request_id: str | None) -> Refusal:
    return Refusal(413, "PAYLOAD_TOO_LARGE", f"The request body is larger than {limit} bytes.", request_id)


def _declared_length(values: list[str], limit: int, request_id: str | None) -> Refusal | None:
    """The refusal a Content-Length header earns, if any (an absent one earns none)."""
    if not values:
        return None
    declared = values[0].strip()
    # ASCII digits only: str.isdigit() also takes "²" and other scripts' digits, which int() refuses.
    if len(set(values)) > 1 or not (declared.isascii() and declared.isdigit()):
        return Refusal(400, "VALIDATION_ERROR", "Content-Length is not a number.", request_id)
    if int(declared) > limit:
        return _too_large(limit, request_id)
    return None


class AsgiBodyLimit:
    """Wraps the HTTP side of an ASGI application; other scopes pass through untouched."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit: int = settings.SOGOMS_MAX_BODY_BYTES
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        lengths = [value.decode("latin-1") for name, value in headers if name.lower() == b"content-length"]
        request_ids = [value.decode("latin-1") for name, value in headers if name.lower() == b"x-request-id"]
        request_id = request_ids[0] if request_ids else None
        refusal = _declared_length(lengths, limit, request_id)
        if refusal is not None:
            await _send_refusal(send, refusal)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left: nobody to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _send_refusal(send, _too_large(limit, request_id))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if not lengths:  # chunked: say how long it turned out to be (DRF reads no body without)
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that gives the body read so far, then whatever the client sends next."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replayed


async def _send_refusal(send: Send, refusal: Refusal) -> None:
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in refusal.headers]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": refusal.body, "more_body": False})


class WsgiBodyLimit:
    """Wraps a WSGI application: the same limits on `wsgi.input`.

    Django reads `Content-Length` bytes and nothing without it; a chunked body (gunicorn
    passes one with `wsgi.input_terminated`) is read here up to the limit and handed on
    with the length it turned out to have.
    """

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        limit: int = settings.SOGOMS_MAX_BODY_BYTES
        declared = environ.get("CONTENT_LENGTH") or ""
        request_id = environ.get("HTTP_X_REQUEST_ID")
        refusal = _declared_length([declared] if declared else [], limit, request_id)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if refusal is None and not declared and chunked:
            body = _read_at_most(environ["wsgi.input"], limit)
            if body is None:
                refusal = _too_large(limit, request_id)
            else:
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
        if refusal is not None:
            status = {400: "400 Bad Request", 413: "413 Content Too Large"}[refusal.status]
            start_response(status, refusal.headers)
            return [refusal.body]
        return self.app(environ, start_response)


def _read_at_most(stream: IO[bytes], limit: int) -> bytes | None:
    """The whole stream if it holds at most `limit` bytes, else None, having read at most limit + 1."""
    buffer = bytearray()
    while len(buffer) <= limit:
        chunk = stream.read(min(_READ_SIZE, limit + 1 - len(buffer)))
        if not chunk:
            return bytes(buffer)
        buffer += chunk
    return None
