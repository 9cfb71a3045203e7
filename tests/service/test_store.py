"""The store's invariants hold in SQL itself, and repositories report them as realmkit errors."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from realmkit.cells.partition import Rect
from realmkit.errors import (
    AlreadyAssigned,
    AlreadyExists,
    IllegalTransition,
    ItemAlreadyOwned,
    NotFound,
    OwnershipChanged,
    StaleEpoch,
)
from realmkit.lifecycle.assignment import AssignmentEvent, AssignmentState
from realmkit.lifecycle.instance import INSTANCE_MOVES, InstanceEvent, InstanceState
from realmkit.lifecycle.node import NodeEvent, NodeState
from realmkit.store.accounts import AccountRepo
from realmkit.store.characters import CharacterRepo, ItemMove, ItemRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Character, CharacterSave, Instance, MapKind, Realm


async def _realm(db: Database, name: str = "Azure") -> Realm:
    cluster = ClusterRepo(db)
    if not [g for g in await _games(db) if g == "classic"]:
        await cluster.add_game("classic", "Classic", "classic")
        await cluster.add_pool("europe", "classic")
    return await cluster.add_realm(name, "classic", 1)


async def _games(db: Database) -> list[str]:
    async with db.connection() as conn:
        return [r["game_id"] for r in await conn.fetch("SELECT game_id FROM cluster.games")]


async def _characters(db: Database, count: int) -> list[Character]:
    realm = await _realm(db)
    account = await AccountRepo(db).create("player_one", "argon2id$hash")
    repo = CharacterRepo(db)
    names = ["Aria", "Bran", "Cato", "Dara", "Evan", "Fynn"]
    return [
        await repo.create(
            account.account_id, realm.realm_id, names[i], map_id=0, position=(1, 2, 3), hp=100
        )
        for i in range(count)
    ]


async def _continent(db: Database, realm: Realm) -> Instance:
    return await InstanceRepo(db).create(
        game_id="classic",
        map_id=0,
        kind=MapKind.CONTINENT,
        pool_id=realm.pool_id,
        realm_id=realm.realm_id,
        capacity=500,
        bounds=Rect(0.0, 0.0, 2048.0, 2048.0),
    )


async def test_item_cannot_have_two_owners(db: Database, database_url: str) -> None:
    """Granting an existing item id to another character fails, in the repo and in raw SQL."""
    alice, bob = await _characters(db, 2)
    items = ItemRepo(db)
    await items.grant(7, template_id=100, owner=alice.character_id)
    with pytest.raises(ItemAlreadyOwned) as caught:
        await items.grant(7, template_id=100, owner=bob.character_id)
    assert caught.value.item_id == 7
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO characters.items (item_id, template_id, owner_character_id) "
                "VALUES (7, 100, $1)",
                bob.character_id,
            )
    finally:
        await conn.close()
    assert [i.owner_character_id for i in await items.owned_by(alice.character_id)] == [
        alice.character_id
    ]
    assert await items.owned_by(bob.character_id) == []


async def test_character_cannot_have_two_assignments(db: Database, database_url: str) -> None:
    """A second assignment row for a character is refused, in the repo and in raw SQL."""
    (alice,) = await _characters(db, 1)
    realm = await ClusterRepo(db).realms()
    first = await _continent(db, realm[0])
    second = await InstanceRepo(db).create(
        game_id="classic",
        map_id=1,
        kind=MapKind.DUNGEON,
        pool_id=realm[0].pool_id,
        realm_id=realm[0].realm_id,
        capacity=5,
    )
    assignments = AssignmentRepo(db)
    placed = await assignments.place(
        alice.character_id, first.instance_id, "gw-1", expected_epoch=None
    )
    assert placed.epoch == 1
    with pytest.raises(AlreadyAssigned):
        await assignments.place(alice.character_id, second.instance_id, "gw-1", expected_epoch=None)
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO characters.player_assignments "
                "(character_id, instance_id, epoch, state) VALUES ($1, $2, 9, 'placing')",
                alice.character_id,
                second.instance_id,
            )
    finally:
        await conn.close()
    current = await assignments.get(alice.character_id)
    assert current is not None
    assert current.instance_id == first.instance_id


async def test_racing_transfers_one_wins(db: Database) -> None:
    """Two transfers from the same epoch: exactly one advances it, the other is stale."""
    (alice,) = await _characters(db, 1)
    (realm,) = await ClusterRepo(db).realms()
    home = await _continent(db, realm)
    assignments = AssignmentRepo(db)
    await assignments.place(alice.character_id, home.instance_id, "gw-1", expected_epoch=None)
    results = await asyncio.gather(
        *(
            assignments.place(alice.character_id, home.instance_id, f"gw-{n}", expected_epoch=1)
            for n in range(6)
        ),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert winners[0].epoch == 2
    assert all(isinstance(r, StaleEpoch) for r in results if isinstance(r, Exception))


async def test_stale_save_is_refused(db: Database, database_url: str) -> None:
    """A save under an epoch older than the assignment's is refused and changes nothing."""
    (alice,) = await _characters(db, 1)
    (realm,) = await ClusterRepo(db).realms()
    home = await _continent(db, realm)
    assignments = AssignmentRepo(db)
    characters = CharacterRepo(db)
    await assignments.place(alice.character_id, home.instance_id, "gw-1", expected_epoch=None)
    save = CharacterSave(alice.character_id, 2, 80, 0, 10.0, 20.0, 0.0, 1.5)
    await characters.save(save, epoch=1)
    await assignments.place(
        alice.character_id,
        home.instance_id,
        "gw-2",
        expected_epoch=1,
        event=AssignmentEvent.MIGRATE,
    )
    with pytest.raises(StaleEpoch):
        await characters.save(
            CharacterSave(alice.character_id, 2, 1, 0, 99.0, 99.0, 0.0, 0.0), epoch=1
        )
    stored = await characters.get(alice.character_id)
    assert (stored.hp, stored.pos_x, stored.save_epoch) == (80, 10.0, 1)
    await characters.save(save, epoch=2)
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError) as caught:
            await conn.execute(
                "UPDATE characters.characters SET save_epoch = 1 WHERE character_id = $1",
                alice.character_id,
            )
        assert caught.value.sqlstate == "RK001"
    finally:
        await conn.close()


