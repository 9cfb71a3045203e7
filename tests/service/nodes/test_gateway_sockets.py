"""The gateway's sockets, spoken to by a hand-made WebSocket client (raw frames on a
loopback TCP socket): what a stranger can make it do and hold. The gateway listens
with no engines (``GatewayNode.listen``); what its players send is recorded."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import pytest

from realmkit.engines.embedded import Endpoints
from realmkit.nodes.gateway.node import MAX_MESSAGE, GatewayNode
from realmkit.nodes.gateway.sockets import MAX_FRAGMENTS, PlayerSocket
from realmkit.settings import NodeSpec, Role

TEXT, BINARY, CLOSE, PING, CONTINUATION = 1, 2, 8, 9, 0
WAIT = 10.0
Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]


class RecordingGateway(GatewayNode):
    """A gateway whose players' messages are kept, not acted on."""

    def __init__(self) -> None:
        super().__init__(NodeSpec(name="gateway-9", role=Role.GATEWAY, port=0), Endpoints("", ""))
        self.got: list[bytes | str] = []

    def _received(self, sock: PlayerSocket, data: bytes | str) -> None:
        self.got.append(data)


@pytest.fixture
async def gateway() -> AsyncIterator[RecordingGateway]:
    node = RecordingGateway()
    await node.listen()
    try:
        yield node
    finally:
        await node.drain()


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0) -> bytes:
    """A client's frame (masked, as RFC 6455 wants from clients)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


async def connect(
    port: int, path: str = "/ws", source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """An upgrade request from address ``source`` (of 127.0.0.0/8), and the answer's head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    async with asyncio.timeout(WAIT):
        head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The next frame from the server (never masked)."""
    async with asyncio.timeout(WAIT):
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        return b0 & 0x0F, await reader.readexactly(n)


async def closed_with(reader: asyncio.StreamReader) -> int:
    """The code of the server's close frame (frames before it skipped)."""
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == CLOSE:
            return int.from_bytes(payload[:2], "big")


async def test_paths_health_and_an_unknown_one(gateway: RecordingGateway) -> None:
    _, writer, head = await connect(gateway.port, "/healthz")
    assert head.startswith(b"HTTP/1.1 200")
    writer.close()
    reader, writer, head = await connect(gateway.port, "/healthz?probe=1")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"application/json" in head
    body = await reader.read()
    assert msgspec.json.decode(body) == {"ok": True, "players": 0}
    writer.close()
    _, writer, head = await connect(gateway.port, "/admin")
    assert head.startswith(b"HTTP/1.1 404")
    writer.close()


async def test_a_message_in_fragments_arrives_whole_and_text_as_text(
    gateway: RecordingGateway, eventually: Eventually
) -> None:
    reader, writer, head = await connect(gateway.port)
    assert head.startswith(b"HTTP/1.1 101")
    writer.write(frame(BINARY, b"ab", fin=False))
    writer.write(frame(PING, b"between"))  # a control frame between fragments: fine
    writer.write(frame(CONTINUATION, b"cd", fin=False))
    writer.write(frame(CONTINUATION, b"ef"))
    writer.write(frame(TEXT, b'{"t": "hello"}'))
    opcode, payload = await read_frame(reader)
    assert (opcode, payload) == (0xA, b"between")  # the pong

    async def both() -> bool:
        return len(gateway.got) >= 2

    await eventually(both, WAIT, "both messages at the gateway")
    assert gateway.got == [b"abcdef", '{"t": "hello"}']
    writer.close()


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([frame(BINARY, b"x", rsv=0x40)], 1002),  # no extension was agreed
        ([frame(CONTINUATION, b"x")], 1002),  # continuing nothing
        ([frame(BINARY, b"x", fin=False), frame(BINARY, b"y")], 1002),
        ([frame(BINARY, b"x", fin=False)] * (MAX_FRAGMENTS + 1), 1002),
        ([frame(BINARY, b"x" * 3000, fin=False), frame(CONTINUATION, b"y" * 3000)], 1009),
        ([frame(BINARY, b"x" * (MAX_MESSAGE + 1))], 1009),
        ([frame(TEXT, b"\xff\xfe")], 1007),
        ([frame(CLOSE)], 1000),  # a goodbye with no code is answered "normal"
        ([frame(CLOSE, (4321).to_bytes(2, "big"))], 4321),
    ],
)
async def test_what_closes_a_socket_and_with_which_code(
    gateway: RecordingGateway, frames: list[bytes], code: int
) -> None:
    reader, writer, _ = await connect(gateway.port)
    writer.write(b"".join(frames))
    assert await closed_with(reader) == code
    assert gateway.got == []
    writer.close()


async def test_a_client_that_sends_without_reading_waits_on_its_own_socket(
    gateway: RecordingGateway,
) -> None:
    """Pings, each answered with a pong, from a client that reads nothing: the gateway
    stops reading it once its answers pile up, so what it holds stays bounded (it held
    every pong before: hundreds of megabytes from one stranger)."""
    _, writer, _ = await connect(gateway.port)
    burst = frame(PING, b"p" * 125) * 1000  # 131 KB of pings, 125 KB of pongs
    sent = 0
    with contextlib.suppress(TimeoutError):
        for _ in range(400):  # at most 52 MB
            writer.write(burst)
            async with asyncio.timeout(2.0):  # the gateway stopped reading: backpressure
                await writer.drain()
            sent += len(burst)
    held = max(sock.unsent() for sock in gateway._sockets)
    assert sent < 400 * len(burst), "the gateway read every ping however many pongs it held"
    assert held < 4 * 1024 * 1024
    writer.close()
