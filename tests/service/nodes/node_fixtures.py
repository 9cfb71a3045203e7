"""What the node tests share: world nodes and an orchestrator run in the test's process."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp

from realmkit.auth.tickets import Audience, TicketSigner, public_key_bytes
from realmkit.client.game import GameClient
from realmkit.engines.embedded import Endpoints
from realmkit.nodes.gateway.node import GatewayNode
from realmkit.nodes.orchestrator.node import OrchestratorNode
from realmkit.nodes.world.node import WorldNode
from realmkit.settings import CellSettings, InstanceSettings, NodeSpec, Role
from realmkit.store.accounts import AccountRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.keys import SigningKeyRepo
from realmkit.store.postgres import Database
from realmkit.store.records import RealmStatus

Position = tuple[float, float, float]
ENTRY_WAIT = 20.0


async def azure_with(
    db: Database, characters: Sequence[tuple[str, Position]], map_id: int = 1, hp: int = 100
) -> tuple[int, list[int]]:
    """The realm Azure (game classic, pool europe, online) and one account's
    characters, each (name, position) on ``map_id``: (realm id, character ids)."""
    repo = ClusterRepo(db)
    await repo.add_game("classic", "Classic", "classic")
    pool = await repo.add_pool("europe", "classic")
    realm = await repo.add_realm("Azure", "classic", pool.pool_id, RealmStatus.ONLINE)
    account = await AccountRepo(db).create("tester", "h")
    ids = []
    for name, position in characters:
        made = await CharacterRepo(db).create(
            account.account_id, realm.realm_id, name, map_id=map_id, position=position, hp=hp
        )
        ids.append(made.character_id)
    return realm.realm_id, ids


@contextlib.asynccontextmanager
async def two_worlds_and_an_orchestrator(
    here: Endpoints, world_2_capacity: int | None = None
) -> AsyncIterator[list[object]]:
    """world-1, world-2 (with ``world_2_capacity`` when given) and orchestrator-1,
    started, then drained and stopped when the block ends."""
    second = NodeSpec(name="world-2", role=Role.WORLD)
    if world_2_capacity is not None:
        second = NodeSpec(name="world-2", role=Role.WORLD, capacity=world_2_capacity)
    nodes = [
        WorldNode(NodeSpec(name="world-1", role=Role.WORLD), here),
        WorldNode(second, here),
        OrchestratorNode(
            NodeSpec(name="orchestrator-1", role=Role.ORCHESTRATOR),
            here,
            InstanceSettings(),
            # Cells change by hand only: the tests split and merge them.
            cells=CellSettings(balance=False),
        ),
    ]
    async with running(*nodes):
        yield nodes


@contextlib.asynccontextmanager
async def one_world(
    database_url: str, endpoints: Endpoints, capacity: int | None = None
) -> AsyncIterator[WorldNode]:
    """world-1 (with ``capacity`` when given) on the test's database, started, then
    drained and stopped when the block ends."""
    spec = NodeSpec(name="world-1", role=Role.WORLD)
    if capacity is not None:
        spec = NodeSpec(name="world-1", role=Role.WORLD, capacity=capacity)
    node = WorldNode(spec, Endpoints(endpoints.nats_url, database_url))
    async with running(node):
        yield node


@contextlib.asynccontextmanager
async def running(*nodes: Any) -> AsyncIterator[None]:
    """The nodes started, then drained and stopped when the block ends."""
    for node in nodes:
        await node.start()
    try:
        yield
    finally:
        for node in nodes:
            await node.drain()
            await node.stop()


async def enter_through(db: Database, gateway: GatewayNode, character_id: int) -> GameClient:
    """The character in the world through ``gateway``, with a ticket signed by a key
    published as the login node publishes its own."""
    character = await CharacterRepo(db).get(character_id)
    signer = TicketSigner()
    await SigningKeyRepo(db).publish(
        signer.key_id, public_key_bytes(signer.public_key), "test-login", 3600.0
    )
    ticket = signer.issue(
        Audience.WORLD,
        account_id=character.account_id,
        character_id=character_id,
        realm_id=character.realm_id,
        now=time.time(),
    )
    session = aiohttp.ClientSession()
    try:
        return await GameClient.connect(session, gateway.url, ticket, timeout=ENTRY_WAIT)
    except BaseException:
        await session.close()
        raise


async def leave_world(client: GameClient) -> None:
    """Close the client (a goodbye) and its HTTP session."""
    session = client._session
    await client.close()
    if session is not None:
        await session.close()
