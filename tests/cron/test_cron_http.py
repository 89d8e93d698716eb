"""The ``http`` kind of scheduled job, against a real HTTP server on 127.0.0.1.

The local server is reached only through the allow-list (127.0.0.1/32). Every refused target
is checked with connecting made impossible, so nothing else on the network is ever contacted.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme
from pydantic import ValidationError

from cron.kinds.http import HttpParams, run_http
from sogoms_site.net import RequestFailed, TargetRefused

LOCAL = ["127.0.0.1/32"]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LocalServer:
    port: int
    seen: list[Seen] = field(default_factory=list)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def paths(self) -> list[str]:
        return [request.path for request in self.seen]


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet test output
            pass

        def _answer(self, status: int, body: bytes, **headers: str) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            # The client may have given up first (the timeout test).
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            server.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            if self.path == "/ok":
                self._answer(200, b"all good")
            elif self.path == "/fail":
                self._answer(500, b"it broke")
            elif self.path == "/slow":
                time.sleep(1.5)
                self._answer(200, b"too late")
            elif self.path == "/redirect":
                self._answer(302, b"", Location="/ok")
            elif self.path == "/big":
                self._answer(200, b"x" * 5000)
            elif self.path == "/echo":
                echo = {"body": body.decode(), "headers": dict(self.headers.items())}
                self._answer(200, json.dumps(echo).encode(), Content_Type="application/json")
            else:
                self._answer(404, b"no such page")

        do_GET = _handle
        do_POST = _handle

    return Handler


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    state = LocalServer(port=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[LocalServer, trustme.CA, list[str | None]]]:
    """The same handlers over HTTPS, with a certificate for pinned.test only; records SNI names."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("pinned.test").configure_cert(context)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    state = LocalServer(port=0)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield state, ca, names
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(local_server: LocalServer) -> LocalServer:
    local_server.seen.clear()
    return local_server


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Makes any connection attempt fail the test, and records it."""
    attempts: list[object] = []

    def refuse(_sock: socket.socket, address: object) -> None:
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def fake_dns(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[str]]) -> list[str]:
    """Makes the given names resolve to the given addresses; returns the names looked up."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        lookups.append(host)
        if host not in names:
            return real(host, port, *args, **kwargs)
        results = []
        for address in names[host]:
            if ":" in address:
                results.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                results.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return results

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def get(url: str, **params: object) -> HttpParams:
    return HttpParams(url=url, **params)


# -- requests that go through ----------------------------------------------------------------


def test_loopback_is_refused_without_an_allow_list(server: LocalServer) -> None:
    with pytest.raises(TargetRefused, match="loopback"):
        run_http(get(server.url("/ok")))
    assert server.seen == []


def test_loopback_is_reached_when_the_allow_list_names_its_network(server: LocalServer) -> None:
    output = run_http(get(server.url("/ok")), allow=LOCAL)
    assert output == f"GET {server.url('/ok')} -> 200 (8 bytes)\nall good"
    assert server.paths() == ["/ok"]


def test_a_host_name_on_the_allow_list_is_reached_even_when_it_is_loopback(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"intranet.test": ["127.0.0.1"]})
    output = run_http(get(server.url("/ok", host="intranet.test")), allow=["intranet.test"])
    assert "-> 200" in output


def test_post_sends_the_json_body_and_the_headers(server: LocalServer) -> None:
    params = HttpParams(
        url=server.url("/echo"), method="POST", headers={"X-Token": "s3cret"}, body={"ping": [1, 2]}
    )
    output = run_http(params, allow=LOCAL)
    echo = json.loads(output.split("\n", 1)[1])
    assert json.loads(echo["body"]) == {"ping": [1, 2]}
    assert echo["headers"]["X-Token"] == "s3cret"
    assert echo["headers"]["Content-Type"] == "application/json"
    assert server.seen[0].method == "POST"


def test_post_sends_a_text_body_as_it_is(server: LocalServer) -> None:
    run_http(HttpParams(url=server.url("/echo"), method="POST", body="plain words"), allow=LOCAL)
    assert server.seen[0].body == b"plain words"


def test_a_500_fails_the_job_with_the_status(server: LocalServer) -> None:
    with pytest.raises(RequestFailed, match=r"-> 500 .*expected 2xx") as failure:
        run_http(get(server.url("/fail")), allow=LOCAL)
    assert not isinstance(failure.value, TargetRefused)
    assert "it broke" in str(failure.value)


def test_an_expected_status_other_than_2xx_counts_as_success(server: LocalServer) -> None:
    assert "-> 500" in run_http(get(server.url("/fail"), expect_status=[500]), allow=LOCAL)
    with pytest.raises(RequestFailed, match="expected 201"):
        run_http(get(server.url("/ok"), expect_status=[201]), allow=LOCAL)


def test_a_slow_answer_fails_the_job_with_a_timeout(server: LocalServer) -> None:
    started = time.monotonic()
    with pytest.raises(RequestFailed, match=r"no answer within 0.3 s"):
        run_http(get(server.url("/slow"), timeout=0.3), allow=LOCAL)
    assert time.monotonic() - started < 1.2


def test_a_closed_port_fails_the_job(server: LocalServer) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    with pytest.raises(RequestFailed, match="ConnectionRefused"):
        run_http(get(f"http://127.0.0.1:{port}/"), allow=LOCAL)


def test_a_redirect_is_reported_and_not_followed(server: LocalServer) -> None:
    with pytest.raises(RequestFailed, match=r"-> 302 .*redirect to /ok not followed"):
        run_http(get(server.url("/redirect")), allow=LOCAL)
    output = run_http(get(server.url("/redirect"), expect_status=[302]), allow=LOCAL)
    assert "-> 302" in output
    assert server.paths() == ["/redirect", "/redirect"]


