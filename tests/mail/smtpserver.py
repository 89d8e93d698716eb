"""A real SMTP server for the tests (aiosmtpd): STARTTLS or implicit TLS, AUTH, and
switches to refuse recipients, fail with 4xx, or shut down, so retries can be driven."""

from __future__ import annotations

import asyncio
import email
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER = "mailer"
PASSWORD = "smtp-password-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    message: email.message.Message

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


@dataclass
class Handler:
    received: list = field(default_factory=list)
    refuse: set = field(default_factory=set)  # recipients answered 550
    busy: int = 0  # this many DATA commands answered 451 first
    shutting_down: bool = False  # every DATA answered 421
    hang_up_after: int | None = None  # after this many messages, answer 421 and close
    drop_one_after: int | None = None  # after this many messages, end ONE connection with 421
    delay: float = 0.0
    active: int = 0  # DATA commands being answered right now
    most_active: int = 0  # the most at once: several connections sending in parallel
    logins: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.active += 1  # one event loop: no lock needed between the connections
        self.most_active = max(self.most_active, self.active)
        try:
            return await self._data(server, envelope)
        finally:
            self.active -= 1

    async def _data(self, server, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.drop_one_after is not None and len(self.received) >= self.drop_one_after:
            self.drop_one_after = None  # the client closes the connection on a 421
            return "421 4.7.0 too many messages on this connection"
        if self.shutting_down:
            return "421 4.3.2 service shutting down"
        if self.hang_up_after is not None and len(self.received) >= self.hang_up_after:
            server.transport.close()
            return "421 4.3.2 closing the connection"
        if self.busy:
            self.busy -= 1
            return "451 4.3.0 try again later"
        with self.lock:
            self.received.append(
                Received(
                    envelope.mail_from, list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)
                )
            )
        return "250 2.0.0 accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            USER.encode(),
            PASSWORD.encode(),
        )
        self.logins.append(ok)
        return AuthResult(success=ok, handled=False)  # unhandled: aiosmtpd answers 535


class SmtpServer:
    """One server on a fixed loopback port that can be stopped and started again."""

    def __init__(self, directory: Path, *, implicit_tls: bool = False) -> None:
        self.ca = trustme.CA()
        self.ca_file = directory / "smtp-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1").configure_cert(self.server_context)
        self.implicit_tls = implicit_tls
        self.port = free_port()
        self.handler = Handler()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        tls = (
            {"ssl_context": self.server_context}
            if self.implicit_tls
            else {"tls_context": self.server_context}
        )
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            require_starttls=not self.implicit_tls,
            authenticator=self.handler.authenticate,
            auth_required=True,
            # aiosmtpd counts only STARTTLS as TLS; with implicit TLS the whole session is.
            auth_require_tls=not self.implicit_tls,
            **tls,
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def block(self, **changes) -> dict:
        """The `smtp:` block of a routes file that points at this server."""
        block = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": USER,
            "from": "noreply@alpha.test",
            "from_name": "Alpha",
            "tls": self.implicit_tls,
            "ca_file": str(self.ca_file),
            "timeout": 5,
        }
        block.update(changes)
        return block
