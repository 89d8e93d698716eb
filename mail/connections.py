"""Several open connections of one tenant's transport, each in a thread of its own.

One SMTP connection spends most of a message waiting: MAIL, RCPT, DATA and the data are
four round trips, and the server's work happens meanwhile. A delivery task therefore
keeps `SOGOMS_MAIL_CONNECTIONS` connections open and lets each thread take the next
message as soon as its connection is free; the waits overlap, so the process spends its
time building messages instead of waiting for replies.

Only the threads talk to the transport, and only the caller's thread touches the
database: a thread gets loaded rows and gives back what happened to each. A connection
that breaks ends its thread (the message it had failed, like on a single connection);
the others carry on with the chunk. Once every connection has broken, what no thread
took is handed back to the caller as untried.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.mail import EmailMultiAlternatives

from mail.config import TransportSpec
from mail.models import OutboxMessage
from mail.transports import Transport, TransportError, transport_for
from tenants.config import Tenant
from tenants.context import tenant_context

_STOP = None  # on the work queue: the thread closes its connection and ends
_GONE = object()  # on the result queue: this thread has ended (it broke, or never opened)


@dataclass
class Results:
    """What became of one chunk."""

    sent: list[tuple[OutboxMessage, str]] = field(default_factory=list)
    failed: list[tuple[OutboxMessage, TransportError]] = field(default_factory=list)
    untried: list[OutboxMessage] = field(default_factory=list)  # every connection broke first
    broken: TransportError | None = None  # the last connection's error, once none is left
    crash: BaseException | None = None  # a bug while sending: raise it once the rest is recorded


class Connections:
    """`count` connections of one transport, opened at once; use as a context manager."""

    def __init__(
        self,
        spec: TransportSpec,
        tenant: Tenant,
        count: int,
        email_of: Callable[[OutboxMessage], EmailMultiAlternatives],
    ) -> None:
        self.spec, self.tenant, self.email_of = spec, tenant, email_of
        self.work: queue.Queue = queue.Queue()
        self.done: queue.Queue = queue.Queue()
        self.threads = [
            threading.Thread(target=self._run, name=f"mail-{tenant.app}-{n}", daemon=True)
            for n in range(max(1, count))
        ]
        self.alive = 0
        self.error: TransportError | None = None  # the last open or break error

    def __enter__(self) -> Connections:
        for thread in self.threads:
            thread.start()
        crash = None
        for _ in self.threads:  # each thread says whether its connection opened
            opened = self.done.get()
            if isinstance(opened, TransportError):
                self.error = opened
            elif isinstance(opened, BaseException):
                crash = opened
            else:
                self.alive += 1
        if crash is not None:
            self.__exit__(None, None, None)
            raise crash
        return self

    def __exit__(self, *exc_info) -> None:
        self._drain()  # a caller that gives up mid-chunk: nothing more is sent
        for _ in self.threads:
            self.work.put(_STOP)
        for thread in self.threads:
            thread.join()

    def send(self, messages: list[OutboxMessage]) -> Results:
        """Send `messages` over the open connections; returns when each is sent, failed, or
        left untried because no connection is left."""
        results = Results()
        for message in messages:
            self.work.put(message)
        answered = 0
        while answered < len(messages) and self.alive:
            item = self.done.get()
            if item is _GONE:
                self.alive -= 1
                continue
            message, outcome = item
            answered += 1
            if isinstance(outcome, BaseException) and not isinstance(outcome, TransportError):
                results.crash = outcome  # the row stays handed over: its outcome is unknown
                self.error = self.error or TransportError(self.spec.kind, f"a bug: {outcome!r}", broken=True)
            elif isinstance(outcome, TransportError):
                results.failed.append((message, outcome))
                if outcome.broken:
                    self.error = outcome
            else:
                results.sent.append((message, outcome))
        if not self.alive:  # every thread has ended, so nothing takes from the queue any more
            results.untried = self._drain()
            results.broken = self.error
        return results

    def _drain(self) -> list[OutboxMessage]:
        left = []
        while True:
            try:
                left.append(self.work.get_nowait())
            except queue.Empty:
                return left

    def _run(self) -> None:
        with tenant_context(self.tenant):
            try:
                transport = transport_for(self.spec).__enter__()
            except BaseException as exc:  # a TransportError, or a bug the caller raises
                self.done.put(exc)
                return
            self.done.put(True)
            try:
                self._serve(transport)
            finally:
                transport.__exit__(None, None, None)

    def _serve(self, transport: Transport) -> None:
        while (message := self.work.get()) is not _STOP:
            try:
                self.done.put((message, transport.send(self.email_of(message))))
            except TransportError as exc:
                self.done.put((message, exc))
                if exc.broken:
                    self.done.put(_GONE)
                    return
            except BaseException as exc:  # a bug: the caller raises it once the chunk is recorded
                self.done.put((message, exc))
                self.done.put(_GONE)
                return
