"""A continent's partition in PostgreSQL: the schema's own invariants (migration 0010)."""

from __future__ import annotations

import json

import asyncpg
import pytest

from realmkit.cells.partition import Axis, Rect
from realmkit.engines.embedded import Endpoints
from realmkit.errors import AlreadyExists, StaleLayout, UsageError
from realmkit.lifecycle.instance import InstanceEvent
from realmkit.store.accounts import AccountRepo
from realmkit.store.cells import PartitionRepo, StoredPartition
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Instance, MapKind, Realm

MAP = Rect(0.0, 0.0, 2048.0, 2048.0)
MIN = 200.0


async def _realm(db: Database) -> Realm:
    cluster = ClusterRepo(db)
    await cluster.add_game("classic", "Classic", "classic")
    await cluster.add_pool("europe", "classic")
    return await cluster.add_realm("Azure", "classic", 1)


async def _continent(db: Database, realm: Realm) -> Instance:
    return await InstanceRepo(db).create(
        game_id="classic",
        map_id=1,
        kind=MapKind.CONTINENT,
        pool_id=realm.pool_id,
        realm_id=realm.realm_id,
        capacity=3000,
        bounds=MAP,
    )


async def _live(db: Database, realm: Realm) -> StoredPartition:
    found = await PartitionRepo(db).live(realm.realm_id, 1)
    assert found is not None
    return found


async def test_a_continent_comes_with_one_cell_over_its_map(db: Database) -> None:
    """A new continent instance runs cell 1 of a fresh partition (version 1) over the map."""
    realm = await _realm(db)
    continent = await _continent(db, realm)
    stored = await _live(db, realm)
    assert stored.version == 1
    assert stored.layout.cells == {1: MAP}
    assert stored.cells[1].instance_id == continent.instance_id
    assert stored.cells[1].rect == MAP
    assert (await PartitionRepo(db).of_instance(continent.instance_id)) == stored.cells[1]


async def test_a_split_and_a_merge_are_each_written_whole(db: Database) -> None:
    """Splitting creates the new cell's instance with the new layout; merging removes
    the cell; the stored rectangles are the layout's every time."""
    realm = await _realm(db)
    continent = await _continent(db, realm)
    repo = PartitionRepo(db)
    stored = await _live(db, realm)
    split = stored.layout.split(1, Axis.X, 1024.0, MIN)
    after = await repo.relayout(stored, split, {1: continent.instance_id, 2: None})
    assert after.version == 2
    assert {c: r.rect for c, r in after.cells.items()} == split.cells
    new = await InstanceRepo(db).get(after.cells[2].instance_id)
    assert (new.kind, new.realm_id, new.map_id) == (MapKind.CONTINENT, realm.realm_id, 1)
    merged = after.layout.merge(2)
    final = await repo.relayout(after, merged, {1: continent.instance_id})
    assert final.version == 3
    assert list(final.cells) == [1]
    assert final.cells[1].rect == MAP


async def test_a_layout_from_an_old_version_is_refused(db: Database) -> None:
    """Two writers split from the same version: the second is StaleLayout, nothing written."""
    realm = await _realm(db)
    continent = await _continent(db, realm)
    repo = PartitionRepo(db)
    stored = await _live(db, realm)
    await repo.relayout(
        stored, stored.layout.split(1, Axis.X, 1024.0, MIN), {1: continent.instance_id, 2: None}
    )
    with pytest.raises(StaleLayout):
        await repo.relayout(
            stored,
            stored.layout.split(1, Axis.Y, 500.0, MIN),
            {1: continent.instance_id, 2: None},
        )
    now = await _live(db, realm)
    assert now.version == 2
    assert now.cells[2].rect == Rect(1024.0, 0.0, 2048.0, 2048.0)


