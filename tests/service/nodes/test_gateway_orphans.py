"""Characters in the world under a gateway's name with no player there (a seat that
completed after its entry gave up, a leave that never reached its space) are logged
out by that gateway: in the world with no socket, they would stay there until their
next login (orchestrator, two world nodes and a gateway on real NATS and PostgreSQL)."""

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
from realmkit.protocol.cluster import EnterWorld, HandOff, Left, Placement
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


async def test_seats_with_no_player_behind_them_are_logged_out_once_settled(
    gateway: GatewayNode, db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """Two characters are seated under the gateway's name without a socket there (as an
    entry the gateway gave up on completes). The gateway leaves fresh seats alone (an
    answer may be on its way); once a seat is ``orphan_after`` old, its character is
    logged out (saved, offline), and the same for a seat whose space no longer holds
    the character (released in the store). A seat under another gateway is left alone."""
    gateway.orphan_after = 3.0
    late, gone, elsewhere = await _characters(db, ["Late", "Gone", "Away"])
    asked_at = time.monotonic()  # every seat below is changed after this
    for cid, gateway_id in ((late, gateway.name), (gone, gateway.name), (elsewhere, "gw-other")):
        await bus.request(  # what the orchestrator does with an entry it was asked
            subjects.ORCHESTRATOR_REQUESTS, EnterWorld(cid, gateway_id), Placement, timeout=WAIT
        )
    seat = await AssignmentRepo(db).get(gone)
    assert seat is not None
    assert seat.instance_id is not None
    # Its space lets it go without the store hearing of it (a leave that was lost).
    await bus.request(
        subjects.space_control(seat.instance_id),
        HandOff(gone, seat.epoch),
        Left,
        timeout=WAIT,
    )

    async def logged_out() -> bool:
        found = await AssignmentRepo(db).of_characters([late, gone])
        return all(a.state is AssignmentState.OFFLINE for a in found.values())

    await eventually(logged_out, WAIT, "the seats with no player logged out")
    assert time.monotonic() - asked_at >= gateway.orphan_after  # none before it settled
    kept = await AssignmentRepo(db).get(elsewhere)
    assert kept is not None
    assert kept.state is AssignmentState.IN_WORLD