async def test_release_keeps_the_epoch_growing(db: Database) -> None:
    """Leaving the world keeps the row (offline) and the next placement continues the epoch."""
    (alice,) = await _characters(db, 1)
    (realm,) = await ClusterRepo(db).realms()
    home = await _continent(db, realm)
    assignments = AssignmentRepo(db)
    await assignments.place(alice.character_id, home.instance_id, "gw-1", expected_epoch=None)
    gone = await assignments.release(alice.character_id, expected_epoch=1)
    assert (gone.state, gone.instance_id, gone.epoch) == (AssignmentState.OFFLINE, None, 2)
    back = await assignments.place(alice.character_id, home.instance_id, "gw-1", expected_epoch=2)
    assert back.epoch == 3


async def test_item_move_is_compare_and_set(db: Database) -> None:
    """Of many concurrent moves of one item from its owner, exactly one succeeds."""
    alice, bob, cato, dara = await _characters(db, 4)
    items = ItemRepo(db)
    await items.grant(11, template_id=5, owner=alice.character_id)
    targets = [bob, cato, dara] * 3
    results = await asyncio.gather(
        *(items.move(11, alice.character_id, t.character_id) for t in targets),
        return_exceptions=True,
    )
    moved = [r for r in results if not isinstance(r, Exception)]
    assert len(moved) == 1
    assert all(isinstance(r, OwnershipChanged) for r in results if isinstance(r, Exception))
    owners = [len(await items.owned_by(c.character_id)) for c in (alice, bob, cato, dara)]
    assert sum(owners) == 1
    assert owners[0] == 0


async def test_trade_moves_all_or_nothing(db: Database) -> None:
    """A trade with one stale item moves none of its items."""
    alice, bob = await _characters(db, 2)
    items = ItemRepo(db)
    for item_id in (1, 2, 3):
        await items.grant(item_id, template_id=5, owner=alice.character_id)
    await items.grant(4, template_id=5, owner=bob.character_id)
    with pytest.raises(OwnershipChanged):
        await items.trade(
            [
                ItemMove(1, alice.character_id, bob.character_id),
                ItemMove(2, alice.character_id, bob.character_id),
                ItemMove(4, alice.character_id, bob.character_id),  # alice does not own 4
            ]
        )
    assert [i.item_id for i in await items.owned_by(alice.character_id)] == [1, 2, 3]
    swapped = await items.trade(
        [
            ItemMove(1, alice.character_id, bob.character_id),
            ItemMove(4, bob.character_id, alice.character_id),
        ]
    )
    assert [(i.item_id, i.owner_character_id) for i in swapped] == [
        (1, bob.character_id),
        (4, alice.character_id),
    ]


