"""Borders that follow the load, on a real cluster: a crowd makes the leader split its
cell while it moves; when it leaves, the cells merge again."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Iterator

import pytest
from invariants import check_invariants, fetch, owned_items
from test_instances import enter_at

from conftest import TEST_SETTINGS, Cluster, cluster_on_session_engines
from realmkit.client.game import GameClient
from realmkit.engines.embedded import Endpoints

WAIT = 20.0
CROWD = 12
CENTRE = (600.0, 620.0)
# The crossing hysteresis (4 units) and some moves since the last save.
SLACK = 8.0
# A cell with more than 8 players is split, two cells with 2 or fewer merge.
CELL_SETTINGS = TEST_SETTINGS.replace(
    "[cells]\nbalance = false\n",
    "[cells]\nbalance = true\nsplit_players = 8\nmerge_players = 2\nsplit_tick_ms = 1000.0\n"
    "check_every = 1.0\ncooldown = 4.0\n",
)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    endpoints: Endpoints,
    databases,  # type: ignore[no-untyped-def]
) -> Iterator[Cluster]:
    assert CELL_SETTINGS != TEST_SETTINGS
    with cluster_on_session_engines(tmp_path_factory, endpoints, databases, CELL_SETTINGS) as c:
        yield c


async def _cells(cluster: Cluster) -> list[tuple[int, int, float, float, float, float]]:
    rows = await fetch(
        cluster.database_url,
        "SELECT c.cell_id, c.instance_id, c.min_x, c.min_y, c.max_x, c.max_y "
        "FROM characters.cells c JOIN characters.partitions p USING (partition_id) "
        "WHERE p.live AND p.map_id = 1 ORDER BY c.cell_id",
    )
    return [tuple(r.values()) for r in rows]  # type: ignore[misc]


async def _mill(client: GameClient, stop: asyncio.Event, seed: int) -> None:
    """Wander a few units around where it stands until ``stop`` (the crowd moves)."""
    rng = random.Random(seed)
    while not stop.is_set():
        if client.position is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.wait_frame(), 1.0)
            continue
        x, y, _, _ = client.position
        dx, dy = rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5)
        await client.move(x + dx, y + dy, 10.0, 0.0)
        await asyncio.sleep(0.3)  # the client's own pace


@pytest.mark.slow
async def test_a_crowd_splits_its_cell_and_the_cells_merge_when_it_leaves(
    http,  # type: ignore[no-untyped-def]
    cluster: Cluster,
    eventually,
) -> None:
    """Twelve players mill about one spot: the leader splits their cell at the crowd (the
    new half on the other world node) while they move, everyone still connected and
    owned by the cell they stand in; when ten leave, the leader merges the two cells
    and stops the space of the one merged away."""
    items = await owned_items(cluster.database_url)
    crowd = []
    for i in range(CROWD):
        at = (CENTRE[0] + 6.0 * (i % 4), CENTRE[1] + 6.0 * (i // 4))
        crowd.append(await enter_at(http, cluster, f"Crowd{'abcdefghijkl'[i]}", at, gateway=i % 2))
    stop = asyncio.Event()
    milling = [asyncio.create_task(_mill(c, stop, i)) for i, c in enumerate(crowd)]
    try:

        async def split() -> bool:
            return len(await _cells(cluster)) == 2

        await eventually(split, 3 * WAIT, "the crowd's cell split by the leader")
        cells = await _cells(cluster)
        nodes = await fetch(
            cluster.database_url,
            "SELECT node_id FROM characters.instances WHERE instance_id = ANY($1)",
            [c[1] for c in cells],
        )
        assert len({r["node_id"] for r in nodes}) == 2  # the new half on the other node

        async def owned_where_they_stand() -> bool:
            """Every player's assignment names the cell its position is in (give or take
            the crossing hysteresis, and the moves since its last save)."""
            rows = await fetch(
                cluster.database_url,
                "SELECT a.instance_id, c.pos_x, c.pos_y FROM characters.player_assignments a "
                "JOIN characters.characters c USING (character_id) WHERE a.state <> 'offline'",
            )
            per_cell = {cell[1]: 0 for cell in cells}
            for r in rows:
                near = {
                    c[1]
                    for c in cells
                    if c[2] - SLACK <= r["pos_x"] < c[4] + SLACK
                    and c[3] - SLACK <= r["pos_y"] < c[5] + SLACK
                }
                if r["instance_id"] not in near:
                    return False
                per_cell[r["instance_id"]] += 1
            return len(rows) == CROWD and all(n > 0 for n in per_cell.values())

        await eventually(owned_where_they_stand, 2 * WAIT, "each player owned where it stands")
        await asyncio.sleep(2.0)  # the crowd mills on over the new border a while
        for client in crowd:
            assert not client.closed.is_set()
            assert (client.pending_notices, client.transfers) == (0, 0)
    finally:
        stop.set()
        await asyncio.gather(*milling)
    leaving, staying = crowd[:10], crowd[10:]
    for client in leaving:
        await client.close()
    try:
        retired = {c[1] for c in cells}

        async def merged() -> bool:
            return len(await _cells(cluster)) == 1

        await eventually(merged, 3 * WAIT, "the two cells merged by the leader")
        retired -= {c[1] for c in await _cells(cluster)}

        async def stopped() -> bool:
            rows = await fetch(
                cluster.database_url,
                "SELECT state FROM characters.instances WHERE instance_id = ANY($1)",
                list(retired),
            )
            return all(r["state"] == "gone" for r in rows)

        await eventually(stopped, 2 * WAIT, "the merged-away cell's space stopped")
        for client in staying:
            assert not client.closed.is_set()
            assert (client.pending_notices, client.transfers) == (0, 0)
    finally:
        for client in staying:
            await client.close()
    await check_invariants(cluster.database_url, items)
