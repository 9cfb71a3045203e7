"""Several realms of one game side by side: patches per realm, offline realms, on a real cluster."""

from __future__ import annotations

import pytest
from invariants import fetch
from test_instances import enter_at

from realmkit import realms
from realmkit.bus import subjects
from realmkit.client.game import GameClient
from realmkit.client.login import LoginClient
from realmkit.errors import RemoteError
from realmkit.protocol.cluster import DescribeSpace, SpaceDescription
from realmkit.realms import PatchTarget
from realmkit.settings import EngineSettings, Settings
from realmkit.store.postgres import Database
from realmkit.store.records import RealmStatus

WOLF = 1
# Between two packs of Forest Wolves on Greenhollow (classic map 1).
WOLVES = (345.0, 205.0)
PATCH_SECONDS = 1.0


async def _space_of(cluster, client: GameClient) -> int:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT instance_id FROM characters.player_assignments WHERE character_id = $1",
        client.character_id,
    )
    return int(rows[0]["instance_id"])


async def _wolves(bus, instance_id: int) -> tuple[int | None, int]:  # type: ignore[no-untyped-def]
    """(patch the space runs, max hp of its living wolves), asked of the space itself."""
    found = await bus.request(
        subjects.space_control(instance_id), DescribeSpace(), SpaceDescription, timeout=5.0
    )
    return found.patch_id, found.creatures[WOLF][0]


async def test_patch_changes_its_realms_spaces_live_and_rolls_back(  # type: ignore[no-untyped-def]
    http, cluster, bus, eventually
) -> None:
    """A patch activated on Azure gives the wolves of Azure's running continent 90 hp
    within a second while Crimson's keep 60; rollback restores 60 within a second;
    players on both stay connected and see no transfer."""
    azure = await enter_at(http, cluster, "Wolfwatch", WOLVES, realm_index=0)
    crimson = await enter_at(http, cluster, "Packwatch", WOLVES, gateway=1, realm_index=1)
    azure_space, crimson_space = await _space_of(cluster, azure), await _space_of(cluster, crimson)
    assert azure_space != crimson_space
    assert await _wolves(bus, azure_space) == await _wolves(bus, crimson_space) == (None, 60)
    settings = Settings(
        engines=EngineSettings(
            nats_url=cluster.endpoints.nats_url, database_url=cluster.database_url
        )
    )
    target = PatchTarget(realm="Azure")
    db = await Database.connect(cluster.database_url, max_size=2)
    try:
        patch = await realms.create_patch(
            db,
            "hardy-wolves",
            b'{"creatures": {"1": {"hp": 90}}}',
            game=None,
            parent=None,
            on=target,
        )
        await realms.activate(settings, db, target, "hardy-wolves")

        async def patched() -> bool:
            return await _wolves(bus, azure_space) == (patch.patch_id, 90)

        await eventually(patched, PATCH_SECONDS, "Azure's wolves patched")
        assert await _wolves(bus, crimson_space) == (None, 60)
        listed = {r.name: r.patch for r in await LoginClient(cluster.login_url, http).realms()}
        assert (listed["Azure"], listed["Crimson"]) == ("hardy-wolves", "")
        await realms.rollback(settings, db, target)

        async def restored() -> bool:
            return await _wolves(bus, azure_space) == (None, 60)

        await eventually(restored, PATCH_SECONDS, "Azure's wolves restored")
    finally:
        await db.close()
    await azure.wait_frame()
    await crimson.wait_frame()
    assert not azure.closed.is_set()
    assert not crimson.closed.is_set()
    assert azure.transfers == crimson.transfers == 0
    for client in (azure, crimson):
        await client.close()


async def test_offline_realm_refuses_queues_and_entries(http, cluster) -> None:  # type: ignore[no-untyped-def]
    """With Crimson offline, a Crimson player in the world gets REALM_UNAVAILABLE on
    queue_join and a Crimson character cannot enter; Azure is unaffected."""
    inside = await enter_at(http, cluster, "Stayer", WOLVES, realm_index=1)
    api = LoginClient(cluster.login_url, http)
    await api.register_or_login("acct_latecomer", "correct-horse-battery")
    crimson = (await api.realms())[1]
    late = await api.character(crimson.realm_id, "Latecomer")
    db = await Database.connect(cluster.database_url, max_size=2)
    try:
        await realms.set_status(db, "Crimson", RealmStatus.OFFLINE)
        with pytest.raises(RemoteError) as refused:
            await inside.queue_join("battleground")
        assert refused.value.remote_code == "REALM_UNAVAILABLE"
        with pytest.raises(RemoteError) as no_ticket:
            await api.ticket(late.character_id)
        assert no_ticket.value.remote_code == "REALM_UNAVAILABLE"
        listed = {r.name: r.status for r in await api.realms()}
        assert listed["Crimson"] == "offline"
        azure = await enter_at(http, cluster, "Azurite", WOLVES, realm_index=0)
        status = await azure.queue_join("battleground")
        assert status.state == "queued"
        assert (await azure.queue_leave("battleground")).state == "cancelled"
        await azure.close()
    finally:
        await realms.set_status(db, "Crimson", RealmStatus.ONLINE)
        await db.close()
    rows = await fetch(
        cluster.database_url,
        "SELECT count(*) AS n FROM matchmaking.tickets t JOIN characters.characters c "
        "ON c.character_id = t.character_id WHERE c.realm_id = $1",
        crimson.realm_id,
    )
    assert rows[0]["n"] == 0
    await inside.close()
