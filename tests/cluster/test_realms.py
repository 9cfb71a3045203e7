"""Several realms of one game side by side: patches per realm, offline realms, on a real cluster."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable

import pytest
from invariants import check_invariants, fetch, owned_items
from test_instances import enter_at
from test_recovery import plays

from realmkit import realms
from realmkit.bus import subjects
from realmkit.client.game import GameClient, world_position
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
# Where nothing attacks a player standing for a while.
QUIET = (300.0, 300.0)
PATCH_SECONDS = 1.0
# A restart asked for in 12 s, then the realm's spaces frozen, loaded, players seated.
RESTART_WAIT = 45.0


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


async def test_realm_restart_counts_down_and_seats_everyone_back(  # type: ignore[no-untyped-def]
    http, cluster, bus, run_realmkit, eventually
) -> None:
    """`realmkit realm announce Azure` reaches Azure's player; `realmkit realm restart
    Azure --in 12s`: Azure's player is told at once and at
    the 10 s mark, saved, Azure's continent starts again from its content (its tick
    count starts over), and the player is seated back where it stood on the same
    socket (a `transfer_pending` "restart", then `new_world`), never logged out;
    Crimson's player hears and sees nothing; every item is where it was."""
    items = await owned_items(cluster.database_url)
    azure = await enter_at(http, cluster, "Restarted", QUIET, realm_index=0)
    crimson = await enter_at(http, cluster, "Bystander", QUIET, gateway=1, realm_index=1)
    await plays(azure)
    space = await _space_of(cluster, azure)
    me = azure.me()
    assert me is not None
    where = world_position(me)
    before = await bus.request(
        subjects.space_control(space), DescribeSpace(), SpaceDescription, timeout=5.0
    )
    env = {
        "REALMKIT_CONFIG": str(cluster.node_file),
        "REALMKIT_DATABASE_URL": cluster.database_url,
        "REALMKIT_NATS_URL": cluster.endpoints.nats_url,
    }
    said = run_realmkit("realm", "announce", "Azure", "Maintenance soon", "--json", env=env)
    out, err = await asyncio.to_thread(said.communicate, timeout=30)
    assert said.returncode == 0, out + err
    assert json.loads(out)["told"] == 1

    async def restart_in(delay: str) -> dict[str, object]:
        proc = run_realmkit("realm", "restart", "Azure", "--in", delay, "--json", env=env)
        out, err = await asyncio.to_thread(proc.communicate, timeout=30)
        assert proc.returncode == 0, out + err
        asked: dict[str, object] = json.loads(out)["restart"]
        assert (asked["realm"], asked["state"]) == ("Azure", "pending")
        return asked

    def told_at_least(count: int) -> Callable[[], Awaitable[bool]]:
        async def told() -> bool:
            return len(azure.announcements) >= count

        return told

    # Warned, then moved two hours on (told at once), then back to 12 s.
    await restart_in("12s")
    await eventually(told_at_least(2), RESTART_WAIT, "the first warning")
    await restart_in("2h")
    await eventually(told_at_least(3), RESTART_WAIT, "the word that it moved")
    moved = azure.announcements[2]
    assert (moved.kind, moved.seconds) == ("restart", 7200), moved
    assert "moved" in moved.text
    asked = await restart_in("12s")

    async def back() -> bool:
        return bool(azure.pending_reasons) and not azure.transferring and azure.me() is not None

    await eventually(back, RESTART_WAIT, "Azure's player seated back after the restart")
    told = [(a.kind, a.seconds) for a in azure.announcements]
    assert (told[0], azure.announcements[0].text) == (("system", 0), "Maintenance soon")
    assert [s for _, s in told[1:3]][1] == 7200, told
    told = told[3:]
    assert told[0][0] == "restart", told
    assert 10 < told[0][1] <= 12, told
    assert [s for _, s in told[1:-1]], "the 10 s mark was told"
    assert all(0 < s <= 10 for _, s in told[1:-1]), told
    assert told[-1] == ("restart", 0), told
    assert list(azure.pending_reasons) == ["restart"]
    assert azure.resumes == 0
    assert not azure.closed.is_set()
    again = azure.me()
    assert again is not None
    assert math.dist(world_position(again), where) < 1.0, "seated back somewhere else"
    after = await bus.request(
        subjects.space_control(space), DescribeSpace(), SpaceDescription, timeout=5.0
    )
    # Continued from a checkpoint, it would be 12 s (240 ticks) further on.
    assert after.tick < before.tick + 100, (before.tick, after.tick)
    await plays(azure)
    seat = await fetch(
        cluster.database_url,
        "SELECT state, instance_id FROM characters.player_assignments WHERE character_id = $1",
        azure.character_id,
    )
    assert (seat[0]["state"], seat[0]["instance_id"]) == ("in_world", space)
    rows = await fetch(
        cluster.database_url,
        "SELECT state, players, spaces FROM cluster.realm_restarts WHERE restart_id = $1",
        asked["restart_id"],
    )
    assert rows[0]["state"] == "done", dict(rows[0])
    assert rows[0]["players"] >= 1, dict(rows[0])
    await crimson.wait_frame()
    assert not crimson.announcements
    assert crimson.transfers == 0
    assert not crimson.closed.is_set()
    for client in (azure, crimson):
        await client.close()
    await check_invariants(cluster.database_url, items)