async def test_item_id_blocks_never_overlap(db: Database) -> None:
    """Concurrently reserved item-id blocks are disjoint."""
    blocks = await asyncio.gather(*(ItemRepo(db).reserve_ids() for _ in range(24)))
    ids = [i for block in blocks for i in block]
    assert len(ids) == len(set(ids)) == 24 * len(blocks[0])


async def test_one_live_continent_instance_per_realm_map(db: Database) -> None:
    """A second live copy of a continent is refused; once the first is gone, one is allowed."""
    realm = await _realm(db)
    first = await _continent(db, realm)
    with pytest.raises(AlreadyExists):
        await _continent(db, realm)
    await InstanceRepo(db).move(first, InstanceEvent.CANCEL)
    replacement = await _continent(db, realm)
    assert replacement.instance_id != first.instance_id


async def test_running_instance_needs_a_node(db: Database) -> None:
    """An instance cannot be READY without a node, and only on a registered node."""
    realm = await _realm(db)
    home = await _continent(db, realm)
    instances = InstanceRepo(db)
    with pytest.raises(NotFound):
        await instances.move(home, InstanceEvent.LOAD, node_id="world-9")
    await ClusterRepo(db).register_node("world-1", "world", "127.0.0.1", 0, capacity=1000)
    loading = await instances.move(home, InstanceEvent.LOAD, node_id="world-1")
    ready = await instances.move(loading, InstanceEvent.LOADED)
    assert (ready.state, ready.node_id) == (InstanceState.READY, "world-1")


async def test_a_world_node_counts_its_players_and_the_seats_its_instances_hold(
    db: Database,
) -> None:
    """Placement's view of a node: players placed there (not offline), and the
    free seats of its instanced maps (a continent holds none; gone ones count not)."""
    alice, bran, cato = await _characters(db, 3)
    (realm,) = await ClusterRepo(db).realms()
    cluster = ClusterRepo(db)
    await cluster.register_node("world-1", "world", "127.0.0.1", 0, capacity=1000)
    await cluster.heartbeat("world-1", NodeEvent.UP, 1000)
    instances = InstanceRepo(db)

    async def on_world_1(kind: MapKind, capacity: int, realm_id: int | None) -> Instance:
        made = await instances.create(
            game_id="classic",
            map_id=1 if kind is MapKind.CONTINENT else 7,
            kind=kind,
            pool_id=realm.pool_id,
            realm_id=realm_id,
            capacity=capacity,
            bounds=Rect(0.0, 0.0, 2048.0, 2048.0) if kind is MapKind.CONTINENT else None,
        )
        return await instances.move(made, InstanceEvent.LOAD, "world-1")

    continent = await on_world_1(MapKind.CONTINENT, 500, realm.realm_id)
    arena = await on_world_1(MapKind.ARENA, 4, None)
    await on_world_1(MapKind.DUNGEON, 5, realm.realm_id)
    gone = await on_world_1(MapKind.DUNGEON, 5, realm.realm_id)
    await instances.move(gone, InstanceEvent.CANCEL)
    assignments = AssignmentRepo(db)
    for c in (alice, bran):
        await assignments.place(c.character_id, continent.instance_id, "gw-1", expected_epoch=None)
    await assignments.place(cato.character_id, arena.instance_id, "gw-1", expected_epoch=None)
    (node,) = await cluster.world_candidates(60.0)
    assert (node.node_id, node.capacity, node.players, node.reserved) == ("world-1", 1000, 3, 8)
    await assignments.release(cato.character_id, expected_epoch=1)
    (node,) = await cluster.world_candidates(60.0)
    assert (node.players, node.reserved) == (2, 9)


async def test_names_are_unique_case_insensitively(db: Database) -> None:
    """Account names are unique ignoring case; character names per realm ignoring case."""
    accounts = AccountRepo(db)
    first = await accounts.create("Thrall", "h")
    with pytest.raises(AlreadyExists):
        await accounts.create("thrall", "h")
    azure = await _realm(db, "Azure")
    ember = await _realm(db, "Ember")
    chars = CharacterRepo(db)
    await chars.create(
        first.account_id, azure.realm_id, "Jaina", map_id=0, position=(0, 0, 0), hp=1
    )
    with pytest.raises(AlreadyExists):
        await chars.create(
            first.account_id, azure.realm_id, "JAINA", map_id=0, position=(0, 0, 0), hp=1
        )
    other = await chars.create(
        first.account_id, ember.realm_id, "Jaina", map_id=0, position=(0, 0, 0), hp=1
    )
    assert other.realm_id == ember.realm_id


