"""SIGTERM to the production HTTP server: in-flight requests finish, within a bound.

Each test runs a real server process (tests.ops.servers.HTTP_SERVERS: gunicorn and
granian) with a slow request in flight when the signal arrives.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.ops.servers import HTTP_SERVERS, http_server_command, prepare_slow_site, running, wait_for
from tests.realtime.servers import free_port


def fetch(port: int, path: str, into: dict) -> None:
    """GET `path`; `into` gets the status and body, or the error that ended the request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        into.update(status=response.status, body=response.read())
    except OSError as exc:
        into.update(error=exc)
    finally:
        connection.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[dict, Path]:
    """One migrated site for the module's servers: its environment and var directory."""
    root = tmp_path_factory.mktemp("site")
    return prepare_slow_site(root), root / "var"


def in_flight(port: int, path: str) -> tuple[threading.Thread, dict]:
    result: dict = {}
    thread = threading.Thread(target=fetch, args=(port, path, result), daemon=True)
    thread.start()
    return thread, result


@pytest.mark.parametrize("server", HTTP_SERVERS)
def test_a_request_in_flight_at_sigterm_completes_then_the_port_is_closed(server, site, tmp_path):
    env, var = site
    port = free_port()
    with running(http_server_command(server, port), env, port, tmp_path / "server.log") as process:
        thread, result = in_flight(port, f"/test-only/slow?seconds=2&mark=inflight{server}")
        wait_for(var / f"inflight{server}")
        process.send_signal(signal.SIGTERM)
        thread.join(timeout=30)

        assert "error" not in result, result
        assert result["status"] == 200
        body = json.loads(result["body"])  # complete: a cut-off body is not JSON
        assert body["slept"] == 2
        assert len(body["pad"]) == 100_000
        assert process.wait(timeout=30) == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize("server", HTTP_SERVERS)
def test_a_request_longer_than_the_grace_period_does_not_hold_the_stop(server, site, tmp_path):
    env, var = site
    port = free_port()
    command = http_server_command(server, port, grace=2)
    with running(command, env, port, tmp_path / "server.log") as process:
        thread, result = in_flight(port, f"/test-only/slow?seconds=30&mark=stuck{server}")
        wait_for(var / f"stuck{server}")
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        stopped_in = time.monotonic() - signalled
        thread.join(timeout=10)

    assert stopped_in < 10, f"stopped in {stopped_in:.1f} s with a 2 s grace period"
    assert result.get("status") != 200  # the request was cut off, not waited for
