"""A player in the world through a real gateway asks the names of who it sees and its
own inventory (two world nodes, an orchestrator and a gateway on real NATS and
PostgreSQL, the client over a WebSocket)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from node_fixtures import (
    azure_with,
    enter_through,
    leave_world,
    running,
    two_worlds_and_an_orchestrator,
)

from realmkit.engines.embedded import Endpoints
from realmkit.errors import RemoteError
from realmkit.nodes.gateway.node import GatewayNode
from realmkit.protocol.social import InventoryItem, NameEntry, NamesRequest
from realmkit.settings import NodeSpec, Role
from realmkit.store.accounts import AccountRepo
from realmkit.store.characters import CharacterRepo, ItemRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.mail import MailRepo
from realmkit.store.postgres import Database
from realmkit.store.records import RealmStatus

WAIT = 20.0
# Beside the first wolves of Greenhollow (classic's spawns.toml): creatures in view.
NEAR_WOLVES = (355.0, 215.0, 10.0)


@pytest.fixture
async def gateway(database_url: str, endpoints: Endpoints) -> AsyncIterator[GatewayNode]:
    here = Endpoints(endpoints.nats_url, database_url)
    async with two_worlds_and_an_orchestrator(here):
        node = GatewayNode(
            NodeSpec(name="gateway-1", role=Role.GATEWAY, host="127.0.0.1", port=0), here
        )
        async with running(node):
            yield node


async def test_names_and_inventory_are_answered_for_a_player_in_the_world(
    gateway: GatewayNode, db: Database
) -> None:
    """Anna, in the world near wolves, asks the names of what she sees with her own id,
    Bert (of her realm, offline), Cora (of another realm of the pool), a wolf's id and
    an id that is no character: she gets Anna, Bert and Cora-Crimson with their levels,
    nothing for the others. Her inventory is her money and the items she owns, not
    the one she mailed away nor another character's."""
    realm_id, (anna, bert) = await azure_with(db, [("Anna", NEAR_WOLVES), ("Bert", NEAR_WOLVES)])
    cluster = ClusterRepo(db)
    azure = await cluster.realm(realm_id)
    crimson = await cluster.add_realm("Crimson", "classic", azure.pool_id, RealmStatus.ONLINE)
    account = await AccountRepo(db).by_name("tester")
    cora = (
        await CharacterRepo(db).create(
            account.account_id, crimson.realm_id, "Cora", map_id=1, position=NEAR_WOLVES, hp=100
        )
    ).character_id
    async with db.connection() as conn:
        await conn.execute(
            "UPDATE characters.characters SET level = 7 WHERE character_id = $1", bert
        )
    items = ItemRepo(db)
    block = await items.reserve_ids()
    kept_1, kept_2, mailed, berts = block[0], block[1], block[2], block[3]
    await items.grant(kept_1, 2, anna, stack_count=5)
    await items.grant(kept_2, 7, anna)
    await items.grant(mailed, 4, anna, stack_count=3)
    await items.grant(berts, 6, bert)
    mail = MailRepo(db)
    await mail.grant_money(anna, 1500)
    await mail.send(anna, bert, "Ore", item_ids=[mailed], money=200)

    client = await enter_through(db, gateway, anna)
    try:
        async with asyncio.timeout(WAIT):
            while not any(i < 0 for i in client.visible()):
                await client.wait_frame()
        wolf = min(client.visible())
        assert wolf < 0
        assert anna in client.visible()  # players' entity ids are their character ids
        nobody = cora + 1_000_000

        named = await client.names([wolf, anna, nobody, bert, cora, anna])
        assert named.names == [
            NameEntry(anna, "Anna", 1),
            NameEntry(bert, "Bert", 7),
            NameEntry(cora, "Cora-Crimson", 1),
        ]
        # Read once: asked again, the gateway answers from its book, not PostgreSQL.
        async with db.connection() as conn:
            await conn.execute(
                "UPDATE characters.characters SET level = 9 WHERE character_id = $1", bert
            )
        again = await client.names([bert])
        assert again.names == [NameEntry(bert, "Bert", 7)]
        assert len(gateway.desk.name_book) == 4  # anna, bert, cora, and nobody (none)

        only_creatures = await client.names([wolf])
        assert only_creatures.names == []

        inventory = await client.inventory()
        assert inventory.money == 1300
        assert inventory.items == [
            InventoryItem(kept_1, 2, 5),
            InventoryItem(kept_2, 7, 1),
        ]
        with pytest.raises(RemoteError) as refused:
            await client.social_ask(NamesRequest([]), type(named))
        assert refused.value.remote_code == "BAD_MESSAGE"
    finally:
        await leave_world(client)
