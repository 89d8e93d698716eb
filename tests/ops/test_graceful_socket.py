"""SIGTERM to the socket server: open push sockets are closed with 1001 so clients reconnect.

A real `python -m sogoms_site.socketserver` process and a real WebSocket client.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from websockets.asyncio.client import connect

from realtime.consumers import CLOSE_GOING_AWAY
from tests.ops.servers import running
from tests.realtime.servers import free_port, prepare_site, register


def socket_server_command(port: int) -> list[str]:
    return [sys.executable, "-m", "sogoms_site.socketserver", "--port", str(port), "--no-access-log"]


def test_an_open_socket_is_closed_with_going_away_when_the_server_stops(tmp_path):
    env = prepare_site(tmp_path)
    port = free_port()
    with running(socket_server_command(port), env, port, tmp_path / "socket.log") as process:
        _user_id, token = register(f"127.0.0.1:{port}", "going-away@example.com")

        async def open_then_stop() -> tuple[int | None, str | None]:
            url = f"ws://127.0.0.1:{port}/api/ws"
            async with connect(url, subprotocols=["bearer", token], open_timeout=5) as socket_:
                await socket_.send('{"type":"ping"}')
                assert "pong" in await asyncio.wait_for(socket_.recv(), 5)  # open and served
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(socket_.wait_closed(), 10)
                return socket_.close_code, socket_.close_reason

        code, reason = asyncio.run(open_then_stop())
        assert code == CLOSE_GOING_AWAY, (code, reason)
        assert "reconnect" in (reason or "")
        # uvicorn ends by raising the signal it handled again, as systemd expects of KillSignal
        assert process.wait(timeout=20) == -signal.SIGTERM
