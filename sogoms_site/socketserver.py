"""`python -m sogoms_site.socketserver`: the push socket server (uvicorn) that stops gracefully.

On SIGTERM or SIGINT it stops accepting connections, closes each open push socket with
1001 "going away" (uvicorn's own close says 1012) so clients reconnect, at once, to
another process or to the restarted one, then lets HTTP requests in flight finish for at
most the grace period (`--timeout-graceful-shutdown`, default `SOGOMS_CTL_GRACE`, 30 s).

Its WebSocket protocol (realtime.wsprotocol) lets the push fan-out write a broadcast's frame,
made once, to each socket; per-message compression is off, since a compressed frame must be
made for each socket in turn (about 11 us more per frame and socket; docs/performance.md).
"""

from __future__ import annotations

import argparse
import socket
import sys

import uvicorn

from realtime.wsprotocol import PreparedFramesProtocol
from sogoms_site.serving import grace_seconds

# How long the clients have to answer the close frames before the server goes on stopping.
CLOSE_HANDSHAKE_SECONDS = 5.0


class GoingAwayServer(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:  # stop accepting first: no socket opens behind the closes
            server.close()
        from realtime.consumers import close_all_going_away  # the app is loaded by now

        await close_all_going_away(CLOSE_HANDSHAKE_SECONDS)
        await super().shutdown(sockets)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sogoms_site.socketserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--timeout-graceful-shutdown",
        type=int,
        default=grace_seconds(),
        help="seconds HTTP requests in flight may take to finish after SIGTERM",
    )
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    options = parser.parse_args(argv)
    config = uvicorn.Config(
        "sogoms_site.asgi:application",
        host=options.host,
        port=options.port,
        timeout_graceful_shutdown=options.timeout_graceful_shutdown,
        access_log=not options.no_access_log,
        log_level=options.log_level,
        ws=PreparedFramesProtocol,
        ws_per_message_deflate=False,
    )
    server = GoingAwayServer(config)
    server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn's command does: a process manager sees the failed start


if __name__ == "__main__":
    main()
