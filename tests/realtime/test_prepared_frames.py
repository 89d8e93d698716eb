"""Prepared frames: a broadcast's frame is made once and written to each socket as bytes.

The fan-out hands the bytes to a socket's prepared-frame writer (fanout.PREPARED_FRAMES)
and takes the ASGI send only when the writer declines; the production socket server's
protocol (realtime.wsprotocol) writes them only when the connection can take them as they
are; and the socket server turns per-message compression off, so a client that offers it
(browsers do) still gets the prepared bytes.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from uvicorn.config import Config
from uvicorn.server import ServerState
from websockets.asyncio.client import connect
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from realtime import fanout, services
from realtime.topics import parse_topic
from realtime.wsprotocol import PreparedFramesProtocol
from tests.realtime.conftest import TIMEOUT, access_token, communicator, run, subscribe
from tests.realtime.servers import free_port, prepare_site, register, socket_server
from tests.realtime.test_fanout import StandInSocket
from tests.realtime.test_processes import listen_then_write

TOPIC = "alpha/broadcast/news"


def frame_text(frame: bytes) -> str:
    """The text of `frame`, which must be one whole, unmasked, final text frame."""
    reader = StreamReader()
    reader.feed_data(frame)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        parsed = done.value
    assert parsed.opcode is Opcode.TEXT and parsed.fin
    assert reader.at_eof()  # nothing after the frame
    return parsed.data.decode()


class PreparedSocket(StandInSocket):
    """A stand-in whose server takes prepared frames, unless `declining` (its buffer full)."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared: list[bytes] = []
        self.declining = False
        self.write_prepared = self._write_prepared

    def _write_prepared(self, frame: bytes) -> bool:
        if self.declining:
            return False
        self.prepared.append(frame)
        self.written.append(frame_text(frame))
        return True


def test_a_broadcast_writes_one_prepared_frame_to_every_socket(in_process):
    async def scenario():
        sockets = [PreparedSocket() for _ in range(3)]
        for socket_ in sockets:
            await fanout.join(parse_topic(TOPIC), socket_)
        reached = fanout.deliver(TOPIC, '{"n":"é"}')
        for socket_ in sockets:
            fanout.leave_all(socket_, [parse_topic(TOPIC)])
        return reached, sockets

    reached, sockets = run(scenario())
    assert reached == 3
    assert [socket_.written for socket_ in sockets] == [['{"n":"é"}']] * 3
    # made once: the very same bytes object went to each socket
    assert len({id(socket_.prepared[0]) for socket_ in sockets}) == 1


def test_a_declined_frame_goes_through_the_asgi_send_and_the_order_holds(in_process):
    async def scenario():
        socket_ = PreparedSocket()
        socket_.declining = True
        socket_.held.clear()  # and the ASGI send must wait: the client does not read
        await fanout.join(parse_topic(TOPIC), socket_)
        for number in range(3):
            fanout.deliver(TOPIC, f"frame {number}")
        socket_.declining = False  # the buffer drained: prepared frames are taken again...
        fanout.deliver(TOPIC, "frame 3")  # ...but not before the frames queued ahead of it
        at_once = list(socket_.written)
        socket_.held.set()
        for _ in range(10):
            await asyncio.sleep(0)
        fanout.deliver(TOPIC, "frame 4")
        fanout.leave_all(socket_, [parse_topic(TOPIC)])
        return at_once, socket_

    at_once, socket_ = run(scenario())
    assert at_once == []
    assert socket_.written == [f"frame {number}" for number in range(5)]
    assert [frame_text(frame) for frame in socket_.prepared] == ["frame 4"]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_socket_takes_its_servers_prepared_frame_writer_from_the_scope(alpha, alice):
    written: list[str] = []

    def write(frame: bytes) -> bool:
        written.append(frame_text(frame))
        return True

    async def scenario():
        socket_ = communicator("alpha.test", token=access_token(alpha, alice))
        socket_.scope["extensions"] = {fanout.PREPARED_FRAMES: {"write": write}}
        assert (await socket_.connect(timeout=TIMEOUT))[0]
        await subscribe(socket_, "alpha/broadcast/notifications")
        await sync_to_async(services.broadcast)(app="alpha", channel="notifications", data=7)
        for _ in range(50):
            if written:
                break
            await asyncio.sleep(0.05)
        through_asgi = not await socket_.receive_nothing(timeout=0.2)
        await socket_.disconnect()
        return through_asgi

    assert run(scenario()) is False  # the ASGI send carried nothing
    assert [json.loads(text)["data"] for text in written] == [7]


