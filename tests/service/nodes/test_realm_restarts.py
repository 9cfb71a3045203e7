"""The orchestrators' leader and realm restarts: the daily one asked and told once, a
restart due now carried out on a real world node, one left half-way by a dead leader
handed to crash recovery."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from node_fixtures import one_world

from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import Endpoints
from realmkit.errors import Unavailable
from realmkit.lifecycle.assignment import AssignmentEvent
from realmkit.lifecycle.instance import InstanceEvent, InstanceState
from realmkit.lifecycle.restart import RestartEvent, RestartState
from realmkit.nodes.orchestrator.handover import Handover
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.orchestrator.restarts import Restarts
from realmkit.nodes.packs import PackCache
from realmkit.nodes.world.node import WorldNode
from realmkit.settings import RestartSettings
from realmkit.store.accounts import AccountRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Instance, MapKind, RealmStatus
from realmkit.store.restarts import RestartRepo
from realmkit.store.spaces import CheckpointRepo

DUNGEON = 2
WAIT = 30.0


@pytest.fixture
async def world(database_url: str, endpoints: Endpoints) -> AsyncIterator[WorldNode]:
    async with one_world(database_url, endpoints) as node:
        yield node


async def _dungeon(db: Database, instances: InstanceRegistry) -> Instance:
    cluster = ClusterRepo(db)
    await cluster.add_game("classic", "Classic", "classic")
    pool = await cluster.add_pool("europe", "classic")
    realm = await cluster.add_realm("Azure", "classic", pool.pool_id, RealmStatus.ONLINE)
    return await instances.create("classic", DUNGEON, MapKind.DUNGEON, pool.pool_id, realm.realm_id)


def _restarts(db: Database, bus: NatsBus, settings: RestartSettings) -> Restarts:
    handover = Handover(db, bus)
    instances = InstanceRegistry(db, bus, PackCache(), handover)
    return Restarts(db, bus, instances, handover, settings)


async def test_the_daily_restart_is_asked_once_and_told_at_its_first_mark(
    db: Database, bus: NatsBus
) -> None:
    cluster = ClusterRepo(db)
    await cluster.add_game("classic", "Classic", "classic")
    pool = await cluster.add_pool("europe", "classic")
    for name in ("Azure", "Crimson"):
        await cluster.add_realm(name, "classic", pool.pool_id, RealmStatus.ONLINE)
    repo = RestartRepo(db)
    # Two minutes from the database's now, on the minute: the 120 s mark or the 300 s one.
    at = time.gmtime(await repo.clock() + 180)
    leader = _restarts(db, bus, RestartSettings(daily_at=f"{at.tm_hour:02d}:{at.tm_min:02d}"))
    await leader.round()
    await leader.round()
    asked = await repo.open()
    assert sorted(r.realm for r in asked) == ["Azure", "Crimson"]
    for restart in asked:
        assert (restart.reason, restart.state) == ("daily", RestartState.PENDING)
        assert 120 <= restart.remaining <= 180
        assert restart.warned_seconds == 300, "told at once: within the 300 s mark"
    again = _restarts(db, bus, RestartSettings(daily_at=f"{at.tm_hour:02d}:{at.tm_min:02d}"))
    await again.round()  # a new leader
    assert [r.restart_id for r in await repo.open()] == [r.restart_id for r in asked]


async def test_a_restart_due_now_loads_the_realms_spaces_again_from_their_content(  # type: ignore[no-untyped-def]
    world: WorldNode, db: Database, bus: NatsBus, eventually
) -> None:
    leader = _restarts(db, bus, RestartSettings())
    dungeon = await _dungeon(db, leader.instances)
    assert dungeon.state is InstanceState.READY
    runner = world.runners[dungeon.instance_id]

    async def ticked() -> bool:
        return runner.space.tick >= 40

    await eventually(ticked, WAIT, "two seconds of ticks")
    assert dungeon.realm_id is not None
    asked = await RestartRepo(db).schedule(dungeon.realm_id, 0)
    await leader.round()

    async def finished() -> bool:
        state = (await RestartRepo(db).get(asked.restart_id)).state
        return state in (RestartState.DONE, RestartState.FAILED)

    await eventually(finished, WAIT, "the restart finished")
    done = await RestartRepo(db).get(asked.restart_id)
    assert done.state is RestartState.DONE, done.detail
    assert done.spaces == 1
    after = await leader.instances.rows.get(dungeon.instance_id)
    assert after.state is InstanceState.READY
    again = world.runners[dungeon.instance_id]
    assert again is not runner
    assert again.space.tick < 40, "loaded from its content, not from the checkpoint"
    assert leader.done == 1


async def test_a_full_world_node_takes_its_own_space_back(  # type: ignore[no-untyped-def]
    database_url: str, endpoints: Endpoints, db: Database, bus: NatsBus, eventually
) -> None:
    """The only world node is full (capacity 1, its one player in the dungeon): no node
    has room for another player, yet the restart loads the space again where it was
    (its own player's place is its own); nothing is left frozen."""
    async with one_world(database_url, endpoints, capacity=1):
        leader = _restarts(db, bus, RestartSettings())
        dungeon = await _dungeon(db, leader.instances)
        assert dungeon.realm_id is not None
        account = await AccountRepo(db).create("tester", "h")
        character = await CharacterRepo(db).create(
            account.account_id,
            dungeon.realm_id,
            "Filler",
            map_id=DUNGEON,
            position=(2.0, 100.0, 0.0),
            hp=100,
        )
        await AssignmentRepo(db).place(
            character.character_id,
            dungeon.instance_id,
            "gateway-gone",
            expected_epoch=None,
            event=AssignmentEvent.ARRIVE,
        )

        async def full() -> bool:
            try:
                await leader.instances.node_for()
            except Unavailable:
                return True
            return False

        await eventually(full, WAIT, "world-1 reports itself full")
        asked = await RestartRepo(db).schedule(dungeon.realm_id, 0)
        await leader.round()

        async def finished() -> bool:
            return (await RestartRepo(db).get(asked.restart_id)).finished_at is not None

        await eventually(finished, WAIT, "the restart finished")
        done = await RestartRepo(db).get(asked.restart_id)
        assert done.state is RestartState.DONE, done.detail
        after = await leader.instances.rows.get(dungeon.instance_id)
        assert (after.state, after.node_id) == (InstanceState.READY, "world-1")


async def test_a_restart_its_leader_left_running_goes_to_crash_recovery(
    world: WorldNode, db: Database, bus: NatsBus
) -> None:
    """A leader died after freezing a space (DRAINING, nobody holds its lock): the next
    leader finishes the restart FAILED, naming it, and the space goes UNHEALTHY for
    crash recovery to load it again."""
    leader = _restarts(db, bus, RestartSettings())
    dungeon = await _dungeon(db, leader.instances)
    assert dungeon.realm_id is not None
    repo = RestartRepo(db)
    asked = await repo.schedule(dungeon.realm_id, 0)
    await repo.move(asked.restart_id, RestartEvent.BEGIN)
    await leader.instances.rows.move(dungeon, InstanceEvent.DRAIN)
    await CheckpointRepo(db).drop(dungeon.instance_id)
    await leader.round()
    failed = await repo.get(asked.restart_id)
    assert failed.state is RestartState.FAILED
    assert str(dungeon.instance_id) in failed.detail
    assert (await leader.instances.rows.get(dungeon.instance_id)).state is (InstanceState.UNHEALTHY)
    assert leader.failed == 1
