"""One continent over two world nodes, on a real cluster: players cross a cell border
seamlessly, seen from both sides, through two gateways."""

from __future__ import annotations

import asyncio
import math

import pytest
from invariants import check_invariants, fetch, owned_items
from test_instances import enter_at

from realmkit.bus import subjects
from realmkit.client.game import GameClient, world_position
from realmkit.protocol.cluster import (
    CellsChanged,
    DescribeSpace,
    SpaceDescription,
    SplitCell,
)

WAIT = 20.0
CONTINENT = 1
# The border: x = 210 on Greenhollow, a few steps east of the start.
BORDER = 210.0
Y = 300.0
# A crossing needs the border passed by its hysteresis (4 units, cells/border.py):
# the walker turns 5 units past it on either side.
WEST, EAST = BORDER - 5.0, BORDER + 5.0
CROSSINGS = 50


async def _cells(cluster) -> dict[int, int]:  # type: ignore[no-untyped-def]
    """cell id -> instance id of the live continent."""
    rows = await fetch(
        cluster.database_url,
        "SELECT c.cell_id, c.instance_id FROM characters.cells c "
        "JOIN characters.partitions p USING (partition_id) WHERE p.live AND p.map_id = $1",
        CONTINENT,
    )
    return {r["cell_id"]: r["instance_id"] for r in rows}


async def _assignment(cluster, character_id: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT instance_id, epoch FROM characters.player_assignments WHERE character_id = $1",
        character_id,
    )
    return int(rows[0]["instance_id"]), int(rows[0]["epoch"])


async def _owners_agree(cluster, bus) -> None:  # type: ignore[no-untyped-def]
    """Each cell's space holds exactly the players whose assignment names it: one
    owner per character, asked of the world nodes themselves."""
    for instance_id in (await _cells(cluster)).values():
        described = await bus.request(
            subjects.space_control(instance_id), DescribeSpace(), SpaceDescription, timeout=5.0
        )
        assigned = await fetch(
            cluster.database_url,
            "SELECT count(*) AS n FROM characters.player_assignments "
            "WHERE instance_id = $1 AND state <> 'offline'",
            instance_id,
        )
        assert described.players == assigned[0]["n"], f"cell instance {instance_id}"


async def _walk_to(client: GameClient, x: float, y: float) -> None:
    """Walk to (x, y) at 6.5 u/s, ten reports a second, until the server has it there."""
    async with asyncio.timeout(WAIT):
        there = False
        while not there:
            there = await client.walk_towards(x, y, speed=6.5, step_seconds=0.1)
            await asyncio.sleep(0.1)  # the client's own pace: ten reports a second
        while (me := client.me()) is None or math.dist(world_position(me)[:2], (x, y)) > 0.2:
            await client.wait_frame()


@pytest.mark.slow
async def test_a_walker_crosses_a_border_fifty_times_and_is_never_lost(
    http,  # type: ignore[no-untyped-def]
    cluster,
    bus,
    eventually,
) -> None:
    """The continent split at x=210 (the new cell on the other world node). A walker on
    gateway 1 crosses 50 times while an observer on gateway 2, standing east of the
    border, watches: the observer has the walker in every frame, neither client
    misses a frame or sees ``transfer_pending`` or ``new_world``, the walker's
    socket stays open, and each crossing moves its assignment to the cell it is in,
    under the next epoch."""
    items = await owned_items(cluster.database_url)
    walker = await enter_at(http, cluster, "Wayfarer", (WEST, Y), gateway=0)
    split = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS,
        SplitCell(await _realm_of(cluster, walker), CONTINENT, 1, "x", BORDER),
        CellsChanged,
        timeout=WAIT,
    )
    west_cell, east_cell = split.cells[1], split.cells[2]
    watcher = await enter_at(http, cluster, "Sentinel", (BORDER + 15.0, Y), gateway=1)
    try:
        assert (await _assignment(cluster, watcher.character_id))[0] == east_cell
        async with asyncio.timeout(WAIT):
            while walker.character_id not in watcher.visible():
                await watcher.wait_frame()
        lost: list[int] = []

        def check() -> None:
            if walker.character_id not in watcher.table.rows:
                lost.append(watcher.frames)

        watcher.on_frame = check
        _, epoch = await _assignment(cluster, walker.character_id)
        for n in range(CROSSINGS):
            target, cell = ((EAST, east_cell), (WEST, west_cell))[n % 2]
            await _walk_to(walker, target, Y)

            async def crossed(cell: int = cell) -> bool:
                return (await _assignment(cluster, walker.character_id))[0] == cell

            await eventually(crossed, WAIT, f"crossing {n + 1} placed in {cell}")
        assert lost == [], f"the watcher lost the walker in {len(lost)} frames"
        assert (await _assignment(cluster, walker.character_id))[1] == epoch + CROSSINGS
        for client in (walker, watcher):
            assert (client.gaps, client.pending_notices, client.transfers) == (0, 0, 0)
            assert not client.ws.closed
        # The watcher sees the walker where the walker is.
        seen = world_position(watcher.visible()[walker.character_id])
        assert math.dist(seen[:2], (WEST, Y)) < 0.5
        await _owners_agree(cluster, bus)
    finally:
        await walker.close()
        await watcher.close()
    await check_invariants(cluster.database_url, items)


async def _realm_of(cluster, client: GameClient) -> int:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT realm_id FROM characters.characters WHERE character_id = $1",
        client.character_id,
    )
    return int(rows[0]["realm_id"])