@pytest.mark.parametrize(
    ("statement", "fault"),
    [
        ("UPDATE characters.cells SET max_x = 1000 WHERE cell_id = 1", "hole"),
        ("UPDATE characters.cells SET max_x = 1100 WHERE cell_id = 1", "overlap"),
        ("UPDATE characters.cells SET min_x = -5 WHERE cell_id = 1", "outside the map"),
        ("DELETE FROM characters.cells WHERE cell_id = 2", "hole"),
    ],
)
async def test_cells_that_do_not_tile_their_map_are_refused(
    db: Database, database_url: str, statement: str, fault: str
) -> None:
    """Any write that leaves a hole, an overlap or a cell outside the map is refused at
    commit (RK004), even by raw SQL, and nothing changes."""
    realm = await _realm(db)
    continent = await _continent(db, realm)
    stored = await _live(db, realm)
    await PartitionRepo(db).relayout(
        stored, stored.layout.split(1, Axis.X, 1024.0, MIN), {1: continent.instance_id, 2: None}
    )
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError, match=fault) as refused:
            await conn.execute(statement)
        assert refused.value.sqlstate == "RK004"
    finally:
        await conn.close()
    assert {c: r.rect for c, r in (await _live(db, realm)).cells.items()} == {
        1: Rect(0.0, 0.0, 1024.0, 2048.0),
        2: Rect(1024.0, 0.0, 2048.0, 2048.0),
    }


async def test_a_continent_outside_any_partition_is_refused(
    db: Database, database_url: str
) -> None:
    """A continent instance inserted without its cell is refused at commit (RK005)."""
    realm = await _realm(db)
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError) as refused:
            await conn.execute(
                "INSERT INTO characters.instances "
                "(game_id, map_id, kind, pool_id, realm_id, capacity) "
                "VALUES ('classic', 1, 'continent', $1, $2, 10)",
                realm.pool_id,
                realm.realm_id,
            )
        assert refused.value.sqlstate == "RK005"
    finally:
        await conn.close()


async def test_versions_and_cell_epochs_never_go_back(db: Database) -> None:
    """A partition's version and a cell's epoch only grow (RK001)."""
    realm = await _realm(db)
    continent = await _continent(db, realm)
    repo = PartitionRepo(db)
    assert await repo.next_epoch(continent.instance_id) == 2
    async with db.connection() as conn:
        for statement in (
            "UPDATE characters.partitions SET version = 0",
            "UPDATE characters.cells SET epoch = 1",
        ):
            with pytest.raises(asyncpg.PostgresError) as refused:
                await conn.execute(statement)
            assert refused.value.sqlstate == "RK001"


async def test_one_live_partition_per_realm_map_until_its_cells_are_gone(db: Database) -> None:
    """A second continent of a realm's map is AlreadyExists while the partition lives;
    once its last cell's instance is gone the partition ends and a new one may start."""
    realm = await _realm(db)
    first = await _continent(db, realm)
    with pytest.raises(AlreadyExists):
        await _continent(db, realm)
    await InstanceRepo(db).move(first, InstanceEvent.CANCEL)
    assert await PartitionRepo(db).live(realm.realm_id, 1) is None
    second = await _continent(db, realm)
    assert (await _live(db, realm)).cells[1].instance_id == second.instance_id


async def test_a_layout_must_name_an_instance_for_each_cell(db: Database) -> None:
    """A relayout that forgets a cell's instance is refused before anything is written."""
    realm = await _realm(db)
    continent = await _continent(db, realm)
    stored = await _live(db, realm)
    split = stored.layout.split(1, Axis.X, 1024.0, MIN)
    with pytest.raises(UsageError):
        await PartitionRepo(db).relayout(stored, split, {1: continent.instance_id})
    assert (await _live(db, realm)).version == 1


async def test_a_continent_from_before_cells_gets_its_partition_when_loaded(db: Database) -> None:
    """A continent live before migration 0010 has no partition: ensure gives it one
    cell over the map (once; a second call finds it)."""
    realm = await _realm(db)
    continent = await _continent(db, realm)
    async with db.transaction() as conn:  # as it was before partitions existed
        await conn.execute("DELETE FROM characters.cells")
        await conn.execute("DELETE FROM characters.partitions")
    repo = PartitionRepo(db)
    assert await repo.of_instance(continent.instance_id) is None
    where = {"realm_id": realm.realm_id, "map_id": 1, "zone_group": 0, "bounds": MAP}
    cell = await repo.ensure(instance_id=continent.instance_id, **where)  # type: ignore[arg-type]
    assert (cell.cell_id, cell.rect) == (1, MAP)
    again = await repo.ensure(instance_id=continent.instance_id, **where)  # type: ignore[arg-type]
    assert again == cell


