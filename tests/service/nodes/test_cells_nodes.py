"""A continent split over two world nodes (orchestrator and world nodes on real NATS and
PostgreSQL; the test plays the gateway): ghosts cross the border between nodes, and
a player walking over it is handed to the other node's cell, inputs following, and
its assignment follows through the orchestrator (a quiet re-point of its gateway);
a merge or a moved border hands what changed hands the same way."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from node_fixtures import azure_with, two_worlds_and_an_orchestrator

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cells.handover import FORWARD_SECONDS
from realmkit.engines.embedded import Endpoints
from realmkit.errors import NoResponders, RemoteError, Unavailable
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.instance import InstanceState
from realmkit.nodes.orchestrator.cells import Balancer, Cells
from realmkit.nodes.orchestrator.handover import GATEWAY_TIMEOUT, Handover
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.packs import PackCache
from realmkit.nodes.world.node import WorldNode
from realmkit.protocol.cluster import (
    Ack,
    CellsChanged,
    Drained,
    DrainNode,
    EnterWorld,
    GatewayControl,
    GatewayEvents,
    GatewayTraffic,
    InputBatch,
    Joined,
    JoinSpace,
    MergeCell,
    MoveCellBorder,
    Placement,
    PlayerInput,
    Repoint,
    SpaceLoad,
    SplitCell,
)
from realmkit.protocol.frames import FrameArrays, SpaceFrame
from realmkit.protocol.inputs import Move
from realmkit.settings import CellSettings
from realmkit.store.cells import PartitionRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database

WAIT = 20.0
Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]
BORDER = 1024.0
Y = 300.0


@pytest.fixture
async def nodes(database_url: str, endpoints: Endpoints) -> AsyncIterator[list[object]]:
    here = Endpoints(endpoints.nats_url, database_url)
    async with two_worlds_and_an_orchestrator(here) as started:
        yield started


async def _characters(db: Database, at: list[float]) -> tuple[int, list[int]]:
    """The realm Azure and a character standing at each x of ``at`` (at most four)."""
    return await azure_with(db, [(f"Walker{'abcd'[i]}", (x, Y, 0.0)) for i, x in enumerate(at)])


async def _seat(bus: NatsBus, cid: int) -> Placement:
    placed = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS, EnterWorld(cid, "gw-test"), Placement, timeout=WAIT
    )
    await bus.request(
        subjects.space_control(placed.instance_id),
        JoinSpace(cid, placed.epoch, "gw-test"),
        Joined,
        timeout=WAIT,
    )
    return placed


class GatewayStandIn:
    """What the test plays instead of a gateway: the frames and re-points sent to
    ``gw-test``, every re-point acknowledged."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[SpaceFrame] = asyncio.Queue()
        self.repoints: asyncio.Queue[Repoint] = asyncio.Queue()

    async def serve(self, bus: NatsBus) -> GatewayStandIn:
        await bus.subscribe(subjects.gateway_frames("gw-test"), GatewayTraffic, self._traffic)
        await bus.serve(subjects.gateway_control("gw-test"), GatewayControl, self._control)
        return self

    async def _traffic(self, message: SpaceFrame | GatewayEvents) -> None:
        if isinstance(message, SpaceFrame):
            await self.frames.put(message)

    async def _control(self, message: GatewayControl) -> Ack:
        if isinstance(message, Repoint):
            await self.repoints.put(message)
        return Ack(True)


async def _split(bus: NatsBus, realm_id: int) -> CellsChanged:
    """Cell 1 cut at the border: cell 2 is the eastern half."""
    return await bus.request(
        subjects.ORCHESTRATOR_REQUESTS,
        SplitCell(realm_id, 1, 1, "x", BORDER),
        CellsChanged,
        timeout=WAIT,
    )


def _sees(frame: FrameArrays, observer: int) -> dict[int, float]:
    """Entity id -> x of what ``observer`` sees (itself included)."""
    i = list(frame.observers).index(observer)
    rows = [int(frame.selves[i]), *frame.visible[frame.offsets[i] : frame.offsets[i + 1]]]
    return {int(frame.ids[r]): float(frame.pos[r][0]) for r in rows}


