"""One continent over two world nodes, on a real cluster: players cross a cell border
seamlessly, seen from both sides, through two gateways."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import subprocess
import sys

import pytest
from cluster_procs import node_pid
from invariants import check_invariants, fetch, owned_items
from test_instances import enter_at
from test_recovery import plays

from realmkit.bus import subjects
from realmkit.client.game import GameClient, world_position
from realmkit.protocol.cluster import (
    CellsChanged,
    DescribeSpace,
    SpaceDescription,
    SplitCell,
)
from realmkit.protocol.events import Died, LootGranted

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
    west_cell, east_cell = await _split(cluster, bus, walker)
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
        # `realmkit status` shows both cells, each on its node, with what it holds.
        shown = {c["cell_id"]: c for c in (await _status(cluster))["cells"]}
        assert {c: shown[c]["instance_id"] for c in shown} == {1: west_cell, 2: east_cell}
        assert shown[1]["node_id"] != shown[2]["node_id"]
        assert (shown[1]["players"], shown[2]["players"]) == (1, 1)
        worlds = (await _status(cluster))["worlds"]
        loads = {s["instance_id"]: s for w in worlds for s in w["space_loads"]}
        east = loads[east_cell]
        assert east["players"] == 1  # the watcher
        assert east["entities"] >= 1  # the watcher, and the creatures of its side
        assert east["ghosts"] >= 1  # the walker, from the western cell
        assert east["tick_p99_ms"] > 0
    finally:
        await walker.close()
        await watcher.close()
    await check_invariants(cluster.database_url, items)


async def _split(cluster, bus, client: GameClient) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """The continent split at the border (once per cluster): its (west, east) instances."""
    cells = await _cells(cluster)
    if len(cells) == 1:
        split = await bus.request(
            subjects.ORCHESTRATOR_REQUESTS,
            SplitCell(await _realm_of(cluster, client), CONTINENT, 1, "x", BORDER),
            CellsChanged,
            timeout=WAIT,
        )
        cells = split.cells
    return cells[1], cells[2]


async def _pace(client: GameClient, first: float, stop: asyncio.Event) -> int:
    """Walk back and forth over the border, starting towards ``first``, until ``stop``;
    through anything (a transfer, a correction, a pause of frames). Legs walked."""
    legs, target = 0, first
    while not stop.is_set():
        if client.position is None or client.transferring:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.wait_frame(), 1.0)
            continue
        if await client.walk_towards(target, Y, speed=6.5, step_seconds=0.1):
            legs += 1
            target = EAST if target == WEST else WEST
        await asyncio.sleep(0.1)  # the client's own pace: ten reports a second
    return legs


@pytest.mark.slow
async def test_a_cell_node_killed_while_players_cross_in_and_out(
    http,  # type: ignore[no-untyped-def]
    cluster,
    bus,
    eventually,
) -> None:
    """SIGKILL the world node of the eastern cell while two players pace over the
    border in opposite phase (one crossing into it, one out of it, again and again).
    Nobody is disconnected; once the cell is restored both play on, each owned by
    exactly the cell its assignment names, and nothing is lost."""
    items = await owned_items(cluster.database_url)
    pacers = [
        await enter_at(http, cluster, "Rover", (WEST, Y + 10.0), gateway=0),
        await enter_at(http, cluster, "Drifter", (EAST, Y + 20.0), gateway=1),
    ]
    try:
        _, east_cell = await _split(cluster, bus, pacers[0])
        rows = await fetch(
            cluster.database_url,
            "SELECT node_id FROM characters.instances WHERE instance_id = $1",
            east_cell,
        )
        node = rows[0]["node_id"]
        stop = asyncio.Event()
        walking = [
            asyncio.create_task(_pace(pacers[0], EAST, stop)),
            asyncio.create_task(_pace(pacers[1], WEST, stop)),
        ]
        try:
            await asyncio.sleep(2.5)  # a few crossings under way (the players' own pace)
            os.kill(node_pid(cluster.pid, node), signal.SIGKILL)

            async def restored() -> bool:
                found = await fetch(
                    cluster.database_url,
                    "SELECT state, node_id FROM characters.instances WHERE instance_id = $1",
                    east_cell,
                )
                return found[0]["state"] == "ready" and found[0]["node_id"] is not None

            await eventually(restored, 2 * WAIT, "the eastern cell restored")
            await asyncio.sleep(3.0)  # and a few crossings more (the players' own pace)
        finally:
            stop.set()
            legs = await asyncio.gather(*walking)
        assert min(legs) >= 1, legs
        west_cell = (await _cells(cluster))[1]
        for client in pacers:
            await plays(client)
            assert not client.closed.is_set()
            # Crossings work again, both ways, with the restored cell.
            for x, cell in ((EAST, east_cell), (WEST, west_cell)):
                await _walk_to(client, x, world_position(client.me())[1])  # type: ignore[arg-type]

                async def there(client: GameClient = client, cell: int = cell) -> bool:
                    return (await _assignment(cluster, client.character_id))[0] == cell

                await eventually(there, WAIT, f"{client.character_id} placed in {cell}")
        await _owners_agree(cluster, bus)
    finally:
        for client in pacers:
            await client.close()
    await check_invariants(cluster.database_url, items)


# The Greenhollow wolves (classic spawns around (360, 210) and (330, 205)): a third
# cell north of y=245 has none of them until one chases a player into it.
WOLF = 1
NORTH = 245.0
FIREBOLT, MEND = 1, 2
FIREBOLT_COOLDOWN = 3.1  # seconds: a little over the spell's 3 (classic pack.toml)


async def _three_cells(cluster, bus, client: GameClient) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Cell 2 (east of the border) split at y=245: its (south, north) instances."""
    await _split(cluster, bus, client)
    cells = await _cells(cluster)
    if len(cells) == 2:
        split = await bus.request(
            subjects.ORCHESTRATOR_REQUESTS,
            SplitCell(await _realm_of(cluster, client), CONTINENT, 2, "y", NORTH),
            CellsChanged,
            timeout=WAIT,
        )
        cells = split.cells
    return cells[2], cells[3]


