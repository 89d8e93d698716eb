"""The push socket server's WebSocket protocol: uvicorn's websockets-sansio one, plus
prepared frames (fanout.PREPARED_FRAMES).

Through ASGI each frame a broadcast writes to each socket is a `websocket.send` message: a
dict, a coroutine awaiting the writable state, the text encoded and framed again for every
socket. The fan-out makes the frame's bytes once per event instead; this protocol offers a
writer for them in each socket's scope, which writes them to the connection when nothing
stands in the way and otherwise declines, so the consumer's ASGI send (which waits, or
raises for a closed socket) handles every other case. `python -m sogoms_site.socketserver`
serves with it; under another server the fan-out only takes the ASGI path.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from realtime.fanout import PREPARED_FRAMES


class PreparedFramesProtocol(WebSocketsSansIOProtocol):
    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        if self.handshake_initiated and not self.handshake_complete:
            # The scope is the one handed to the application's task, which has not run yet.
            self.scope["extensions"][PREPARED_FRAMES] = {"write": self.write_prepared}

    def write_prepared(self, frame: bytes) -> bool:
        """Write `frame` (a whole, unmasked server frame) now, if the socket can take it as it
        is: open, accepted, no extension (compression would change the bytes), not closing, and
        its buffer not full (the transport paused writing). False: nothing was written."""
        if (
            self.handshake_complete
            and self.writable.is_set()
            and not self.close_sent
            and not self.disconnected
            and self.initial_response is None
            and not self.conn.extensions
            and self.conn.state is State.OPEN
            and not self.transport.is_closing()
        ):
            self.transport.write(frame)
            return True
        return False
