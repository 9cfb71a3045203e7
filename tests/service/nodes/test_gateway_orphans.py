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
    """Characters seated under the gateway's name without a socket there (as an entry
    the gateway gave up on completes). The gateway leaves a fresh seat alone (an answer
    may be on its way) through its sweeps; once a seat is ``orphan_after`` old, its
    character is logged out (saved, offline), and the same for a seat whose space no
    longer holds the character (released in the store). Left alone: a seat under
    another gateway, one whose leave the gateway is sending itself, and one made
    before this run of the gateway started (its player may resume: the leader's)."""
    gateway.orphan_after = 8.0
    gateway.orphan_check_every = 1
    names = ["Late", "Gone", "Away", "Leaver", "Before"]
    late, gone, elsewhere, leaver, before = await _characters(db, names)
    asked_at = time.monotonic()  # every seat below is changed after this
    for cid, gateway_id in (
        (late, gateway.name),
        (gone, gateway.name),
        (elsewhere, "gw-other"),
        (leaver, gateway.name),
        (before, gateway.name),
    ):
        await bus.request(  # what the orchestrator does with an entry it was asked
            subjects.ORCHESTRATOR_REQUESTS, EnterWorld(cid, gateway_id), Placement, timeout=WAIT
        )
    gateway.leaving.add(leaver)
    async with db.connection() as conn:  # seated by a run of the gateway that died
        await conn.execute(
            "UPDATE characters.player_assignments SET updated_at = now() - interval '1 hour' "
            "WHERE character_id = $1",
            before,
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

    async def state(cid: int) -> AssignmentState:
        a = await AssignmentRepo(db).get(cid)
        assert a is not None
        return a.state

    # A sweep while the seats are fresh leaves them in the world.
    sweeps = gateway.orphan_sweeps

    async def swept() -> bool:
        return gateway.orphan_sweeps > sweeps

    await eventually(swept, WAIT, "a sweep of the gateway")
    assert time.monotonic() - asked_at < gateway.orphan_after, "the machine is too slow here"
    assert await state(late) is AssignmentState.IN_WORLD

    async def logged_out() -> bool:
        found = await AssignmentRepo(db).of_characters([late, gone])
        return all(a.state is AssignmentState.OFFLINE for a in found.values())

    await eventually(logged_out, WAIT + gateway.orphan_after, "the seats with no player logged out")
    assert time.monotonic() - asked_at >= gateway.orphan_after  # none before it settled
    for kept in (elsewhere, leaver, before):
        assert await state(kept) is AssignmentState.IN_WORLD