async def test_a_continent_over_two_nodes_shows_across_and_hands_over(
    nodes: list[object],
    db: Database,
    bus: NatsBus,
    database_url: str,
    endpoints: Endpoints,
    run_realmkit,  # type: ignore[no-untyped-def]
) -> None:
    """Split at x=1024 with the new cell on the other node; a player on each side sees
    the other (a ghost, real id); the western one walks east and is handed to the
    eastern cell: its frames then come from that node, of the same continent, its
    inputs followed it, and its assignment moved to the eastern cell under the next
    epoch, the gateway re-pointed without a ``new_world``."""
    realm_id, (west, east) = await _characters(db, [BORDER - 12.0, BORDER + 40.0])
    gateway = await GatewayStandIn().serve(bus)
    frames, repoints = gateway.frames, gateway.repoints
    first = await _seat(bus, west)
    changed = await _split(bus, realm_id)
    assert changed.cells[1] == first.instance_id
    eastern = await InstanceRepo(db).get(changed.cells[2])
    assert eastern.state is InstanceState.READY
    assert eastern.node_id != first.node_id
    second = await _seat(bus, east)
    assert second.instance_id == eastern.instance_id  # seated by its position

    async def frame_of(instance_id: int, observer: int) -> FrameArrays:
        while True:
            frame = await frames.get()
            arrays = FrameArrays.of(frame)
            if frame.instance_id == instance_id and observer in list(arrays.observers):
                return arrays

    async with asyncio.timeout(WAIT):
        while east not in _sees(await frame_of(first.instance_id, west), west):
            pass  # the eastern player arrives as a ghost from the other node
        while west not in _sees(await frame_of(eastern.instance_id, east), east):
            pass
    # The western player walks east over the border, its inputs sent where it was seated.
    started = time.monotonic()
    seq, x = 0, BORDER - 12.0
    async with asyncio.timeout(WAIT):
        while True:
            seq += 1
            elapsed_ms = int((time.monotonic() - started) * 1000)
            x = min(BORDER + 20.0, BORDER - 12.0 + 5.0 * elapsed_ms / 1000) if seq > 1 else x
            move = Move(x, Y, 0.0, 0.0, client_time_ms=elapsed_ms, seq=seq)
            await bus.publish(
                subjects.space_inputs(first.instance_id),
                InputBatch("gw-test", [PlayerInput(west, move)]),
            )
            frame = FrameArrays.of(await frames.get())
            if west in list(frame.observers) and _sees(frame, west)[west] >= BORDER + 19.0:
                break
    arrays = await asyncio.wait_for(frame_of(eastern.instance_id, west), WAIT)
    assert _sees(arrays, west)[west] >= BORDER + 19.0
    assert east in _sees(arrays, west)
    # The crossing is placed: the gateway hears of the new cell, quietly.
    cell = await PartitionRepo(db).of_instance(eastern.instance_id)
    assert cell is not None
    repoint = await asyncio.wait_for(repoints.get(), WAIT)
    assert (repoint.character_id, repoint.instance_id, repoint.epoch) == (
        west,
        eastern.instance_id,
        first.epoch + 1,
    )
    assert not repoint.fresh
    assert repoint.continent == cell.partition_id
    placed = await AssignmentRepo(db).get(west)
    assert placed is not None
    assert (placed.instance_id, placed.epoch, placed.state) == (
        eastern.instance_id,
        first.epoch + 1,
        AssignmentState.IN_WORLD,
    )
    async with asyncio.timeout(WAIT):
        while True:  # frames of both cells name the continent, as the gateway keys them
            frame = await frames.get()
            if frame.instance_id == eastern.instance_id:
                assert frame.continent == cell.partition_id
                break
    # Inputs now go to the eastern cell directly, and its saves are under the new epoch.
    seq += 1
    move = Move(
        BORDER + 24.0,
        Y,
        0.0,
        0.0,
        client_time_ms=int((time.monotonic() - started) * 1000),
        seq=seq,
    )
    await bus.publish(
        subjects.space_inputs(eastern.instance_id), InputBatch("gw-test", [PlayerInput(west, move)])
    )
    async with asyncio.timeout(WAIT):
        while _sees(await frame_of(eastern.instance_id, west), west)[west] < BORDER + 23.0:
            pass

    # An operator splits the eastern cell again, by hand.
    env = {"REALMKIT_DATABASE_URL": database_url, "REALMKIT_NATS_URL": endpoints.nats_url}
    proc = run_realmkit(
        "cells", "Azure", "--split", "2", "--axis", "y", "--at", "1000", "--json", env=env
    )
    # Off the event loop: the nodes answering the command run on it.
    stdout, stderr = await asyncio.to_thread(proc.communicate, None, 60)
    assert proc.returncode == 0, stdout + stderr
    shown = json.loads(stdout)["cells"]
    assert {(c["cell_id"], c["min_x"], c["min_y"], c["version"]) for c in shown} == {
        (1, 0.0, 0.0, 3),
        (2, BORDER, 0.0, 3),
        (3, BORDER, 1000.0, 3),
    }
    bad = run_realmkit("cells", "Azure", "--split", "3", "--at", "1990", env=env)
    _, err = await asyncio.to_thread(bad.communicate, None, 60)
    assert bad.returncode == 2, err  # a cell that thin is refused, nothing changed
    # The operator moves the border between the two halves of the eastern cell north.
    proc = run_realmkit("cells", "Azure", "--move", "3", "--at", "1100", "--json", env=env)
    stdout, stderr = await asyncio.to_thread(proc.communicate, None, 60)
    assert proc.returncode == 0, stdout + stderr
    shown = json.loads(stdout)["cells"]
    assert {(c["cell_id"], c["min_y"], c["max_y"], c["version"]) for c in shown} == {
        (1, 0.0, 2048.0, 4),
        (2, 0.0, 1100.0, 4),
        (3, 1100.0, 2048.0, 4),
    }
    # Cell 1's sibling is split (no single border to move), and no cell gets thinner
    # than the map's smallest (twice the ghost margin): refused, nothing changed.
    # Nor is a move to where the border already is.
    for args in (
        ("--move", "1", "--at", "900"),
        ("--move", "3", "--at", "2000"),
        ("--move", "2", "--at", "1100"),
    ):
        bad = run_realmkit("cells", "Azure", *args, env=env)
        _, err = await asyncio.to_thread(bad.communicate, None, 60)
        assert bad.returncode == 2, err
        assert "border" in err, err
    stored = await PartitionRepo(db).live(realm_id, 1)
    assert stored is not None
    assert stored.version == 4


