"""Players' WebSockets at the gateway, on picows.

picows hands each WebSocket frame to a listener's callback, with no future or
task per message, and writes without awaiting: ``bench/ws_libraries.py``
measured a gateway's socket work alone (140-byte frames out, 40-byte inputs in,
ten a second each way, 1,000 clients) at 12.5 us of server CPU per message,
against 20.0 us on aiohttp. ``PlayerSocket`` is one connection: whole messages
go to the gateway's ``received`` (a message sent in fragments is put together,
up to the gateway's message limit and ``MAX_FRAGMENTS`` pieces); sends are
immediate writes; ``unsent`` is what the client has not taken yet.

What a stranger can make it hold is bounded: while its socket holds more unsent
bytes than the transport's high-water mark (pongs to a flood of pings, say) its
messages are not read, so a client that sends without reading waits on its own
socket; picows closes a frame over the limit (1009) and pings an idle client,
dropping one that does not answer. A frame with reserved bits set (no extension
is ever agreed) closes the socket (1002).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from realmkit.protocol.client import CLOSE_NORMAL, CLOSE_TOO_BIG

log = logging.getLogger("realmkit.gateway")

CLOSE_PROTOCOL = 1002
CLOSE_BAD_TEXT = 1007
CLOSE_INTERNAL = 1011
CLOSE_WAIT = 2.0  # seconds a closed socket waits for the client's close frame
MAX_FRAGMENTS = 16


class Tally:
    """What the gateway's sockets wrote, and the closes the gateway sent by code,
    since the gateway started (its metrics read them)."""

    def __init__(self) -> None:
        self.bytes_out = 0
        self.messages_out = 0
        self.closes: Counter[int] = Counter()


class PlayerSocket(WSListener):
    """One player's WebSocket. ``opened``, ``received`` and ``gone`` are the gateway's."""

    def __init__(
        self,
        opened: Callable[[PlayerSocket], None],
        received: Callable[[PlayerSocket, bytes | str], None],
        gone: Callable[[PlayerSocket], None],
        max_message: int,
        tally: Tally | None = None,
    ) -> None:
        self.tally = tally or Tally()
        self._opened = opened
        self._received = received
        self._gone = gone
        self._max = max_message
        self.transport: WSTransport | None = None
        # Set once a close is sent or the connection is gone: nothing is written after.
        self.closed = False
        # The connection was lost with no close frame from either side (a network cut,
        # a client killed): its player may come back with its resume token.
        self.dropped = False
        # A message arriving in fragments: its type, the bytes so far, how many pieces.
        self._kind: WSMsgType | None = None
        self._parts = bytearray()
        self._pieces = 0
        self._closing: asyncio.TimerHandle | None = None

    # --- the gateway's side -----------------------------------------------------

    def send(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.send(WSMsgType.BINARY, data)
            self.tally.bytes_out += len(data)
            self.tally.messages_out += 1

    def close(self, code: int, reason: bytes = b"") -> None:
        """Send a close frame; the connection drops when the client answers it, or
        after ``CLOSE_WAIT`` seconds whatever is still unsent. Meanwhile what it
        sends is read and dropped: dropping the connection at once would make the
        kernel reset it, and a client still sending (a flooder) would lose the close
        frame, and its code, with it."""
        if self.closed or self.transport is None:
            return
        self.closed = True
        self.tally.closes[code] += 1
        self.transport.send_close(WSCloseCode(code), reason[:120])
        self._closing = asyncio.get_running_loop().call_later(CLOSE_WAIT, self.abort)

    def abort(self) -> None:
        """Drop the connection now, whatever is still unsent."""
        self.closed = True
        self._stop_waiting()
        if self.transport is not None:
            self.transport.disconnect(graceful=False)

    @property
    def address(self) -> str:
        """The client's IP address ("" before the socket is open)."""
        if self.transport is None:
            return ""
        peer = self.transport.underlying_transport.get_extra_info("peername")
        return str(peer[0]) if peer else ""

    def unsent(self) -> int:
        """Bytes written to this socket that the client has not taken yet."""
        if self.transport is None:
            return 0
        return int(self.transport.underlying_transport.get_write_buffer_size())

    # --- picows' side ---------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self._opened(self)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.dropped = not self.closed
        self.closed = True
        self._stop_waiting()
        self._gone(self)

    def pause_writing(self) -> None:
        # The client does not take what it is sent: read nothing more from it until
        # it does (the answers to what it sends would pile up here).
        if self.transport is not None:
            self.transport.underlying_transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.underlying_transport.resume_reading()

    def _stop_waiting(self) -> None:
        if self._closing is not None:
            self._closing.cancel()
            self._closing = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        try:
            self._frame(transport, frame)
        except Exception:
            log.exception("a player's socket failed on a message: closed")
            self.close(CLOSE_INTERNAL, b"internal error")

    def _frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.CLOSE:
            if not self.closed:  # the client's goodbye: answered with its code
                self.closed = True
                code = frame.get_close_code() if frame.payload_size >= 2 else CLOSE_NORMAL
                transport.send_close(WSCloseCode(code))
            self._stop_waiting()
            transport.disconnect()
            return
        if self.closed:
            return  # after our close frame: read, not heard
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self.close(CLOSE_PROTOCOL, b"reserved bits set")
            return
        if kind not in (WSMsgType.BINARY, WSMsgType.TEXT, WSMsgType.CONTINUATION):
            return  # pings and pongs: picows answers them
        if kind == WSMsgType.CONTINUATION:
            if self._kind is None:
                self.close(CLOSE_PROTOCOL, b"continuation of no message")
                return
            kind = self._kind
        elif self._kind is not None:
            self.close(CLOSE_PROTOCOL, b"a new message inside a fragmented one")
            return
        if self._kind is None and frame.fin:
            data = frame.get_payload_as_bytes()
        else:
            self._kind = kind
            self._parts += frame.get_payload_as_memoryview()
            self._pieces += 1
            if len(self._parts) > self._max:
                self.close(CLOSE_TOO_BIG, b"message too big")
                return
            if self._pieces > MAX_FRAGMENTS:
                self.close(CLOSE_PROTOCOL, b"too many fragments")
                return
            if not frame.fin:
                return
            data, self._kind, self._parts, self._pieces = bytes(self._parts), None, bytearray(), 0
        if kind == WSMsgType.TEXT:
            try:
                text = data.decode()
            except UnicodeDecodeError:
                self.close(CLOSE_BAD_TEXT, b"text is not UTF-8")
                return
            self._received(self, text)
        else:
            self._received(self, data)