class Transport(asyncio.Transport):
    """What the protocol writes, and the calls it makes on its transport."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def write(self, data) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name, default=None):
        return {"sockname": ("127.0.0.1", 8001), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


HANDSHAKE = (
    "GET /api/ws HTTP/1.1\r\nHost: alpha.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extensions}\r\n"
)
FRAME = fanout.text_frame('{"type":"event"}')


async def _protocol(*, deflate: bool, offer_deflate: bool = False):
    """A PreparedFramesProtocol on a stand-in transport, its socket opened by an app that
    accepts it when told; (protocol, transport, scope, accept event, close event)."""
    accept, close = asyncio.Event(), asyncio.Event()
    scopes: list[dict] = []

    async def app(scope, receive, send):
        scopes.append(scope)
        await receive()  # websocket.connect
        await accept.wait()
        await send({"type": "websocket.accept"})
        await close.wait()
        await send({"type": "websocket.close", "code": 1000})

    config = Config(app=app, ws=PreparedFramesProtocol, ws_per_message_deflate=deflate, lifespan="off")
    config.load()
    protocol = PreparedFramesProtocol(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport = Transport()
    protocol.connection_made(transport)
    offered = "Sec-WebSocket-Extensions: permessage-deflate\r\n" if offer_deflate else ""
    protocol.data_received(HANDSHAKE.format(extensions=offered).encode())
    for _ in range(5):
        await asyncio.sleep(0)
    return protocol, transport, scopes[0], accept, close


def test_the_protocol_writes_a_prepared_frame_only_when_the_socket_can_take_it():
    async def scenario():
        protocol, transport, scope, accept, close = await _protocol(deflate=False)
        write = scope["extensions"][fanout.PREPARED_FRAMES]["write"]
        seen = {"before the accept": write(FRAME)}
        accept.set()
        await asyncio.sleep(0)
        start = len(transport.written)
        seen["open"] = write(FRAME)
        seen["bytes written"] = bytes(transport.written[start:]) == FRAME
        protocol.pause_writing()  # the client's buffer is full
        seen["paused"] = write(FRAME)
        protocol.resume_writing()
        seen["resumed"] = write(FRAME)
        close.set()
        await asyncio.sleep(0)
        seen["closing"] = write(FRAME)
        protocol.connection_lost(None)
        seen["lost"] = write(FRAME)
        return seen

    assert run(scenario()) == {
        "before the accept": False,
        "open": True,
        "bytes written": True,
        "paused": False,
        "resumed": True,
        "closing": False,
        "lost": False,
    }


def test_the_protocol_declines_prepared_frames_on_a_compressed_socket():
    async def scenario():
        protocol, _transport, scope, accept, _close = await _protocol(deflate=True, offer_deflate=True)
        accept.set()
        await asyncio.sleep(0)
        assert protocol.conn.extensions  # compression was agreed on
        return scope["extensions"][fanout.PREPARED_FRAMES]["write"](FRAME)

    assert run(scenario()) is False


def test_the_socket_server_turns_compression_off_for_a_client_that_offers_it(tmp_path):
    env = prepare_site(tmp_path)

    async def compression_agreed(address: str, token: str) -> list:
        # websockets' client offers permessage-deflate, as browsers do
        url = f"ws://{address}/api/ws"
        async with connect(url, subprotocols=["bearer", token], open_timeout=5) as socket_:
            return list(socket_.protocol.extensions)

    with socket_server(env, free_port()) as server:
        user_id, token = register(server, "prepared@example.com")
        agreed = asyncio.run(compression_agreed(server, token))
        event = asyncio.run(listen_then_write(server, server, user_id, token))
    assert agreed == []
    assert event["topic"] == f"alpha/user/{user_id}/projects"
    assert event["data"]["action"] == "create"
