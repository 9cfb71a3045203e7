"""A player whose connection drops with no goodbye (its network cut, its browser
killed) keeps its seat for the resume grace while its gateway stays up: it resumes
with its token where it stood; one who never comes back is logged out after the
grace; a close frame is a goodbye, logged out at once (two world nodes, an
orchestrator and a gateway on real NATS and PostgreSQL, clients over WebSockets)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from node_fixtures import (
    azure_with,
    enter_through,
    leave_world,
    running,
    two_worlds_and_an_orchestrator,
)

from realmkit.client.game import GameClient
from realmkit.engines.embedded import Endpoints
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.nodes.gateway.node import GatewayNode
from realmkit.settings import NodeSpec, Role
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database

WAIT = 20.0
GRACE = 8.0
Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]


@pytest.fixture
async def gateway(database_url: str, endpoints: Endpoints) -> AsyncIterator[GatewayNode]:
    here = Endpoints(endpoints.nats_url, database_url)
    async with two_worlds_and_an_orchestrator(here):
        node = GatewayNode(
            NodeSpec(name="gateway-1", role=Role.GATEWAY, host="127.0.0.1", port=0),
            here,
            resume_grace=GRACE,
        )
        node.orphan_after = 1.0
        node.orphan_check_every = 1
        async with running(node):
            yield node


def _cut(client: GameClient) -> None:
    """The client's TCP connection shut down under it: no close frame either way."""
    sock = client.ws.get_extra_info("socket")
    assert sock is not None
    sock.shutdown(socket.SHUT_RDWR)


async def test_a_dropped_connection_keeps_its_seat_for_the_resume_grace(
    gateway: GatewayNode, db: Database, eventually: Eventually
) -> None:
    """Cora closes her socket (a goodbye) and is logged out at once. Anna's and Bert's
    connections are cut with no close frame: the gateway holds both seats, in the
    world past the gateway's orphan age, through its sweeps. Anna resumes with her
    token on the same gateway and is where she stood, in the same space. Bert never
    comes back and is logged out once the grace is over, not before."""
    _, (anna, bert, cora) = await azure_with(
        db,
        [
            ("Anna", (200.0, 200.0, 0.0)),
            ("Bert", (210.0, 200.0, 0.0)),
            ("Cora", (220.0, 200.0, 0.0)),
        ],
    )
    assignments = AssignmentRepo(db)

    async def state(cid: int) -> AssignmentState:
        a = await assignments.get(cid)
        assert a is not None
        return a.state

    clients = [await enter_through(db, gateway, cid) for cid in (anna, bert, cora)]
    a, b, c = clients
    try:
        async with asyncio.timeout(WAIT):
            while a.me() is None:
                await a.wait_frame()
        me = a.me()
        assert me is not None
        stood = (me.x, me.y)
        space = a.world.instance_id

        await leave_world(c)

        async def cora_out() -> bool:
            return await state(cora) is AssignmentState.OFFLINE

        await eventually(cora_out, WAIT, "Cora logged out on her goodbye")
        assert gateway.held == {}

        dropped_at = time.monotonic()
        _cut(a)
        _cut(b)

        async def both_held() -> bool:
            return set(gateway.held) == {anna, bert} and not gateway.players

        await eventually(both_held, WAIT, "both seats held")
        assert gateway.dropped == 2
        # Sweeps after the seats passed the gateway's orphan age leave them in the world.
        sweeps = gateway.orphan_sweeps

        async def swept_twice() -> bool:
            return gateway.orphan_sweeps >= sweeps + 2

        await eventually(swept_twice, WAIT, "two sweeps of the gateway")
        assert time.monotonic() - dropped_at < GRACE, "the machine is too slow here"
        assert await state(anna) is AssignmentState.IN_WORLD
        assert await state(bert) is AssignmentState.IN_WORLD

        assert a._session is not None
        await a.resume(a._session, gateway.url, timeout=WAIT)
        assert a.world.instance_id == space
        async with asyncio.timeout(WAIT):
            while a.me() is None:
                await a.wait_frame()
        back = a.me()
        assert back is not None
        assert (back.x, back.y) == pytest.approx(stood, abs=0.01)
        assert anna in gateway.players
        assert anna not in gateway.held

        async def bert_out() -> bool:
            return await state(bert) is AssignmentState.OFFLINE

        await eventually(bert_out, WAIT + GRACE, "Bert logged out after the grace")
        assert time.monotonic() - dropped_at >= GRACE  # not before the grace was over
        assert gateway.held == {}
        assert await state(anna) is AssignmentState.IN_WORLD
    finally:
        for client in clients:
            await leave_world(client)
