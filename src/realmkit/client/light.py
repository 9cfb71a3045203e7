"""A load generator's client: many of them cost the machine little, so a benchmark
measures the server rather than its bots.

A ``LightClient`` speaks the gateway's protocol on picows, whose listener gets each
WebSocket message in a callback (no future, no task wake-up per message, as an
aiohttp client's reader has). It applies frames only until it knows its own
position; from then on it reads each frame's header (sequence, ack) and counts its
bytes, and walks on from the position it predicts and the server's corrections.
It keeps no entity table once placed and answers nothing but
transfers (``transfer_pending``, ``new_world``) and ``corrected``: what a player
sees is the full client's (``GameClient``) to check. Like it, once told to
``follow`` it resumes by itself after a ``reconnect`` or a lost gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

import msgspec
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from realmkit.client.game import (
    NOT_FRAMES,
    RESUMABLE_CLOSES,
    RESUME_FIRST_PAUSE,
    RESUME_MAX_PAUSE,
    RESUME_TRIES,
    Walker,
    world_position,
)
from realmkit.errors import RemoteError
from realmkit.protocol.client import (
    ErrorFrame,
    Hello,
    KeyframeRequest,
    NewWorld,
    Reconnect,
    Resume,
    TransferPending,
)
from realmkit.protocol.events import Corrected
from realmkit.protocol.frames import ClientFrame, ClientFrameIn
from realmkit.protocol.inputs import ClientInput
from realmkit.protocol.social import ChatMessage, ChatSend, Whisper
from realmkit.replication.client import EntityTable

# Until it knows where it is a light client decodes frames whole; then headers only
# (a frame's body stays raw bytes).
_full = msgspec.msgpack.Decoder(ClientFrameIn | NOT_FRAMES)
_header = msgspec.msgpack.Decoder(ClientFrame | NOT_FRAMES)
_encoder = msgspec.msgpack.Encoder()
MAX_MESSAGE = 1 << 20
log = logging.getLogger("realmkit.client")
# What a light client sends.
Outgoing = ClientInput | KeyframeRequest | Hello | Resume | ChatSend | Whisper


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
        # Called with each ``chat_message`` and its arrival time (a benchmark's hook:
        # the client keeps no chat of its own).
        self.on_chat: Callable[[ChatMessage, float], None] | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._table: EntityTable | None = EntityTable()
        self._entered: asyncio.Future[NewWorld] = asyncio.get_running_loop().create_future()
        # Resuming by itself (``follow``), as ``GameClient`` does.
        self.resume_token = ""
        self.resumes = 0
        self.reconnects = 0
        self.gateways: list[str] = []
        self.moved_to = ""
        self._follow = False
        self._closing = False
        self._resuming: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str, ticket: str, timeout: float = 10.0) -> LightClient:
        """Open the socket, say hello and wait for ``new_world`` (``RemoteError`` if refused)."""
        client = cls()
        client.gateways = [url]
        await client._greet(url, Hello(ticket), timeout)
        return client

    async def _greet(self, url: str, first: Hello | Resume, timeout: float) -> None:
        transport, _ = await ws_connect(
            lambda: _Listener(self), url, max_frame_size=MAX_MESSAGE, enable_auto_pong=True
        )
        self.transport = transport
        self.close_code = None
        await self.send(first)
        try:
            async with asyncio.timeout(timeout):
                self.world = await self._entered
        except BaseException:
            transport.disconnect()
            raise
        self.resume_token = self.world.resume or self.resume_token

    def follow(self, gateways: Sequence[str] = ()) -> None:
        """Come back by itself after a ``reconnect`` or a lost gateway, through the
        gateway named or one of ``gateways`` (added to the one it entered by)."""
        self.gateways = list(dict.fromkeys([*self.gateways, *gateways]))
        self._follow = True

    async def _come_back(self) -> None:
        """Resume through the gateway named, else those known, in turn, pausing longer
        after each failure; ``closed`` is set when it gives up."""
        urls = list(dict.fromkeys([u for u in (self.moved_to, *self.gateways) if u]))
        pause = RESUME_FIRST_PAUSE
        for attempt in range(RESUME_TRIES):
            url = urls[attempt % len(urls)]
            self._entered = asyncio.get_running_loop().create_future()
            try:
                await self._greet(url, Resume(self.resume_token), 10.0)
            except RemoteError as exc:
                if exc.remote_code != "CLOSED":
                    log.warning("resume refused: %s", exc)
                    break  # the token is used or its grace is over
            except (TimeoutError, OSError) as exc:
                log.info("resume through %s: %s", url, exc)
            else:
                self.moved_to = ""
                self.resumes += 1
                return
            await asyncio.sleep(pause)  # a pause between tries, not a condition
            pause = min(pause * 2, RESUME_MAX_PAUSE)
        self.closed.set()

    async def send(self, message: Outgoing) -> None:
        self._send_now(message)

    def _send_now(self, message: Outgoing) -> None:
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send(WSMsgType.BINARY, _encoder.encode(message))

    async def close(self) -> None:
        self._closing = True
        if self._resuming is not None and not self._resuming.done():
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resuming
        if self.transport is not None and not self.transport.is_disconnected:
            self.transport.send_close()
            self.transport.disconnect()
            await self.transport.wait_disconnected()
        self.closed.set()

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
                self.resume_token = message.resume or self.resume_token
                self.transfers += 1
            else:
                # Set now: frames may come before ``_greet`` wakes up.
                self.world = message
                self._entered.set_result(message)
            self.transferring = False
            self.position = None
            self._table = EntityTable()
        elif isinstance(message, TransferPending):
            self.transferring = True
        elif isinstance(message, Reconnect):
            self.moved_to = message.url or self.moved_to
            self.reconnects += 1
        elif isinstance(message, ChatMessage):
            if self.on_chat is not None:
                self.on_chat(message, time.monotonic())
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
        entering = not self._entered.done()
        if entering:
            self._entered.set_exception(RemoteError("gateway", "CLOSED", "closed before new_world"))
        if self._resuming is not None and not self._resuming.done():
            return  # the resume under way tries again, or gives up
        if (
            not entering
            and self._follow
            and not self._closing
            and self.resume_token
            and (self.close_code is None or self.close_code in RESUMABLE_CLOSES)
        ):
            self._resuming = asyncio.get_running_loop().create_task(self._come_back())
        else:
            self.closed.set()


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