async def test_a_hand_over_that_never_arrives_is_taken_back(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """The eastern cell stops hearing its neighbour (as if its node died with the
    hand-over in flight): the western cell, seeing the crossing never placed, plays
    the walker again from what it handed, and the orchestrator places it there."""
    realm_id, (west,) = await _characters(db, [BORDER - 6.0])
    frames = (await GatewayStandIn().serve(bus)).frames
    first = await _seat(bus, west)
    changed = await _split(bus, realm_id)
    eastern = await InstanceRepo(db).get(changed.cells[2])
    host = next(n for n in nodes if getattr(n, "name", "") == eastern.node_id)
    deaf = host._subs[eastern.instance_id][-1]  # type: ignore[attr-defined]
    await deaf.unsubscribe()  # the eastern cell no longer hears its neighbours
    # Its row still says READY on a live node: the western cell waits out its patience
    # (25 s by default, longer than a crossing waits for orchestrators); 3 s here.
    western = next(n for n in nodes if getattr(n, "name", "") == first.node_id)
    western.runners[first.instance_id].crossings.give_up = 3.0  # type: ignore[attr-defined]
    started = time.monotonic()
    seq = 0
    async with asyncio.timeout(WAIT):
        while True:  # walk east until the western cell falls silent: it handed the walker
            seq += 1
            elapsed_ms = int((time.monotonic() - started) * 1000)
            x = min(BORDER + 8.0, BORDER - 6.0 + 5.0 * elapsed_ms / 1000)
            move = Move(x, Y, 0.0, 0.0, client_time_ms=elapsed_ms, seq=seq)
            await bus.publish(
                subjects.space_inputs(first.instance_id),
                InputBatch("gw-test", [PlayerInput(west, move)]),
            )
            try:
                await asyncio.wait_for(frames.get(), 0.5)
            except TimeoutError:
                break
    async with asyncio.timeout(WAIT):
        while True:  # the western cell plays it again
            frame = await frames.get()
            if frame.instance_id == first.instance_id and west in list(
                FrameArrays.of(frame).observers
            ):
                break

    async def placed_again() -> bool:
        placed = await AssignmentRepo(db).get(west)
        return placed is not None and placed.epoch > first.epoch

    await eventually(placed_again, WAIT, "the walker placed again")
    placed = await AssignmentRepo(db).get(west)
    assert placed is not None
    assert placed.instance_id == first.instance_id


async def test_a_merge_hands_everything_to_the_cell_that_stays(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """Split, then merge the new cell back: its player is handed to the cell that takes
    its area and placed there under the next epoch (quietly), and the merged-away
    cell's space stops once it is empty."""
    realm_id, (west, east) = await _characters(db, [BORDER - 40.0, BORDER + 40.0])
    repoints = (await GatewayStandIn().serve(bus)).repoints
    first = await _seat(bus, west)
    changed = await _split(bus, realm_id)
    eastern = changed.cells[2]
    second = await _seat(bus, east)
    assert second.instance_id == eastern
    merged = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS, MergeCell(realm_id, 1, 2), CellsChanged, timeout=WAIT
    )
    assert merged.cells == {1: first.instance_id}
    repoint = await asyncio.wait_for(repoints.get(), WAIT)
    assert (repoint.character_id, repoint.instance_id, repoint.epoch) == (
        east,
        first.instance_id,
        second.epoch + 1,
    )
    assert not repoint.fresh

    async def stopped() -> bool:  # at the leader's next look at the cells
        return (await InstanceRepo(db).get(eastern)).state is InstanceState.GONE

    await eventually(stopped, 2 * WAIT, "the merged-away cell's space stopped")
    placed = await AssignmentRepo(db).get(east)
    assert placed is not None
    assert placed.instance_id == first.instance_id


async def test_a_moved_border_hands_the_players_of_the_moved_area_over(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """Split at x=1024, then move the border 100 units west: the two players standing
    in the strip the western cell gave up are handed to the eastern cell, their
    assignments moved there under the next epoch (their gateway re-pointed quietly),
    the player further west stays where it was, and each of the three is played by
    exactly one cell, none lost."""
    near, nearer, far = BORDER - 60.0, BORDER - 30.0, BORDER - 400.0
    realm_id, (a, b, c) = await _characters(db, [near, nearer, far])
    repoints = (await GatewayStandIn().serve(bus)).repoints
    first = await _seat(bus, a)
    changed = await _split(bus, realm_id)
    western, eastern = changed.cells[1], changed.cells[2]
    seated = {a: first, b: await _seat(bus, b), c: await _seat(bus, c)}
    assert {p.instance_id for p in seated.values()} == {western}  # seated by position
    moved = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS,
        MoveCellBorder(realm_id, 1, 1, BORDER - 100.0),
        CellsChanged,
        timeout=WAIT,
    )
    assert moved.cells == changed.cells  # the same cells and instances
    assert moved.version == changed.version + 1
    stored = await PartitionRepo(db).live(realm_id, 1)
    assert stored is not None
    assert stored.cells[1].max_x == stored.cells[2].min_x == BORDER - 100.0
    async with asyncio.timeout(WAIT):
        heard = {}
        while len(heard) < 2:
            repoint = await repoints.get()
            heard[repoint.character_id] = repoint
    assert set(heard) == {a, b}
    for cid, repoint in heard.items():
        assert (repoint.instance_id, repoint.epoch) == (eastern, seated[cid].epoch + 1)
        assert not repoint.fresh

    async def placed() -> bool:
        rows = {cid: await AssignmentRepo(db).get(cid) for cid in (a, b, c)}
        return all(r is not None and r.state is AssignmentState.IN_WORLD for r in rows.values())

    await eventually(placed, WAIT, "every player placed")
    for cid, where in ((a, eastern), (b, eastern), (c, western)):
        row = await AssignmentRepo(db).get(cid)
        assert row is not None
        grown = 1 if where == eastern else 0
        assert (row.instance_id, row.epoch) == (where, seated[cid].epoch + grown)

    def owners(cid: int) -> list[int]:
        """The spaces that play ``cid`` as their own (not as a ghost)."""
        return [
            instance_id
            for node in nodes
            for instance_id, runner in getattr(node, "runners", {}).items()
            if cid in runner.space.world.players
        ]

    async def one_owner_each() -> bool:
        return all(len(owners(cid)) == 1 for cid in (a, b, c))

    await eventually(one_owner_each, WAIT, "one owner per player")
    assert [owners(cid) for cid in (a, b, c)] == [[eastern], [eastern], [western]]


async def test_the_leader_moves_the_border_of_a_slow_cell_into_it(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """The western cell ticks far slower than the eastern one (under the split
    threshold, too busy to merge): the leader's balancer moves their border west to
    its players' median, and the players in the strip it gave up are handed east."""
    near, nearer, far = BORDER - 60.0, BORDER - 30.0, BORDER - 400.0
    realm_id, (a, b, c) = await _characters(db, [near, nearer, far])
    await GatewayStandIn().serve(bus)
    await _seat(bus, a)
    changed = await _split(bus, realm_id)
    western, eastern = changed.cells[1], changed.cells[2]
    for cid in (b, c):
        await _seat(bus, cid)
    packs = PackCache()
    cells = Cells(db, bus, packs, InstanceRegistry(db, bus, packs, Handover(db, bus)))
    balancer = Balancer(cells, CellSettings(balance=True))
    loads = {
        western: SpaceLoad(western, 3, 3, 0, 30.0, 0),
        eastern: SpaceLoad(eastern, 0, 0, 0, 1.0, 0),
    }
    cooldown = balancer.settings.cooldown
    await balancer.round(100.0, loads)  # a leader's first look: split just now, it waits
    waited = await PartitionRepo(db).live(realm_id, 1)
    assert waited is not None
    assert waited.version == changed.version
    await balancer.round(100.0 + cooldown, loads)
    stored = await PartitionRepo(db).live(realm_id, 1)
    assert stored is not None
    assert stored.version == changed.version + 1
    assert stored.cells[1].max_x == near  # the median of the three
    assert {cell: row.instance_id for cell, row in stored.cells.items()} == changed.cells

    async def handed() -> bool:
        rows = [await AssignmentRepo(db).get(cid) for cid in (a, b, c)]
        return [r.instance_id if r is not None else 0 for r in rows] == [
            eastern,
            eastern,
            western,
        ]

    await eventually(handed, WAIT, "the players of the strip placed in the eastern cell")
    await balancer.round(200.0, loads)  # sees its own move: the cooldown runs again
    await balancer.round(200.0 + cooldown, loads)  # the same loads: within the dead band
    again = await PartitionRepo(db).live(realm_id, 1)
    assert again is not None
    assert again.version == stored.version


async def test_cells_that_missed_a_new_layout_read_it_and_hand_over(
    nodes: list[object], db: Database, bus: NatsBus
) -> None:
    """A layout written without its ``Relayout`` (as if the bus lost it): the cells
    read it from PostgreSQL on their own, and the player in the strip the western
    cell gave up is handed to the eastern cell, placed there under the next epoch."""
    near, far = BORDER - 30.0, BORDER - 400.0
    realm_id, (a, c) = await _characters(db, [near, far])
    repoints = (await GatewayStandIn().serve(bus)).repoints
    first = await _seat(bus, a)
    changed = await _split(bus, realm_id)
    eastern = changed.cells[2]
    await _seat(bus, c)
    partitions = PartitionRepo(db)
    stored = await partitions.live(realm_id, 1)
    assert stored is not None
    path = next(path for path, _, _ in stored.layout.splits())
    moved = stored.layout.move(path, BORDER - 100.0)
    await partitions.relayout(stored, moved, {c: r.instance_id for c, r in stored.cells.items()})
    repoint = await asyncio.wait_for(repoints.get(), 2 * WAIT)
    assert (repoint.character_id, repoint.instance_id, repoint.epoch) == (
        a,
        eastern,
        first.epoch + 1,
    )
    assert repoints.empty()  # the western player further in stays


async def test_a_cell_moved_live_while_its_player_crosses_out_and_back_keeps_one_owner(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """The western cell's node is drained (the cell moves live to the other node)
    while its player paces over the border and back: when it stops, exactly one
    cell plays it, the one its assignment names, under the assignment's epoch."""
    realm_id, (walker,) = await _characters(db, [BORDER - 8.0])
    repoints = (await GatewayStandIn().serve(bus)).repoints
    first = await _seat(bus, walker)
    changed = await _split(bus, realm_id)
    western = await InstanceRepo(db).get(changed.cells[1])
    route = {walker: first.instance_id}

    async def follow() -> None:
        while True:
            repoint = await repoints.get()
            route[repoint.character_id] = repoint.instance_id

    async def pace(seconds: float) -> None:
        started, seq, x, heading = time.monotonic(), 0, BORDER - 8.0, 1.0
        while time.monotonic() - started < seconds:
            seq += 1
            x += heading * 0.5  # 5 units a second at ten reports a second
            if abs(x - BORDER) >= 10.0:
                heading = -heading
            ms = int((time.monotonic() - started) * 1000)
            move = Move(x, Y, 0.0, 0.0, client_time_ms=ms, seq=seq)
            await bus.publish(
                subjects.space_inputs(route[walker]),
                InputBatch("gw-test", [PlayerInput(walker, move)]),
            )
            await asyncio.sleep(0.1)  # the client's pace: ten reports a second

    following = asyncio.create_task(follow())
    try:
        walking = asyncio.create_task(pace(8.0))
        drained = await bus.request(
            subjects.ORCHESTRATOR_REQUESTS, DrainNode(western.node_id or ""), Drained, timeout=WAIT
        )
        await walking
        assert [m.instance_id for m in drained.spaces] == [western.instance_id]

        def owners() -> list[tuple[int, int]]:
            """(instance, epoch) of each space playing the walker as its own."""
            return [
                (instance_id, getattr(runner.occupants.get(walker), "epoch", -1))
                for node in nodes
                for instance_id, runner in getattr(node, "runners", {}).items()
                if walker in runner.space.world.players
            ]

        async def one_owner_as_assigned() -> bool:
            a = await AssignmentRepo(db).get(walker)
            return (
                a is not None
                and a.state is AssignmentState.IN_WORLD
                and owners() == [(a.instance_id, a.epoch)]
            )

        await eventually(one_owner_as_assigned, WAIT, "one cell plays the walker, as assigned")
    finally:
        following.cancel()


class LateGateway(GatewayStandIn):
    """A gateway too busy to answer the first re-point in time (the orchestrator's
    request times out); later ones it answers at once."""

    def __init__(self) -> None:
        super().__init__()
        self.late = 1

    async def _control(self, message: GatewayControl) -> Ack:
        if isinstance(message, Repoint) and self.late:
            self.late -= 1
            await self.repoints.put(message)
            await asyncio.sleep(GATEWAY_TIMEOUT + 1.0)  # busy: answers after the timeout
            return Ack(True)
        return await super()._control(message)


async def test_a_gateway_that_missed_a_crossing_hears_it_again_and_its_inputs_follow(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """The gateway does not answer the crossing's re-point in time: the orchestrator
    tells it again, and until the gateway heard, every input it still sends to the
    old cell is forwarded to the new one, however long after the crossing (the
    player walks on, it does not freeze FORWARD_SECONDS after the crossing)."""
    realm_id, (walker,) = await _characters(db, [BORDER - 12.0])
    gateway = await LateGateway().serve(bus)
    first = await _seat(bus, walker)
    eastern = (await _split(bus, realm_id)).cells[2]
    seen: dict[int, float] = {}

    async def watch() -> None:
        while True:
            frame = await gateway.frames.get()
            arrays = FrameArrays.of(frame)
            if walker in list(arrays.observers):
                seen[frame.instance_id] = _sees(arrays, walker)[walker]

    watching = asyncio.create_task(watch())
    try:
        # Over the border and on, at 5 units a second, every input sent to the old cell.
        started, seq, x = time.monotonic(), 0, BORDER - 12.0
        goal = BORDER + 12.0 + 5.0 * (FORWARD_SECONDS + 3.0)
        while x < goal:
            seq += 1
            x = min(goal, BORDER - 12.0 + 5.0 * (time.monotonic() - started))
            ms = int((time.monotonic() - started) * 1000)
            await bus.publish(
                subjects.space_inputs(first.instance_id),
                InputBatch("gw-test", [PlayerInput(walker, Move(x, Y, 0.0, 0.0, ms, seq=seq))]),
            )
            await asyncio.sleep(0.1)  # the client's pace: ten reports a second

        async def walked_on() -> bool:
            return seen.get(eastern, 0.0) >= goal - 0.5

        await eventually(walked_on, WAIT, f"the walker at x={goal:g} in the eastern cell")
        repoints = [await asyncio.wait_for(gateway.repoints.get(), WAIT) for _ in range(2)]
        expected = (walker, eastern, first.epoch + 1)
        assert [(r.character_id, r.instance_id, r.epoch) for r in repoints] == [expected] * 2
    finally:
        watching.cancel()


async def test_a_split_whose_new_half_finds_no_node_is_undone_and_leaves_nothing_behind(
    nodes: list[object], db: Database, bus: NatsBus
) -> None:
    """The node a split's new half is loaded on does not answer: the split is refused,
    the layout is one cell again (under a newer version), the new half's instance is
    GONE (not left REQUESTED or LOADING for ever), and players entering later are
    seated in the one cell, never in the instance that was given up."""
    realm_id, (west, east) = await _characters(db, [BORDER - 12.0, BORDER + 40.0])
    first = await _seat(bus, west)
    partitions = PartitionRepo(db)
    before = await partitions.live(realm_id, 1)
    assert before is not None
    other = next(n for n in nodes if isinstance(n, WorldNode) and n.name != first.node_id)
    await other._control.unsubscribe()  # hung: its control subject answers nobody
    with pytest.raises(RemoteError) as refused:
        await _split(bus, realm_id)
    assert refused.value.remote_code in {Unavailable.code, NoResponders.code}
    after = await partitions.live(realm_id, 1)
    assert after is not None
    assert (list(after.cells), after.version) == ([1], before.version + 2)
    assert after.cells[1].instance_id == first.instance_id
    rows = await InstanceRepo(db).live()
    continents = [i for i in rows if i.kind == "continent"]
    assert [i.instance_id for i in continents] == [first.instance_id]  # the new half: GONE
    second = await _seat(bus, east)
    assert second.instance_id == first.instance_id


async def test_a_split_made_by_hand_is_not_merged_back_before_the_cooldown(
    nodes: list[object], db: Database, bus: NatsBus
) -> None:
    """The leader looked at the one-cell continent; an operator splits it; the two
    quiet halves would merge, but the leader's cooldown counts from the operator's
    change: they stay until it has passed, then merge."""
    realm_id, (a,) = await _characters(db, [BORDER - 60.0])
    await _seat(bus, a)
    packs = PackCache()
    cells = Cells(db, bus, packs, InstanceRegistry(db, bus, packs, Handover(db, bus)))
    settings = CellSettings(balance=True, check_every=1.0, cooldown=30.0)
    balancer = Balancer(cells, settings)
    await balancer.round(100.0, {})  # one cell: nothing to do
    changed = await _split(bus, realm_id)
    await balancer.round(110.0, {})  # quiet halves, but split by hand just now
    stored = await PartitionRepo(db).live(realm_id, 1)
    assert stored is not None
    assert stored.version == changed.version
    # A leader that takes over now never saw the split: the store's time of it counts.
    successor = Balancer(cells, settings)
    await successor.round(500.0, {})
    kept = await PartitionRepo(db).live(realm_id, 1)
    assert kept is not None
    assert kept.version == changed.version
    await balancer.round(110.0 + settings.cooldown, {})
    merged = await PartitionRepo(db).live(realm_id, 1)
    assert merged is not None
    assert list(merged.cells) == [1]
