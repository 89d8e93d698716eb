"""Body limits at the server's edge, on real uvicorn (ASGI) and granian (WSGI, the production
HTTP command) processes.

Django's ASGI handler would read any body into a temporary file before a middleware could
refuse it; the edge wrappers refuse a declared length over the limit before reading, and
cut a chunked body at the limit with 413 while the client is still sending.
"""

from __future__ import annotations

import io
import json
import socket
import sys
from contextlib import contextmanager

import pytest

from sogoms_site.bodylimit import WsgiBodyLimit
from sogoms_site.serving import http_server_args
from tests.realtime.servers import PASSWORD, free_port, prepare_site, served, uvicorn

LIMIT = 4096
BODY = json.dumps({"email": "edge@example.com", "password": PASSWORD, "name": "Edge"}).encode()
LOGIN = json.dumps({"email": "edge@example.com", "password": PASSWORD}).encode()


@contextmanager
def granian(env: dict, port: int):
    command = [sys.executable, "-m", "granian", *http_server_args("127.0.0.1", port, workers=1)]
    with served(command, env, port) as address:
        yield address


@pytest.fixture(scope="module")
def site_env(tmp_path_factory):
    env = prepare_site(tmp_path_factory.mktemp("edge"))
    env["SOGOMS_MAX_BODY_BYTES"] = str(LIMIT)
    return env


@pytest.fixture(scope="module", params=["uvicorn", "granian"])
def server(request, site_env):
    start = uvicorn if request.param == "uvicorn" else granian
    with start(site_env, free_port()) as address:
        yield address


def connect(address: str) -> socket.socket:
    host, port = address.split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def read_response(sock: socket.socket, timeout: float = 5) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of one response; fails if none comes in `timeout`."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        assert part, f"the server closed without answering: {data!r}"
        data += part
    header_block, rest = data.split(b"\r\n\r\n", 1)
    status_line, *lines = header_block.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (line.split(":", 1) for line in lines)}
    length = int(headers["content-length"])
    while len(rest) < length:
        part = sock.recv(65536)
        assert part
        rest += part
    return int(status_line.split()[1]), headers, json.loads(rest[:length])


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server hangs up while we keep sending (it reads no more of the body)."""
    sock.settimeout(5)
    try:
        for _ in range(2000):  # up to ~64 MB: far past anything a server would buffer for us
            sock.sendall(chunk(b"x" * 32768))
    except (BrokenPipeError, ConnectionResetError):
        return True
    return False


def test_a_chunked_body_past_the_limit_is_refused_while_the_client_still_sends(server):
    with connect(server) as sock:
        sock.sendall(head("/api/auth/register", "Transfer-Encoding: chunked"))
        for _ in range(3):
            sock.sendall(chunk(b" " * 2048))  # 6 KiB sent, the body not finished

        status, headers, body = read_response(sock)

        assert status == 413
        assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert body["error"]["request_id"] == headers["x-request-id"]
        assert closed_by_server(sock)


def test_a_declared_length_past_the_limit_is_refused_before_any_body(server):
    with connect(server) as sock:
        sock.sendall(head("/api/auth/register", "Content-Length: 1000000000"))

        status, _, body = read_response(sock)

    assert status == 413
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_the_limit_holds_on_the_operators_paths_too(server):
    with connect(server) as sock:
        sock.sendall(head("/admin/login/", "Transfer-Encoding: chunked"))
        sock.sendall(chunk(b"a" * (LIMIT + 1)))

        status, _, body = read_response(sock)

    assert status == 413
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_within_the_limit_reaches_the_view(server):
    with connect(server) as sock:
        sock.sendall(head("/api/auth/register", "Transfer-Encoding: chunked"))
        sock.sendall(chunk(BODY[:10]) + chunk(BODY[10:]) + b"0\r\n\r\n")

        status, _, body = read_response(sock)

    assert status in (201, 409), body  # 409 on the second server: the same e-mail
    if status == 409:
        assert body["error"]["code"] == "CONFLICT"


def test_a_sized_body_within_the_limit_reaches_the_view(server):
    with connect(server) as sock:
        sock.sendall(head("/api/auth/login", f"Content-Length: {len(LOGIN)}") + LOGIN)

        status, _, body = read_response(sock)

    assert status in (200, 401), body  # the e-mail exists on one server only
    assert body["success"] is (status == 200)


# --- the WSGI wrapper's reading, counted ----------------------------------------------


class EndlessInput:
    def __init__(self) -> None:
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        assert size > 0, "an unbounded read"
        self.read_bytes += size
        return b"x" * size


def test_the_wsgi_wrapper_reads_a_chunked_body_no_further_than_the_limit(settings):
    settings.SOGOMS_MAX_BODY_BYTES = LIMIT
    stream = EndlessInput()
    statuses: list[str] = []

    def app(environ, start_response):  # pragma: no cover  (must not be reached)
        raise AssertionError("the application read an oversize body")

    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": stream, "REQUEST_METHOD": "POST"}
    body = b"".join(WsgiBodyLimit(app)(environ, lambda status, headers: statuses.append(status)))

    assert statuses == ["413 Content Too Large"]
    assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert stream.read_bytes == LIMIT + 1


def test_the_wsgi_wrapper_does_not_read_a_declared_oversize_body(settings):
    settings.SOGOMS_MAX_BODY_BYTES = LIMIT
    stream = EndlessInput()
    statuses: list[str] = []
    environ = {"CONTENT_LENGTH": str(LIMIT + 1), "wsgi.input": stream, "REQUEST_METHOD": "POST"}

    WsgiBodyLimit(lambda environ, start_response: [])(
        environ, lambda status, headers: statuses.append(status)
    )

    assert statuses == ["413 Content Too Large"]
    assert stream.read_bytes == 0


def test_the_wsgi_wrapper_hands_a_small_chunked_body_on_with_its_length(settings):
    settings.SOGOMS_MAX_BODY_BYTES = LIMIT
    seen: dict = {}

    def app(environ, start_response):
        seen.update(length=environ["CONTENT_LENGTH"], body=environ["wsgi.input"].read())
        return [b""]

    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(BODY), "REQUEST_METHOD": "POST"}
    WsgiBodyLimit(app)(environ, lambda status, headers: None)

    assert seen == {"length": str(len(BODY)), "body": BODY}


@pytest.mark.parametrize("length", ["²", "١٢", "+5", " "])
@pytest.mark.django_db
def test_a_content_length_that_is_not_ascii_digits_is_a_400_at_the_edge_and_in_django(length, client):
    statuses: list[str] = []
    environ = {"CONTENT_LENGTH": length, "wsgi.input": EndlessInput(), "REQUEST_METHOD": "POST"}
    body = b"".join(
        WsgiBodyLimit(lambda environ, start_response: [])(environ, lambda s, h: statuses.append(s))
    )
    assert statuses == ["400 Bad Request"] and json.loads(body)["error"]["code"] == "VALIDATION_ERROR"

    # The test client has no edge wrapper: the middleware answers the same.
    response = client.post(
        "/api/auth/login",
        b"{}",
        content_type="application/json",
        HTTP_HOST="alpha.test",
        CONTENT_LENGTH=length,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
