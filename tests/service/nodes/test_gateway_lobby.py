"""Sockets that never say hello, at the gateway (``GatewayNode.listen``, no engines;
the hand-made client of ``test_gateway_sockets``): each is closed on time, and a
flood of them is bounded per address and per gateway. On uvloop, as a gateway runs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

import uvloop
from test_gateway_sockets import RecordingGateway, closed_with, connect

from realmkit.nodes.gateway.sockets import CLOSE_WAIT, PlayerSocket
from realmkit.protocol.client import CLOSE_TRY_LATER, CLOSE_UNAUTHENTICATED
from realmkit.session.connection import HELLO_TIMEOUT
from realmkit.session.lobby import PER_ADDRESS, Lobby

Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]
Client = tuple[asyncio.StreamReader, asyncio.StreamWriter]


def on_uvloop(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run the test on uvloop, as ``realmkit node`` runs a gateway: its timers count
    whole milliseconds from a cached clock, so they may fire a little early."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        uvloop.run(test(*args, **kwargs))

    return run


@contextlib.asynccontextmanager
async def listening(lobby: Lobby[PlayerSocket] | None = None) -> AsyncIterator[RecordingGateway]:
    """A gateway taking sockets (``lobby``: its caps, the default ones if not given)."""
    node = RecordingGateway()
    if lobby is not None:
        node.lobby = lobby
    await node.listen()
    try:
        yield node
    finally:
        await node.drain()


@contextlib.asynccontextmanager
async def silent(port: int, n: int, source: str = "127.0.0.1") -> AsyncIterator[list[Client]]:
    """``n`` WebSockets opened at once from ``source``, that never say anything."""
    opened = await asyncio.gather(*(connect(port, source=source) for _ in range(n)))
    for _, _, head in opened:
        assert head.startswith(b"HTTP/1.1 101"), head
    try:
        yield [(reader, writer) for reader, writer, _ in opened]
    finally:
        for _, writer, _ in opened:
            writer.close()


def _holds_none(gateway: RecordingGateway) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return not gateway._sockets and not len(gateway.lobby)

    return check


@on_uvloop
async def test_every_silent_socket_is_closed_on_time(eventually: Eventually) -> None:
    """200 sockets opened at once that never say hello are each closed with 4001 within
    the hello timeout (plus a margin), none forgotten; the gateway holds none after."""
    async with listening(Lobby(per_address=1000)) as gateway:
        started = time.monotonic()
        async with silent(gateway.port, 200) as clients:
            codes = await asyncio.gather(
                *(
                    asyncio.wait_for(closed_with(reader), HELLO_TIMEOUT + 2.0)
                    for reader, _ in clients
                )
            )
            assert time.monotonic() - started < HELLO_TIMEOUT + 2.0
        assert set(codes) == {CLOSE_UNAUTHENTICATED}
        await eventually(
            _holds_none(gateway), CLOSE_WAIT + 2.0, "every socket gone from the gateway"
        )


@on_uvloop
async def test_past_its_share_an_address_is_refused_and_others_are_not(
    eventually: Eventually,
) -> None:
    """An address holds 64 sockets waiting for hello at most: the next is closed at once
    with 1013, while another address gets in; once one of the 64 is gone, the first
    address gets in again."""
    async with listening() as gateway, silent(gateway.port, PER_ADDRESS) as first:
        assert len(gateway.lobby) == PER_ADDRESS
        async with silent(gateway.port, 1) as [(reader, _)]:
            code = await asyncio.wait_for(closed_with(reader), HELLO_TIMEOUT / 2)
            assert code == CLOSE_TRY_LATER
        async with silent(gateway.port, 1, source="127.0.0.2"):
            assert len(gateway.lobby) == PER_ADDRESS + 1
        first[0][1].close()

        async def room_again() -> bool:
            return len(gateway.lobby) == PER_ADDRESS - 1

        await eventually(room_again, CLOSE_WAIT, "one of the address's sockets gone")
        async with silent(gateway.port, 1):
            assert len(gateway.lobby) == PER_ADDRESS


@on_uvloop
async def test_a_full_gateway_refuses_upgrades_before_the_handshake() -> None:
    """With as many sockets waiting for hello as it holds, the gateway answers the next
    upgrade 503 (with Retry-After) without opening a WebSocket."""
    async with (
        listening(Lobby(per_gateway=10)) as gateway,
        silent(gateway.port, 5),
        silent(gateway.port, 5, source="127.0.0.2"),
    ):
        _, writer, head = await connect(gateway.port, source="127.0.0.3")
        writer.close()
        assert head.startswith(b"HTTP/1.1 503")
        assert b"Retry-After: 5" in head
        assert len(gateway.lobby) == 10
