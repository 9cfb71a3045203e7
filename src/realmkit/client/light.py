"""A load generator's client: many of them cost the machine little, so a benchmark
measures the server rather than its bots.

A ``LightClient`` speaks the gateway's protocol on picows, whose listener gets each
WebSocket message in a callback (no future, no task wake-up per message, as an
aiohttp client's reader has). It applies frames only until it knows its own
position; from then on it reads each frame's header (sequence, ack) and counts its
bytes, and walks on from the position it predicts and the server's corrections.
It keeps no entity table once placed and answers nothing but
transfers (``transfer_pending``, ``new_world``) and ``corrected``: what a player
sees is the full client's (``GameClient``) to check.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

import msgspec
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from realmkit.client.game import NOT_FRAMES, Walker, world_position
from realmkit.errors import RemoteError
from realmkit.protocol.client import ErrorFrame, Hello, KeyframeRequest, NewWorld, TransferPending
from realmkit.protocol.events import Corrected
from realmkit.protocol.frames import ClientFrame, ClientFrameIn
from realmkit.protocol.inputs import ClientInput
from realmkit.replication.client import EntityTable

# Until it knows where it is a light client decodes frames whole; then headers only
# (a frame's body stays raw bytes).
_full = msgspec.msgpack.Decoder(ClientFrameIn | NOT_FRAMES)
_header = msgspec.msgpack.Decoder(ClientFrame | NOT_FRAMES)
_encoder = msgspec.msgpack.Encoder()
MAX_MESSAGE = 1 << 20


class LightClient(Walker):
    def __init__(self) -> None:
        super().__init__()
        self.transport: WSTransport | None = None
        self.frames = 0
        self.bytes = 0
        # (ack, arrival time) of frames whose ack moved forward: input-to-visible latency.
        self.acks: deque[tuple[int, float]] = deque(maxlen=256)
        self.transfers = 0
        self.transferring = False
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._table: EntityTable | None = EntityTable()
        self._entered: asyncio.Future[NewWorld] = asyncio.get_running_loop().create_future()

    @classmethod
    async def connect(cls, url: str, ticket: str, timeout: float = 10.0) -> LightClient:
        """Open the socket, say hello and wait for ``new_world`` (``RemoteError`` if refused)."""
        client = cls()
        transport, _ = await ws_connect(
            lambda: _Listener(client), url, max_frame_size=MAX_MESSAGE, enable_auto_pong=True
        )
        client.transport = transport
        await client.send(Hello(ticket))
        try:
            async with asyncio.timeout(timeout):
                client.world = await client._entered
        except BaseException:
            transport.disconnect()
            raise
        return client

    async def send(self, message: ClientInput | KeyframeRequest | Hello) -> None:
        self._send_now(message)

    def _send_now(self, message: ClientInput | KeyframeRequest | Hello) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send(WSMsgType.BINARY, _encoder.encode(message))

    async def close(self) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send_close()
            self.transport.disconnect()
            await self.transport.wait_disconnected()

    def received(self, data: memoryview) -> None:
        """One message from the gateway (``data`` is valid during this call only)."""
        self.bytes += len(data)
        if self._table is None:
            header = _header.decode(data)
            if isinstance(header, ClientFrame):
                self.frames += 1
                if not self.acks or header.ack > self.acks[-1][0]:
                    self.acks.append((header.ack, time.monotonic()))
                return
            message: object = header
        else:
            message = _full.decode(bytes(data))
        if isinstance(message, ClientFrameIn):
            self._frame(message, bytes(data))
        elif isinstance(message, NewWorld):
            # A new space: our position comes with its first frames.
            if self._entered.done():
                self.world = message
                self.transfers += 1
            else:
                self._entered.set_result(message)
            self.transferring = False
            self.position = None
            self._table = EntityTable()
        elif isinstance(message, TransferPending):
            self.transferring = True
        elif isinstance(message, Corrected):
            # The server moved us (a refused move, a respawn): walk on from there.
            self.position = (message.x, message.y, message.z, message.o)
        elif isinstance(message, ErrorFrame) and not self._entered.done():
            self._entered.set_exception(RemoteError("gateway", message.code, message.message))

    def _frame(self, frame: ClientFrameIn, data: bytes) -> None:
        """A frame before we know where we are: applied whole, until our own row is in."""
        assert self._table is not None
        if not self._table.apply(data):
            self._send_now(KeyframeRequest())  # a gap: start again from a keyframe
            return
        self.frames += 1
        if not self.acks or frame.ack > self.acks[-1][0]:
            self.acks.append((frame.ack, time.monotonic()))
        me = self._table.rows.get(self.character_id)
        if me is not None:
            self.position = (*world_position(me), 0.0)
            self._table = None
        self.frame_arrived.set()

    def disconnected(self) -> None:
        self.closed.set()
        if not self._entered.done():
            self._entered.set_exception(RemoteError("gateway", "CLOSED", "closed before new_world"))


class _Listener(WSListener):
    def __init__(self, client: LightClient) -> None:
        self.client = client

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.BINARY:
            self.client.received(frame.get_payload_as_memoryview())
        elif frame.msg_type == WSMsgType.CLOSE:
            self.client.close_code = frame.get_close_code().value
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.client.disconnected()
