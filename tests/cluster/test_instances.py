"""Instances on demand and transfers between them, on a real cluster."""

from __future__ import annotations

import asyncio
import math

from invariants import check_invariants, fetch, owned_items

from realmkit.client.game import GameClient, world_position
from realmkit.client.login import LoginClient

WAIT = 20.0
CONTINENT, DUNGEON = 1, 2
# Just south of the Gloomdeep Gate portal (area x 1580-1600, y 1580-1600).
NEAR_GATE = (1590.0, 1574.0)
GATE = (1590.0, 1590.0)
# The dungeon's way out (area x 0-4, y 90-110) and where it leads.
WAY_OUT = (2.0, 100.0)
FROM_DUNGEON = (1540.0, 1500.0)


async def enter_at(  # type: ignore[no-untyped-def]
    http,
    cluster,
    name: str,
    at: tuple[float, float],
    gateway: int = 0,
    realm_index: int = 0,
    hp: int | None = None,
):
    """A client whose character starts at ``at`` on the continent (set in its save),
    on the ``realm_index``-th realm of the list; with ``hp`` when given (wounded)."""
    api = LoginClient(cluster.login_url, http)
    await api.register_or_login(f"acct_{name.lower()}", "correct-horse-battery")
    realm = (await api.realms())[realm_index]
    character = await api.character(realm.realm_id, name)
    await fetch(
        cluster.database_url,
        "UPDATE characters.characters SET map_id = $2, pos_x = $3, pos_y = $4, pos_z = 30, "
        "hp = COALESCE($5, hp) WHERE character_id = $1",
        character.character_id,
        CONTINENT,
        *at,
        hp,
    )
    ticket = await api.ticket(character.character_id)
    client = await GameClient.connect(http, cluster.gateways[gateway], ticket.ticket)
    await _until_placed(client)
    return client


async def reenter(http, cluster, name: str, gateway: int = 0) -> GameClient:  # type: ignore[no-untyped-def]
    """Log in again and enter with the character as it was saved."""
    api = LoginClient(cluster.login_url, http)
    await api.register_or_login(f"acct_{name.lower()}", "correct-horse-battery")
    realm = (await api.realms())[0]
    character = await api.character(realm.realm_id, name)
    ticket = await api.ticket(character.character_id)
    client = await GameClient.connect(http, cluster.gateways[gateway], ticket.ticket)
    await _until_placed(client)
    return client


async def _until_placed(client: GameClient) -> None:
    async with asyncio.timeout(WAIT):
        while client.position is None:
            await client.wait_frame()


async def walk_through(client: GameClient, x: float, y: float) -> None:
    """Walk towards (x, y) until a transfer lands; positions re-read after it."""
    before = client.transfers
    async with asyncio.timeout(WAIT):
        while client.transfers == before:
            if client.position is not None and not client.transferring:
                await client.walk_towards(x, y, speed=6.0, step_seconds=0.1)
            await asyncio.sleep(0.1)  # the client's own pace: ten reports a second
    await _until_placed(client)


async def _instance(cluster, client: GameClient) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT i.instance_id, i.kind FROM characters.player_assignments a "
        "JOIN characters.instances i USING (instance_id) WHERE a.character_id = $1",
        client.character_id,
    )
    return rows[0]["instance_id"], rows[0]["kind"]


async def test_portal_into_a_dungeon_and_back(http, cluster, eventually) -> None:
    """Through the gate into a dungeon instance of one's own, out at its exit; another
    player gets another instance; logging in again inside leads back to the bound
    instance; an instance stops once empty, an occupied one does not."""
    items = await owned_items(cluster.database_url)
    a = await enter_at(http, cluster, "Delver", NEAR_GATE, gateway=0)
    b = await enter_at(http, cluster, "Seeker", NEAR_GATE, gateway=1)
    try:
        await asyncio.gather(walk_through(a, *GATE), walk_through(b, *GATE))
        assert a.world is not None
        assert b.world is not None
        assert a.world.map_id == DUNGEON
        assert b.world.map_id == DUNGEON
        a_dungeon, kind = await _instance(cluster, a)
        b_dungeon, _ = await _instance(cluster, b)
        assert kind == "dungeon"
        assert a_dungeon != b_dungeon, "two groups share one dungeon instance"
        me = a.me()
        assert me is not None
        x, y, _ = world_position(me)
        assert math.hypot(x - 20.0, y - 100.0) < 1.5, "not at the dungeon entrance"
        assert b.character_id not in a.visible()

        await walk_through(a, *WAY_OUT)
        assert a.world.map_id == CONTINENT
        me = a.me()
        assert me is not None
        x, y, _ = world_position(me)
        assert abs(x - FROM_DUNGEON[0]) < 1
        assert abs(y - FROM_DUNGEON[1]) < 1

        # b logs out inside and in again: back in its bound instance, where it was.
        seen = b.me()
        assert seen is not None
        await b.close()
        b = await reenter(http, cluster, "Seeker", gateway=0)
        assert b.world is not None
        assert b.world.map_id == DUNGEON
        assert (await _instance(cluster, b))[0] == b_dungeon

        async def stopped() -> bool:
            rows = await fetch(
                cluster.database_url,
                "SELECT state FROM characters.instances WHERE instance_id = $1",
                a_dungeon,
            )
            return rows[0]["state"] == "gone"

        await eventually(stopped, WAIT, "the empty dungeon instance stopped")
        rows = await fetch(
            cluster.database_url,
            "SELECT state FROM characters.instances WHERE instance_id = $1",
            b_dungeon,
        )
        assert rows[0]["state"] == "ready", "an occupied instance was stopped"
        assert not a.closed.is_set()
        assert not b.closed.is_set()
    finally:
        await a.close()
        await b.close()
    await check_invariants(cluster.database_url, items)
