"""The socket's `?token=` never reaches a log line: uvicorn's access and socket lines, Django's."""

from __future__ import annotations

import logging
import socket
import sys
import time
import urllib.error
import urllib.request

import pytest

from sogoms_site.logredact import RedactTokens, redact
from tests.realtime.servers import free_port, prepare_site, served

SECRET = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.S1GNATURE"


def test_it_redacts_token_values_and_nothing_else():
    line = f'1.2.3.4 - "GET /api/ws?x=1&token={SECRET}&access_token={SECRET};refresh_token=r HTTP/1.1" 101'

    assert redact(line) == (
        '1.2.3.4 - "GET /api/ws?x=1&token=[redacted]&access_token=[redacted];'
        'refresh_token=[redacted] HTTP/1.1" 101'
    )
    assert redact("/api/tokens?page=2&mytoken=keep") == "/api/tokens?page=2&mytoken=keep"


def test_the_filter_rewrites_positional_and_named_arguments():
    record = logging.LogRecord(
        "uvicorn.access", 20, "", 0, '%s - "%s %s"', ("1.2.3.4", "GET", f"/ws?token={SECRET}"), None
    )
    named = logging.LogRecord(
        "gunicorn.access", 20, "", 0, "%(r)s", ({"r": f"GET /ws?token={SECRET}"},), None
    )

    assert RedactTokens().filter(record) and RedactTokens().filter(named)

    assert SECRET not in record.getMessage()
    assert SECRET not in named.getMessage()


def test_djangos_request_logger_carries_the_filter():
    assert any(isinstance(f, RedactTokens) for f in logging.getLogger("django.request").filters)


def test_a_real_uvicorn_logs_no_token(tmp_path):
    env = prepare_site(tmp_path / "site")
    env["SOGOMS_LOG_LEVEL"] = "INFO"
    port = free_port()
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-m", "uvicorn", "sogoms_site.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "info"]  # the access log on, as by default
    with log_path.open("wb") as log, served(command, env, port, log=log):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/auth/me?token={SECRET}", timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == 401
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                (
                    f"GET /api/ws?token={SECRET} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    "Sec-WebSocket-Version: 13\r\n\r\n"
                ).encode()
            )
            assert sock.recv(1024).startswith(b"HTTP/1.1 ")
            time.sleep(0.5)

    text = log_path.read_text()
    assert "/api/auth/me?token=[redacted]" in text  # the access line is there, without the value
    assert "/api/ws?token=[redacted]" in text
    assert SECRET not in text
    assert "c2VjcmV0LXBheWxvYWQ" not in text


@pytest.mark.parametrize("name", ["uvicorn.access", "uvicorn.error", "gunicorn.access"])
def test_install_adds_the_filter_once_and_keeps_the_handlers(name):
    from sogoms_site import logredact

    logger = logging.getLogger(name)
    handlers = list(logger.handlers)

    logredact.install()
    logredact.install()

    assert sum(isinstance(f, RedactTokens) for f in logger.filters) == 1
    assert logger.handlers == handlers