async def _wolves_in(bus, instance_id: int) -> list[tuple[float, float]]:  # type: ignore[no-untyped-def]
    """Where the living wolves a cell owns stand."""
    described = await bus.request(
        subjects.space_control(instance_id), DescribeSpace(), SpaceDescription, timeout=5.0
    )
    return described.standing.get(WOLF, [])


def _wolf(client: GameClient, within: float) -> int | None:
    """The living wolf within ``within`` of the client that stands furthest north."""
    me = client.me()
    assert me is not None
    here = world_position(me)[:2]
    wolves = [
        (world_position(row)[1], entity_id)
        for entity_id, row in client.visible().items()
        if row.kind == 2
        and row.template == WOLF
        and row.hp > 0
        and math.dist(world_position(row)[:2], here) <= within
    ]
    return max(wolves)[1] if wolves else None


async def _a_wolf(client: GameClient, within: float) -> int:
    """A wolf in reach, once one wanders there (frames come as things move)."""
    async with asyncio.timeout(2 * WAIT):
        while (wolf := _wolf(client, within)) is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.wait_frame(), 1.0)
    return wolf


async def _next_event(client: GameClient, kind: type, match, timeout: float):  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while True:
            event = await client.events.get()
            if isinstance(event, kind) and match(event):
                return event


async def _kill(client: GameClient, wolf: int, timeout: float) -> Died | None:
    """Firebolt (as its cooldown allows) and melee ``wolf`` until it dies: its
    ``died``; None if it leaves the client's view or lives past ``timeout`` (a wolf
    beyond its leash runs home, immune)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and wolf in client.visible():
        await client.cast(FIREBOLT, wolf)
        await client.attack(wolf)  # should the bolt not reach: finish it
        with contextlib.suppress(TimeoutError):
            died: Died = await _next_event(
                client, Died, lambda e: e.entity_id == wolf, FIREBOLT_COOLDOWN
            )
            return died
    return None


@pytest.mark.slow
async def test_a_kill_over_a_border_is_looted_and_a_wolf_chases_over_it(
    http,  # type: ignore[no-untyped-def]
    cluster,
    bus,
    eventually,
) -> None:
    """A hunter in the northern cell, 1 unit past its border with the wolves' cell,
    hits a wolf once and steps back north: the wolf chases it over the border and
    bites it there. Back at the border's edge (a wolf stops 2 units short of its
    target: in its own cell now), two Firebolts kill a wolf across the border: its
    owner rolls the loot for the hunter, whose client hears of the kill and the
    loot, and the items are the hunter's in PostgreSQL."""
    items = await owned_items(cluster.database_url)
    hunter = await enter_at(http, cluster, "Hunter", (352.0, NORTH + 1.0), gateway=1)
    try:
        south, north = await _three_cells(cluster, bus, hunter)

        async def placed_north() -> bool:  # handed there by the splits, if it came first
            return (await _assignment(cluster, hunter.character_id))[0] == north

        await eventually(placed_north, WAIT, "the hunter in the northern cell")

        # Off with the wolves in the northern cell: killed, or home again past their
        # leash (one an earlier test drew there, or one that comes north below; a wolf
        # whose home lies far south evades once it bit; it is immune then).
        async def none_north() -> bool:
            if (near := _wolf(hunter, within=6.0)) is not None:
                await hunter.attack(near)
            return not await _wolves_in(bus, north)

        await eventually(none_north, WAIT, "no wolf in the northern cell to begin with")
        # A wolf, hit once, follows the hunter north and bites. (A wolf that went
        # further than its leash from home gives up and goes back: then another.)
        x, _, _, _ = hunter.position  # type: ignore[misc]
        for _ in range(3):
            await _walk_to(hunter, x, NORTH + 1.0)
            wolf = await _a_wolf(hunter, within=28.0)
            await hunter.cast(FIREBOLT, wolf)
            await _walk_to(hunter, x, NORTH + 7.5)
            hp_before = hunter.me().hp  # type: ignore[union-attr]

            async def came_over_and_bit(hp_before: int = hp_before) -> bool:
                return (
                    bool(await _wolves_in(bus, north)) and hunter.me().hp < hp_before  # type: ignore[union-attr]
                )

            with contextlib.suppress(AssertionError):
                await eventually(came_over_and_bit, WAIT / 2, "a bite in the northern cell")
                break
        else:
            raise AssertionError("three wolves hit and none came over to bite")

        await eventually(none_north, WAIT, "the wolves in the northern cell killed or gone home")
        await hunter.cast(MEND)
        # To the border's edge: a wolf that comes now stops in its own cell.
        x, _, _, _ = hunter.position  # type: ignore[misc]
        await _walk_to(hunter, x, NORTH + 1.0)
        looted: list[int] = []
        for _ in range(6):  # a wolf's loot table can roll nothing: another wolf then
            wolf = await _a_wolf(hunter, within=28.0)
            died = await _kill(hunter, wolf, WAIT)
            if died is None:
                continue  # it got away (home past its leash, out of sight): another
            assert died.killer_id == hunter.character_id
            # The loot follows the kill within a tick or two, if the table rolled any.
            with contextlib.suppress(TimeoutError):
                while True:
                    loot = await _next_event(
                        hunter, LootGranted, lambda e, w=wolf: e.source_id == w, 1.0
                    )
                    looted.append(loot.item_id)
            if looted:
                break
            await hunter.cast(MEND)  # the bites of the wolves that came
        assert looted, "six wolves and no loot"
        rows = await fetch(
            cluster.database_url,
            "SELECT item_id FROM characters.items WHERE owner_character_id = $1",
            hunter.character_id,
        )
        assert set(looted) <= {r["item_id"] for r in rows}
        assert (await _assignment(cluster, hunter.character_id))[0] == north  # it stayed
        assert south != north
    finally:
        await hunter.close()
    await check_invariants(cluster.database_url, items)


