"""A rolling restart of the HTTP server under load: new code, same port, no failed request.

SIGHUP has the server (tests.ops.servers.ROLLING_HTTP_SERVERS: granian, gunicorn) start new
workers, which import the code afresh, and stop the old ones gracefully, while its
listening socket stays open. Client threads send requests all along, each on a
keep-alive connection of its own (gunicorn's sync workers close it after each answer,
so those clients reconnect); every request must get its 200. A GET that finds its idle
keep-alive connection just closed by a stopping worker, with no answer, is sent again on
a new connection, as HTTP clients do; any other error, or a status other than 200, fails.
The code's "release" is what `$SOGOMS_VAR_DIR/release` held when a worker imported it
(tests.ops.slow_urls).
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from collections import Counter

import pytest

from tests.ops.servers import ROLLING_HTTP_SERVERS, http_server_command, prepare_slow_site, running
from tests.realtime.servers import free_port

CLIENTS = 4


class Load:
    """Client threads that GET /test-only/release until stopped, counting the answers."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.releases: Counter[str] = Counter()
        self.failures: list[str] = []
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]

    def _client(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        reused = False  # whether `connection` already carried an answer and stays open
        while not self.stopping.is_set():
            release, failure = None, None
            try:
                try:
                    connection.request("GET", "/test-only/release")
                    response = connection.getresponse()
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    if not reused:
                        raise
                    # An idle keep-alive connection the server closed as this request left:
                    # nothing was answered, so the GET is sent again on a new connection,
                    # as HTTP clients do (RFC 9112, 9.3.1).
                    connection.close()
                    connection.request("GET", "/test-only/release")
                    response = connection.getresponse()
                body = response.read()
                if response.status == 200:
                    release = json.loads(body)["release"]
                else:
                    failure = f"HTTP {response.status}"
                reused = not response.will_close
                if response.will_close:
                    connection.close()  # the next request opens a new connection
            except (OSError, http.client.HTTPException, ValueError) as exc:
                failure = f"{type(exc).__name__}: {exc}"
                connection.close()
                reused = False
            with self.lock:
                if release is not None:
                    self.releases[release] += 1
                else:
                    self.failures.append(f"{time.monotonic():.2f} {failure}")
        connection.close()

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def count(self, release: str) -> int:
        with self.lock:
            return self.releases[release]


def no_new_answers(load: Load, release: str, seconds: float) -> bool:
    """Whether `release` answered nothing during the next `seconds`."""
    before = load.count(release)
    time.sleep(seconds)
    return load.count(release) == before


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout:g} s"
        time.sleep(0.05)


@pytest.mark.parametrize("server", ROLLING_HTTP_SERVERS)
def test_sighup_replaces_the_workers_with_new_code_without_a_failed_request(server, tmp_path):
    env = prepare_slow_site(tmp_path)
    release = tmp_path / "var" / "release"
    release.write_text("1")
    port = free_port()
    command = http_server_command(server, port, workers=2)
    with running(command, env, port, tmp_path / "server.log") as process, Load(port) as load:
        wait_until(lambda: load.count("1") >= 20, 20, "20 answers from release 1")
        release.write_text("2")  # the new code
        process.send_signal(signal.SIGHUP)
        wait_until(lambda: load.count("2") >= 20, 60, "20 answers from release 2")
        # a server may replace one worker at a time: release 1 answers until the last old one stops
        wait_until(lambda: no_new_answers(load, "1", 1.0), 60, "the end of release 1")
        assert process.poll() is None  # the same server, on the same port
    assert load.failures == [], (len(load.failures), load.failures[:3], load.failures[-3:])
    assert load.count("1") >= 20 and load.count("2") >= 20
