"""Restoring more broken instances at once than the orchestrator has connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from node_fixtures import one_world

from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import Endpoints
from realmkit.lifecycle.assignment import AssignmentEvent
from realmkit.lifecycle.instance import InstanceEvent, InstanceState
from realmkit.nodes.orchestrator.handover import Handover
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.packs import PackCache
from realmkit.nodes.world.node import WorldNode
from realmkit.store.accounts import AccountRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database
from realmkit.store.records import MapKind, RealmStatus

DUNGEON = 2
BROKEN = 6
PLAYERS_EACH = 3


@pytest.fixture
async def world(database_url: str, endpoints: Endpoints) -> AsyncIterator[WorldNode]:
    async with one_world(database_url, endpoints) as node:
        yield node


async def test_many_instances_restored_at_once_on_a_small_pool(
    world: WorldNode, database_url: str, db: Database, bus: NatsBus
) -> None:
    """Six unhealthy instances with players, restored together by an orchestrator
    with three connections: each restore holds one while its players are re-attached
    (each needing one), and all complete. Their gateway is gone, so every player is
    released, offline."""
    cluster = ClusterRepo(db)
    await cluster.add_game("classic", "Classic", "classic")
    pool = await cluster.add_pool("europe", "classic")
    realm = await cluster.add_realm("Azure", "classic", pool.pool_id, RealmStatus.ONLINE)
    account = await AccountRepo(db).create("tester", "h")
    small = await Database.connect(database_url, max_size=3)
    try:
        instances = InstanceRegistry(small, bus, PackCache(), Handover(small, bus))
        assignments = AssignmentRepo(db)
        broken = []
        for i in range(BROKEN):
            instance = await instances.create(
                "classic", DUNGEON, MapKind.DUNGEON, pool.pool_id, realm.realm_id
            )
            assert instance.state is InstanceState.READY
            for j in range(PLAYERS_EACH):
                character = await CharacterRepo(db).create(
                    account.account_id,
                    realm.realm_id,
                    "Player" + chr(97 + i) + chr(97 + j),
                    map_id=DUNGEON,
                    position=(2.0, 100.0, 0.0),
                    hp=100,
                )
                await assignments.place(
                    character.character_id,
                    instance.instance_id,
                    "gateway-gone",
                    expected_epoch=None,
                    event=AssignmentEvent.ARRIVE,
                )
            await instances.rows.move(instance, InstanceEvent.FAIL)
            broken.append(instance.instance_id)
        async with asyncio.timeout(60):
            restored = await asyncio.gather(*(instances.running(i) for i in broken))
    finally:
        await small.close()
    assert {i.state for i in restored} == {InstanceState.READY}
    for instance_id in broken:
        assert await assignments.in_instance(instance_id) == []