async def _status(cluster) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """``realmkit status --json`` of the cluster, as an operator runs it."""
    env = {**os.environ, "REALMKIT_CONFIG": str(cluster.node_file)}
    env["REALMKIT_NATS_URL"] = cluster.endpoints.nats_url
    env["REALMKIT_DATABASE_URL"] = cluster.database_url
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "realmkit", "status", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


async def _realm_of(cluster, client: GameClient) -> int:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT realm_id FROM characters.characters WHERE character_id = $1",
        client.character_id,
    )
    return int(rows[0]["realm_id"])


async def test_a_realm_restart_brings_each_player_back_into_its_cell(  # type: ignore[no-untyped-def]
    http, cluster, bus, eventually
) -> None:
    """A restart of the realm with its continent split over world nodes: every cell
    starts again from its content, the player on each side of the border is seated
    back where it stood, in the cell it was in, and the continent keeps its cells."""
    items = await owned_items(cluster.database_url)
    west = await enter_at(http, cluster, "Westling", (WEST - 30.0, Y), gateway=0)
    west_cell, _ = await _split(cluster, bus, west)
    east = await enter_at(http, cluster, "Eastling", (EAST + 30.0, Y), gateway=1)
    try:
        spots, cells = {}, {}
        for client in (west, east):
            await plays(client)
            me = client.me()
            assert me is not None
            spots[client.character_id] = world_position(me)
            cells[client.character_id] = (await _assignment(cluster, client.character_id))[0]
        assert cells[west.character_id] == west_cell
        assert cells[east.character_id] != west_cell, "the border lies between them"
        layout = await _cells(cluster)
        realm_id = await _realm_of(cluster, west)
        await fetch(
            cluster.database_url,
            "INSERT INTO cluster.realm_restarts (realm_id, due_at, reason) "
            "VALUES ($1, now(), 'operator')",
            realm_id,
        )

        async def back() -> bool:
            return all(
                c.pending_reasons and not c.transferring and c.me() is not None
                for c in (west, east)
            )

        await eventually(back, 45.0, "both players seated back")
        for client in (west, east):
            assert list(client.pending_reasons) == ["restart"]
            assert not client.ws.closed
            again = client.me()
            assert again is not None
            assert math.dist(world_position(again), spots[client.character_id]) < 1.0
            placed = (await _assignment(cluster, client.character_id))[0]
            assert placed == cells[client.character_id]
            await plays(client)
        assert await _cells(cluster) == layout
        await _owners_agree(cluster, bus)
    finally:
        await west.close()
        await east.close()
    await check_invariants(cluster.database_url, items)
