"""A split moves creatures, never makes them: the new cell starts empty and gets the
split cell's creatures on its side by hand-over (orchestrator and two world nodes on
real NATS and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from node_fixtures import azure_with, two_worlds_and_an_orchestrator

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cells.border import CROSS_MARGIN
from realmkit.engines.embedded import Endpoints
from realmkit.lifecycle.instance import InstanceState
from realmkit.nodes.world.node import WorldNode
from realmkit.protocol.cluster import (
    CellsChanged,
    DescribeSpace,
    EnterWorld,
    MoveCellBorder,
    Placement,
    SpaceDescription,
    SplitCell,
)
from realmkit.sim.store import Kind
from realmkit.store.placement import InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.spaces import CheckpointRepo

WAIT = 20.0
BORDER = 1024.0
# Where the border moves to: the strip between it and BORDER holds four spawns.
STRIP_WEST = 500.0
Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]


@pytest.fixture
async def nodes(database_url: str, endpoints: Endpoints) -> AsyncIterator[list[object]]:
    here = Endpoints(endpoints.nats_url, database_url)
    async with two_worlds_and_an_orchestrator(here) as started:
        yield started


async def _standing(bus: NatsBus, instance_id: int) -> list[tuple[float, float]]:
    described = await bus.request(
        subjects.space_control(instance_id), DescribeSpace(), SpaceDescription, timeout=WAIT
    )
    return [spot for spots in described.standing.values() for spot in spots]


async def _enter(db: Database, bus: NatsBus) -> tuple[int, Placement]:
    """The realm Azure and a player in the west of its continent (which starts it)."""
    realm_id, (watcher,) = await azure_with(db, [("Watcher", (200.0, 200.0, 0.0))])
    placed = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS, EnterWorld(watcher, "gw-test"), Placement, timeout=WAIT
    )
    return realm_id, placed


async def _split(bus: NatsBus, realm_id: int) -> tuple[int, int]:
    """The continent cut at x=BORDER: its (western, eastern) cells' instances."""
    changed = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS,
        SplitCell(realm_id, 1, 1, "x", BORDER),
        CellsChanged,
        timeout=WAIT,
    )
    return changed.cells[1], changed.cells[2]


def _creature_ids(nodes: list[object], instance_id: int) -> list[int]:
    """The ids of the creatures (alive or waiting to respawn) a cell owns."""
    for node in nodes:
        runner = getattr(node, "runners", {}).get(instance_id)
        if runner is not None:
            c = runner.space.world.store.cols
            return [int(i) for i in c["id"][c["kind"] == Kind.CREATURE]]
    raise AssertionError(f"no node runs {instance_id}")


async def test_a_split_hands_creatures_over_and_makes_none(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """Before the split one cell holds every creature of the continent; after it the
    two cells hold as many together, each only those on its side, and the new one
    holds some (handed over, not spawned a second time)."""
    realm_id, placed = await _enter(db, bus)
    before = len(await _standing(bus, placed.instance_id))
    assert before > 0
    west, east = await _split(bus, realm_id)

    async def shared_out() -> bool:
        mine, theirs = await _standing(bus, west), await _standing(bus, east)
        return (
            len(mine) + len(theirs) == before
            and len(theirs) > 0
            # (one wandering over the border stays until it is past the hysteresis)
            and all(x < BORDER + CROSS_MARGIN for x, _ in mine)
            and all(x >= BORDER - CROSS_MARGIN for x, _ in theirs)
        )

    await eventually(shared_out, WAIT, "the creatures shared out between the cells, once each")


async def _die(node: WorldNode) -> None:
    """The node dies as under SIGKILL: nothing saved, nothing said, no heartbeat."""
    assert node._heartbeat is not None
    node._heartbeat.cancel()
    for runner in node.runners.values():
        runner.abandon()
    node.runners.clear()
    node._control = None
    await node.bus.close()


async def test_creatures_handed_to_a_cell_that_dies_before_its_checkpoint_come_back(
    nodes: list[object], db: Database, bus: NatsBus, eventually: Eventually
) -> None:
    """The border moves west, handing the creatures of a wide strip to the eastern
    cell, whose node then dies before the cell wrote a checkpoint with them: the
    cell is restored on the other node from its older checkpoint, and the western
    cell, hearing its new incarnation, sends those creatures again. Every creature
    of the continent is still there, once."""
    realm_id, placed = await _enter(db, bus)
    before = len(await _standing(bus, placed.instance_id))
    west, east = await _split(bus, realm_id)
    host = await InstanceRepo(db).get(east)
    node = next(n for n in nodes if isinstance(n, WorldNode) and n.name == host.node_id)

    async def all_there() -> bool:
        return len(await _standing(bus, west)) + len(await _standing(bus, east)) == before

    async def checkpointed() -> bool:
        return await CheckpointRepo(db).latest(east) is not None

    await eventually(all_there, WAIT, "the creatures shared out between the cells")
    await eventually(checkpointed, WAIT, "a checkpoint of the eastern cell")
    node.runners[east]._checkpoint_every = 10**9  # no checkpoint after this one
    moved_from = len(await _standing(bus, east))
    await bus.request(
        subjects.ORCHESTRATOR_REQUESTS,
        MoveCellBorder(realm_id, 1, 2, STRIP_WEST),
        CellsChanged,
        timeout=WAIT,
    )

    async def strip_handed() -> bool:
        return len(await _standing(bus, east)) > moved_from and await all_there()

    await eventually(strip_handed, WAIT, "the strip's creatures handed to the eastern cell")
    await _die(node)

    async def restored() -> bool:
        row = await InstanceRepo(db).get(east)
        return row.state is InstanceState.READY and row.node_id != host.node_id

    await eventually(restored, 3 * WAIT, "the eastern cell restored on the other node")
    await eventually(all_there, WAIT, f"all {before} creatures there again, once each")
    ids = _creature_ids(nodes, west) + _creature_ids(nodes, east)
    assert len(ids) == len(set(ids))  # none of them twice
