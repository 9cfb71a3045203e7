"""Orchestrator and world node on real NATS and PostgreSQL; the test plays the gateway."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import msgspec
import pytest
from node_fixtures import azure_with, two_worlds_and_an_orchestrator

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.engines.embedded import Endpoints
from realmkit.errors import RemoteError
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.instance import InstanceState
from realmkit.nodes.login.starts import start_in
from realmkit.protocol.cluster import (
    EnterWorld,
    GatewayEvents,
    GatewayTraffic,
    InputBatch,
    Joined,
    JoinSpace,
    LeaveSpace,
    Left,
    Placement,
    PlayerInput,
)
from realmkit.protocol.frames import FrameArrays, SpaceFrame
from realmkit.protocol.inputs import Move
from realmkit.store.characters import CharacterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database

WAIT = 10.0
START = start_in(load_pack(classic_pack_path()))


@pytest.fixture
async def cluster(database_url: str, endpoints: Endpoints) -> AsyncIterator[list[object]]:
    here = Endpoints(endpoints.nats_url, database_url)
    async with two_worlds_and_an_orchestrator(here, world_2_capacity=10) as started:
        yield started


async def _characters(db: Database, names: list[str]) -> list[int]:
    at = (START.x, START.y, START.z)
    return (await azure_with(db, [(n, at) for n in names], START.map_id, START.hp))[1]


async def test_enter_join_move_and_leave(cluster: list[object], db: Database, bus: NatsBus) -> None:
    """A placed character joins its space, is seen moving in frames (every other tick of
    the 20 Hz continent), and is saved on leave."""
    (cid,) = await _characters(db, ["Aria"])
    traffic: asyncio.Queue[SpaceFrame | GatewayEvents] = asyncio.Queue()

    async def on_traffic(message: SpaceFrame | GatewayEvents) -> None:
        await traffic.put(message)

    await bus.subscribe(subjects.gateway_frames("gw-test"), GatewayTraffic, on_traffic)
    placed = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS, EnterWorld(cid, "gw-test"), Placement, timeout=WAIT
    )
    assert placed.node_id == "world-1"  # the node with the most free capacity
    assert (await InstanceRepo(db).get(placed.instance_id)).state is InstanceState.READY
    joined = await bus.request(
        subjects.space_control(placed.instance_id),
        JoinSpace(cid, placed.epoch, "gw-test"),
        Joined,
        timeout=WAIT,
    )
    assert joined.map_id == START.map_id
    target_x = START.x + 3.0
    x_seen = START.x
    started = time.monotonic()
    seq = 0
    async with asyncio.timeout(WAIT):
        while abs(x_seen - target_x) > 0.01:
            # Walk like a client: anchor where the server put us, then 5 units per
            # second of elapsed time (under the pack's run speed), stamped with it.
            seq += 1
            elapsed_ms = int((time.monotonic() - started) * 1000)
            step_x = min(target_x, START.x + 5.0 * elapsed_ms / 1000) if seq > 1 else START.x
            move = Move(step_x, START.y, START.z, 0.0, client_time_ms=elapsed_ms, seq=seq)
            await bus.publish(
                subjects.space_inputs(placed.instance_id),
                InputBatch("gw-test", [PlayerInput(cid, move)]),
            )
            message = await traffic.get()
            while not isinstance(message, SpaceFrame):
                message = await traffic.get()
            arrays = FrameArrays.of(message)
            me = list(arrays.observers).index(cid)
            x_seen = float(arrays.pos[arrays.selves[me]][0])
    # The continent ticks at 20 Hz and sends frames at 10 Hz: every other tick.
    ticks: list[int] = []
    async with asyncio.timeout(WAIT):
        while len(ticks) < 6:
            message = await traffic.get()
            if isinstance(message, SpaceFrame):
                ticks.append(message.tick)
    assert {b - a for a, b in itertools.pairwise(ticks)} == {2}
    target = (target_x, START.y)
    left = await bus.request(
        subjects.space_control(placed.instance_id),
        LeaveSpace(cid, placed.epoch),
        Left,
        timeout=WAIT,
    )
    assert left.saved
    saved = await CharacterRepo(db).get(cid)
    assert abs(saved.pos_x - target[0]) < 0.01
    assert saved.save_epoch == placed.epoch
    assignment = await AssignmentRepo(db).get(cid)
    assert assignment is not None
    assert (assignment.state, assignment.epoch) == (AssignmentState.OFFLINE, placed.epoch + 1)


async def test_concurrent_entries_share_one_continent(
    cluster: list[object], db: Database, bus: NatsBus
) -> None:
    """Six characters entering at once all land in the same, single continent instance."""
    ids = await _characters(db, ["Bran", "Cato", "Dara", "Evan", "Fynn", "Gwen"])
    placements = await asyncio.gather(
        *(
            bus.request(
                subjects.ORCHESTRATOR_REQUESTS, EnterWorld(c, "gw-test"), Placement, timeout=WAIT
            )
            for c in ids
        )
    )
    assert len({p.instance_id for p in placements}) == 1
    async with db.connection() as conn:
        live = await conn.fetchval(
            "SELECT count(*) FROM characters.instances WHERE state <> 'gone'"
        )
    assert live == 1


async def test_join_with_a_stale_epoch_is_refused(
    cluster: list[object], db: Database, bus: NatsBus
) -> None:
    """Joining with an epoch that is not the current assignment's is refused."""
    (cid,) = await _characters(db, ["Hale"])
    first = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS, EnterWorld(cid, "gw-a"), Placement, timeout=WAIT
    )
    second = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS, EnterWorld(cid, "gw-b"), Placement, timeout=WAIT
    )
    assert second.epoch == first.epoch + 1
    with pytest.raises(RemoteError) as caught:
        await bus.request(
            subjects.space_control(first.instance_id),
            JoinSpace(cid, first.epoch, "gw-a"),
            Joined,
            timeout=WAIT,
        )
    assert caught.value.remote_code == "STALE_EPOCH"
    assert msgspec.structs.asdict(second)["node_id"] == first.node_id