async def test_patch_chain_stays_in_one_game(database_url: str, db: Database) -> None:
    """A patch cannot take a parent from another game, nor a younger parent."""
    cluster = ClusterRepo(db)
    await cluster.add_game("classic", "Classic", "classic")
    await cluster.add_game("frontier", "Frontier", "frontier")
    conn = await asyncpg.connect(database_url)
    try:
        base = await conn.fetchval(
            "INSERT INTO cluster.patches (game_id, name) VALUES ('classic', 'base') "
            "RETURNING patch_id"
        )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute(
                "INSERT INTO cluster.patches (game_id, parent_id, name) "
                "VALUES ('frontier', $1, 'x')",
                base,
            )
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO cluster.patches (game_id, parent_id, name) "
                "VALUES ('classic', $1, 'y')",
                base + 1000,
            )
    finally:
        await conn.close()


async def test_advisory_lock_waiters_do_not_starve_the_holder(database_url: str) -> None:
    """Ten tasks on a pool of three, each needing a second connection under the lock, all finish."""
    small = await Database.connect(database_url, min_size=1, max_size=3)
    inside = 0
    most = 0

    async def critical() -> None:
        nonlocal inside, most
        async with small.advisory_lock("continent:1:1"):
            inside += 1
            most = max(most, inside)
            assert await small.fetchval("SELECT 1") == 1  # another pooled connection
            await asyncio.sleep(0.01)  # hold it a little, so others really wait
            inside -= 1

    try:
        async with asyncio.timeout(30):
            await asyncio.gather(*(critical() for _ in range(10)))
    finally:
        await small.close()
    assert most == 1


async def test_lock_holders_on_a_full_pool_use_the_connection_they_hold(database_url: str) -> None:
    """Every connection of the pool pinned by a shared-lock holder, each holder queries:
    it uses its own connection instead of waiting forever for another one."""
    small = await Database.connect(database_url, min_size=1, max_size=3)
    all_in = asyncio.Barrier(3)

    async def landing() -> tuple[int, int, int]:
        async with small.advisory_lock("instance:1", shared=True) as held:
            await all_in.wait()  # the pool is empty from here on
            mine = await held.fetchval("SELECT pg_backend_pid()")
            inside = await small.fetchval("SELECT pg_backend_pid()")
            async with small.transaction() as conn:
                in_transaction = await conn.fetchval("SELECT pg_backend_pid()")
            return mine, inside, in_transaction

    try:
        async with asyncio.timeout(30):
            pids = await asyncio.gather(*(landing() for _ in range(3)))
            async with small.connection() as outer:
                child = asyncio.create_task(small.fetchval("SELECT pg_backend_pid()"))
                assert await child != await outer.fetchval("SELECT pg_backend_pid()")
    finally:
        await small.close()
    assert all(mine == inside == in_transaction for mine, inside, in_transaction in pids)
    assert len({mine for mine, _, _ in pids}) == 3


async def test_instance_lifecycle_is_enforced_by_the_database(
    db: Database, database_url: str
) -> None:
    """An illegal move is refused through the repository and in raw SQL alike."""
    realm = await _realm(db)
    home = await _continent(db, realm)
    instances = InstanceRepo(db)
    with pytest.raises(IllegalTransition):
        await instances.move(home, InstanceEvent.LOADED)  # skips LOADING
    await instances.move(home, InstanceEvent.CANCEL)
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError) as caught:
            await conn.execute(
                "UPDATE characters.instances SET state = 'loading' WHERE instance_id = $1",
                home.instance_id,
            )
        assert caught.value.sqlstate == "RK002"
        rows = await conn.fetch("SELECT from_state, to_state FROM characters.instance_moves")
    finally:
        await conn.close()
    in_sql = {(r["from_state"], r["to_state"]) for r in rows}
    in_python = {(a.value, b.value) for a, targets in INSTANCE_MOVES.items() for b in targets}
    assert in_sql == in_python