def test_the_output_quotes_at_most_1000_characters_of_the_body(server: LocalServer) -> None:
    output = run_http(get(server.url("/big")), allow=LOCAL)
    first_line, body = output.split("\n", 1)
    assert first_line.endswith("-> 200 (5000 bytes)")
    assert body == "x" * 1000


# -- the guard -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0x7f.0.0.1/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[fec0::1]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "https://127.0.0.1:8443/",
    ],
)
def test_internal_targets_are_refused_before_any_connection(url: str, no_connections: list[object]) -> None:
    with pytest.raises(TargetRefused):
        run_http(get(url))
    assert no_connections == []


def test_an_allowed_network_does_not_open_the_others(no_connections: list[object]) -> None:
    with pytest.raises(TargetRefused, match="private"):
        run_http(get("http://10.0.0.1/"), allow=LOCAL)
    assert no_connections == []


def test_a_host_name_that_resolves_to_loopback_is_refused(
    monkeypatch: pytest.MonkeyPatch, no_connections: list[object]
) -> None:
    fake_dns(monkeypatch, {"rebind.test": ["127.0.0.1"]})
    with pytest.raises(
        TargetRefused, match=re.escape("rebind.test resolves to 127.0.0.1, a loopback address")
    ):
        run_http(get("http://rebind.test/"))
    assert no_connections == []


def test_a_host_name_with_one_internal_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch, no_connections: list[object]
) -> None:
    fake_dns(monkeypatch, {"mixed.test": ["192.0.2.1", "8.8.8.8", "::ffff:10.1.2.3"]})
    with pytest.raises(TargetRefused, match=re.escape("192.0.2.1")):
        run_http(get("http://mixed.test/"))
    fake_dns(monkeypatch, {"mixed.test": ["8.8.8.8", "::ffff:10.1.2.3"]})
    with pytest.raises(TargetRefused, match=re.escape("10.1.2.3")):
        run_http(get("http://mixed.test/"))
    assert no_connections == []


def test_the_connection_goes_to_the_vetted_address_with_the_host_name_in_the_host_header(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups = fake_dns(monkeypatch, {"pinned.test": ["127.0.0.1"]})
    output = run_http(get(server.url("/ok", host="pinned.test")), allow=LOCAL)
    assert "-> 200" in output
    assert server.seen[0].headers["Host"] == f"pinned.test:{server.port}"
    # One lookup only: a second answer (DNS rebinding) is never asked for.
    assert lookups.count("pinned.test") == 1


def test_https_goes_to_the_vetted_address_with_sni_and_certificate_check_on_the_host_name(
    tls_server: tuple[LocalServer, trustme.CA, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, ca, names = tls_server
    state.seen.clear()
    names.clear()
    real_context = ssl.create_default_context

    def trusting_the_test_ca(*args: object, **kwargs: object) -> ssl.SSLContext:
        context = real_context(*args, **kwargs)
        ca.configure_trust(context)
        return context

    monkeypatch.setattr(ssl, "create_default_context", trusting_the_test_ca)
    fake_dns(monkeypatch, {"pinned.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    output = run_http(get(f"https://pinned.test:{state.port}/ok"), allow=LOCAL)
    assert "-> 200" in output
    assert names == ["pinned.test"]
    assert state.seen[0].headers["Host"] == f"pinned.test:{state.port}"
    # The certificate names pinned.test, so the same address under another name fails the check.
    with pytest.raises(RequestFailed, match="TLS failed"):
        run_http(get(f"https://other.test:{state.port}/ok"), allow=LOCAL)


def test_an_unresolvable_host_fails_the_job_but_is_not_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_such_host(*_args: object, **_kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(RequestFailed, match=re.escape("cannot resolve nowhere.test")) as failure:
        run_http(get("http://nowhere.test/"))
    assert not isinstance(failure.value, TargetRefused)


def test_an_allow_list_entry_that_is_neither_name_nor_network_is_refused() -> None:
    with pytest.raises(TargetRefused, match="allow-list entry"):
        run_http(get("http://127.0.0.1/"), allow=["10.0.0.0/33 oops"])


# -- validation ------------------------------------------------------------------------------


def error_message(**params: object) -> str:
    with pytest.raises(ValidationError) as failure:
        HttpParams(**params)
    errors = failure.value.errors()
    return "; ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in errors)


def test_an_ftp_url_is_rejected_by_validation() -> None:
    assert error_message(url="ftp://example.com/x") == (
        "url: the URL must start with http:// or https://, not ftp://"
    )


def test_a_url_without_a_host_is_rejected_by_validation() -> None:
    assert error_message(url="http:///path") == "url: the URL has no host name"
    assert error_message(url="example.com/x") == "url: the URL must start with http:// or https://"


def test_validation_messages_name_the_problem() -> None:
    assert "a body is sent only with method POST" in error_message(url="http://a.test/", body="x")
    assert error_message(url="http://a.test/", surprise=1) == "surprise: Extra inputs are not permitted"
    assert error_message(url="http://a.test/", timeout=0).startswith(
        "timeout: Input should be greater than 0"
    )
    assert "header Host is set from the URL" in error_message(url="http://a.test/", headers={"Host": "x"})
    assert "line breaks" in error_message(url="http://a.test/", headers={"X-A": "1\r\nX-B: 2"})
    assert "not a valid IPv4 address" in error_message(url="http://256.0.0.1/")
    assert "user name or password" in error_message(url="http://user:pw@a.test/")
    assert "not an HTTP status" in error_message(url="http://a.test/", expect_status=[42])


def test_params_are_frozen() -> None:
    params = get("http://a.test/")
    with pytest.raises(ValidationError):
        params.url = "http://b.test/"  # type: ignore[misc]
