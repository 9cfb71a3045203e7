"""A gateway that gave up on an entry (the orchestrator answered too late) takes the
character out again if the seat completed after all: in the world with no socket, it
would stay there until its next login (orchestrator, two world nodes and a gateway on
real NATS and PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from node_fixtures import azure_with, running, two_worlds_and_an_orchestrator

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import Endpoints
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.nodes.gateway.node import GatewayNode
from realmkit.protocol.cluster import EnterWorld, Placement
from realmkit.settings import NodeSpec, Role
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database

WAIT = 20.0
Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]


@pytest.fixture
async def gateway(database_url: str, endpoints: Endpoints) -> AsyncIterator[GatewayNode]:
    here = Endpoints(endpoints.nats_url, database_url)
    async with two_worlds_and_an_orchestrator(here):
        node = GatewayNode(NodeSpec(name="gateway-7", role=Role.GATEWAY, port=0), here)
        async with running(node):
            yield node


async def _characters(db: Database, names: list[str]) -> list[int]:
    return (await azure_with(db, [(name, (200.0, 200.0, 0.0)) for name in names]))[1]


async def test_a_seat_that_completes_after_its_entry_gave_up_is_logged_out(
    gateway: GatewayNode, db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """Two characters are seated under the gateway's name without a socket there; the
    gateway gave up on the entry of one of them: that one is logged out (saved,
    offline) at the gateway's next round; the other, whose entry it never gave up on,
    is left alone."""
    late, other = await _characters(db, ["Late", "Other"])
    for cid in (late, other):  # what the orchestrator does with an entry it was asked
        await bus.request(
            subjects.ORCHESTRATOR_REQUESTS, EnterWorld(cid, gateway.name), Placement, timeout=WAIT
        )
    gateway.abandoned.gave_up(late, time.monotonic())  # its entry timed out

    async def logged_out() -> bool:
        a = await AssignmentRepo(db).get(late)
        return a is not None and a.state is AssignmentState.OFFLINE

    await eventually(logged_out, WAIT, "the late seat logged out")
    kept = await AssignmentRepo(db).get(other)
    assert kept is not None
    assert kept.state is AssignmentState.IN_WORLD
    assert gateway.abandoned.to_look_up(time.monotonic(), gateway.players) == []