async def test_realmkit_cells_shows_the_partition(
    db: Database, database_url: str, endpoints: Endpoints, run_realmkit
) -> None:
    """`realmkit cells REALM --json` lists each cell of the realm's continent with its
    bounds, instance and partition version; by name, after a split too."""
    realm = await _realm(db)
    continent = await _continent(db, realm)
    stored = await _live(db, realm)
    await PartitionRepo(db).relayout(
        stored, stored.layout.split(1, Axis.Y, 900.0, MIN), {1: continent.instance_id, 2: None}
    )
    env = {"REALMKIT_DATABASE_URL": database_url, "REALMKIT_NATS_URL": endpoints.nats_url}
    proc = run_realmkit("cells", "azure", "--json", env=env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    shown = json.loads(stdout)
    assert shown["realm"]["name"] == "Azure"
    cells = {(c["cell_id"], c["min_y"], c["max_y"], c["version"]) for c in shown["cells"]}
    assert cells == {(1, 0.0, 900.0, 2), (2, 900.0, 2048.0, 2)}
    assert shown["cells"][0]["instance_id"] == continent.instance_id
    missing = run_realmkit("cells", "Nowhere", env=env)
    _, err = missing.communicate(timeout=60)
    assert missing.returncode == 2, err


async def test_a_crossing_moves_the_assignment_only_over_older_crossings(db: Database) -> None:
    """A crossing is placed on the hand-over's epoch, or over an older crossing (a player
    that crossed back before the first crossing was placed), never over a crossing of a
    newer ownership nor over a seat of another kind (a resume): then it is refused."""
    realm = await _realm(db)
    west = await _continent(db, realm)
    repo = PartitionRepo(db)
    stored = await _live(db, realm)
    split = stored.layout.split(1, Axis.X, 1024.0, MIN)
    east = (await repo.relayout(stored, split, {1: west.instance_id, 2: None})).cells[2]
    account = await AccountRepo(db).create("walker", "h")
    c = await CharacterRepo(db).create(
        account.account_id, realm.realm_id, "Walker", map_id=1, position=(10.0, 10.0, 0.0), hp=100
    )
    assignments = AssignmentRepo(db)
    seated = await assignments.place(c.character_id, west.instance_id, "gw-1", expected_epoch=None)
    pid, e = stored.partition_id, seated.epoch

    async def cross(instance_id: int, epoch: int, ownership: int) -> int | None:
        placed = await assignments.cross(
            c.character_id,
            instance_id,
            partition_id=pid,
            expected_epoch=epoch,
            ownership=ownership,
        )
        return None if placed is None else placed.epoch

    # West -> east (ownership 1) and back west (2) before the first was placed: the
    # second still asks with the epoch it was handed, and overtakes the first.
    assert await cross(east.instance_id, e, 1) == e + 1
    assert await cross(west.instance_id, e, 2) == e + 2
    assert await cross(east.instance_id, e, 1) is None  # late and older: refused
    now = await assignments.get(c.character_id)
    assert now is not None
    assert (now.instance_id, now.epoch, now.state) == (west.instance_id, e + 2, "in_world")
    assert now.gateway_id == "gw-1"  # the socket stays where it was
    # A resume seats it again: a crossing asked before that is refused from then on.
    await assignments.place(
        c.character_id, west.instance_id, "gw-2", expected_epoch=e + 2, resume_hash=b"r" * 32
    )
    assert await cross(east.instance_id, e + 2, 3) is None
    assert await cross(east.instance_id, e + 3, 3) == e + 4
    # A space outside the continent is never a crossing's.
    other = await InstanceRepo(db).create(
        game_id="classic",
        map_id=2,
        kind=MapKind.DUNGEON,
        pool_id=realm.pool_id,
        realm_id=realm.realm_id,
        capacity=5,
    )
    assert await cross(other.instance_id, e + 4, 4) is None
