"""Players' WebSockets at the gateway, on picows.

picows hands each WebSocket frame to a listener's callback, with no future or
task per message, and writes without awaiting: ``bench/ws_libraries.py``
measured a gateway's socket work alone (140-byte frames out, 40-byte inputs in,
ten a second each way, 1,000 clients) at 12.5 us of server CPU per message,
against 20.0 us on aiohttp. ``PlayerSocket`` is one connection: whole messages
go to the gateway's ``received`` (a message sent in fragments is put together,
up to the gateway's message limit); sends are immediate writes; ``unsent`` is
what the client has not taken yet. picows answers pings, pings an idle client
and drops one that does not answer, and closes a socket whose message is over
the limit (1009).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

CLOSE_TOO_BIG = 1009
CLOSE_BAD_TEXT = 1007
CLOSE_PROTOCOL = 1002
CLOSE_WAIT = 2.0  # seconds a closed socket waits for the client's close frame


class PlayerSocket(WSListener):
    """One player's WebSocket. ``opened``, ``received`` and ``gone`` are the gateway's."""

    def __init__(
        self,
        opened: Callable[[PlayerSocket], None],
        received: Callable[[PlayerSocket, bytes | str], None],
        gone: Callable[[PlayerSocket], None],
        max_message: int,
    ) -> None:
        self._opened = opened
        self._received = received
        self._gone = gone
        self._max = max_message
        self.transport: WSTransport | None = None
        # Set once a close is sent or the connection is gone: nothing is written after.
        self.closed = False
        # A message arriving in fragments: its type and the bytes so far.
        self._kind: WSMsgType | None = None
        self._parts = bytearray()
        self._closing: asyncio.TimerHandle | None = None

    # --- the gateway's side -----------------------------------------------------

    def send(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.send(WSMsgType.BINARY, data)

    def close(self, code: int, reason: bytes = b"") -> None:
        """Send a close frame; the connection drops when the client answers it, or
        after ``CLOSE_WAIT`` seconds. Meanwhile what it sends is read and dropped:
        dropping the connection at once would make the kernel reset it, and a client
        still sending (a flooder) would lose the close frame, and its code, with it."""
        if self.closed or self.transport is None:
            return
        self.closed = True
        self.transport.send_close(WSCloseCode(code), reason[:120])
        transport = self.transport
        self._closing = asyncio.get_running_loop().call_later(CLOSE_WAIT, transport.disconnect)

    def abort(self) -> None:
        """Drop the connection now, whatever is still unsent."""
        self.closed = True
        self._stop_waiting()
        if self.transport is not None:
            self.transport.disconnect(graceful=False)

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
        self.closed = True
        self._stop_waiting()
        self._gone(self)

    def _stop_waiting(self) -> None:
        if self._closing is not None:
            self._closing.cancel()
            self._closing = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind == WSMsgType.CLOSE:
            if not self.closed:  # the client's goodbye: answered
                self.closed = True
                transport.send_close(frame.get_close_code())
            self._stop_waiting()
            transport.disconnect()
            return
        if self.closed:
            return  # after our close frame: read, not heard
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
            if len(self._parts) > self._max:
                self.close(CLOSE_TOO_BIG, b"message too big")
                return
            if not frame.fin:
                return
            data, self._kind, self._parts = bytes(self._parts), None, bytearray()
        if kind == WSMsgType.TEXT:
            try:
                text = data.decode()
            except UnicodeDecodeError:
                self.close(CLOSE_BAD_TEXT, b"text is not UTF-8")
                return
            self._received(self, text)
        else:
            self._received(self, data)