async def test_batched_saves_refuse_only_the_stale_ones(db: Database) -> None:
    """One statement saves many characters; a stale epoch is refused for that one only."""
    alice, bob = await _characters(db, 2)
    (realm,) = await ClusterRepo(db).realms()
    home = await _continent(db, realm)
    assignments = AssignmentRepo(db)
    characters = CharacterRepo(db)
    for c in (alice, bob):
        await assignments.place(c.character_id, home.instance_id, "gw-1", expected_epoch=None)
    await assignments.place(bob.character_id, home.instance_id, "gw-2", expected_epoch=1)
    saved = await characters.save_many(
        [
            (CharacterSave(alice.character_id, 3, 70, 0, 11.0, 21.0, 0.0, 0.5), 1),
            (CharacterSave(bob.character_id, 3, 70, 0, 11.0, 21.0, 0.0, 0.5), 1),
        ]
    )
    assert saved == {alice.character_id}
    a, b = await characters.get(alice.character_id), await characters.get(bob.character_id)
    assert (a.hp, a.pos_x, a.save_epoch) == (70, 11.0, 1)
    assert b.save_epoch == 0
    assert b.pos_x != 11.0


async def test_node_moves_follow_the_lifecycle(db: Database, database_url: str) -> None:
    """A draining node stays draining on UP, a stopped one refuses UP until it
    registers again, and raw SQL cannot make a move the table does not list."""
    cluster = ClusterRepo(db)

    async def state() -> NodeState:
        (only,) = await cluster.nodes()
        return only.state

    await cluster.register_node("world-1", "world", "127.0.0.1", 0, capacity=10)
    await cluster.heartbeat("world-1", NodeEvent.UP, 10)
    assert await state() is NodeState.READY
    await cluster.move_world_node("world-1", NodeEvent.DRAIN)
    await cluster.heartbeat("world-1", NodeEvent.UP, 10)
    assert await state() is NodeState.DRAINING
    await cluster.heartbeat("world-1", NodeEvent.STOP, 10)
    with pytest.raises(IllegalTransition):
        await cluster.heartbeat("world-1", NodeEvent.UP, 10)
    await cluster.heartbeat("nobody", NodeEvent.UP, 10)  # an unknown node: nothing
    with pytest.raises(NotFound):
        await cluster.move_world_node("gateway-1", NodeEvent.DRAIN)
    await cluster.register_node("world-1", "world", "127.0.0.1", 0, capacity=10)
    assert await state() is NodeState.STARTING
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("UPDATE cluster.nodes SET state = $1", NodeState.STOPPED.value)
        with pytest.raises(asyncpg.PostgresError) as caught:
            await conn.execute("UPDATE cluster.nodes SET state = $1", NodeState.READY.value)
        assert caught.value.sqlstate == "RK002"
    finally:
        await conn.close()


async def test_assignment_moves_follow_the_lifecycle(db: Database, database_url: str) -> None:
    """An offline character cannot be released or transferred (IllegalTransition, the
    epoch being right), and raw SQL cannot take it into the world unplaced."""
    (alice,) = await _characters(db, 1)
    (realm,) = await ClusterRepo(db).realms()
    home = await _continent(db, realm)
    assignments = AssignmentRepo(db)
    await assignments.place(alice.character_id, home.instance_id, "gw-1", expected_epoch=None)
    gone = await assignments.release(alice.character_id, expected_epoch=1)
    with pytest.raises(IllegalTransition):
        await assignments.release(alice.character_id, expected_epoch=gone.epoch)
    with pytest.raises(IllegalTransition):
        await assignments.place(
            alice.character_id,
            home.instance_id,
            "gw-1",
            expected_epoch=gone.epoch,
            event=AssignmentEvent.TRANSFER,
        )
    with pytest.raises(StaleEpoch):
        await assignments.release(alice.character_id, expected_epoch=1)
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError) as caught:
            await conn.execute(
                "UPDATE characters.player_assignments SET state = $2, instance_id = $3, "
                "epoch = epoch + 1 WHERE character_id = $1",
                alice.character_id,
                AssignmentState.IN_WORLD.value,
                home.instance_id,
            )
        assert caught.value.sqlstate == "RK002"
    finally:
        await conn.close()
    back = await assignments.place(
        alice.character_id, home.instance_id, "gw-1", expected_epoch=gone.epoch
    )
    assert (back.state, back.epoch) == (AssignmentState.PLACING, gone.epoch + 1)
