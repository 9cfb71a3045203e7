"""Realms, pools and patch chains as operators manage them (``realmkit realm|pool|patch``)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from realmkit import realms
from realmkit.bus import subjects
from realmkit.engines.embedded import Endpoints
from realmkit.errors import Conflict, ContentError, InvalidInput, NotFound
from realmkit.nodes.content import Scope, SpaceContent
from realmkit.nodes.packs import PackCache
from realmkit.protocol.cluster import PatchActivated
from realmkit.realms import PatchTarget
from realmkit.seed import seed_if_empty
from realmkit.settings import EngineSettings, Settings
from realmkit.store.cluster import ClusterRepo
from realmkit.store.patches import PatchRepo
from realmkit.store.postgres import Database
from realmkit.store.records import RealmStatus

WOLF_HP = b'{"creatures": {"1": {"hp": 90}}}'


def _settings(endpoints: Endpoints) -> Settings:
    return Settings(engines=EngineSettings(nats_url=endpoints.nats_url, database_url="x"))


async def test_realms_join_pools_of_their_game(db: Database) -> None:
    """A realm takes its pool's game; a pool's realms never mix games; an offline realm
    shows so in the listing with its pool."""
    await seed_if_empty(db)
    frontier = await realms.add_realm(db, "Sandholm", "frontier", RealmStatus.ONLINE)
    assert frontier.game_id == "frontier"
    cluster = ClusterRepo(db)
    classic_pool = await cluster.pool("classic")
    with pytest.raises(Conflict):
        await cluster.add_realm("Mixed", "frontier", classic_pool.pool_id)
    with pytest.raises(NotFound):
        await realms.add_realm(db, "Nowhere", "no-such-pool", RealmStatus.ONLINE)
    await realms.set_status(db, "crimson", RealmStatus.OFFLINE)
    listed = {r.name: (r.game_id, r.pool, r.status.value) for r in await realms.listing(db)}
    assert listed == {
        "Azure": ("classic", "classic", "online"),
        "Crimson": ("classic", "classic", "offline"),
        "Dustfall": ("frontier", "frontier", "online"),
        "Sandholm": ("frontier", "frontier", "online"),
    }


async def test_patch_chain_activate_and_roll_back(db: Database, endpoints: Endpoints, bus) -> None:  # type: ignore[no-untyped-def]
    """A patch builds on the realm's active one; activating announces it on NATS;
    rollback walks the chain back to the base content, then refuses."""
    await seed_if_empty(db)
    heard: list[PatchActivated] = []

    async def on_patch(message: PatchActivated) -> None:
        heard.append(message)

    await bus.subscribe(subjects.CONTENT_PATCHES, PatchActivated, on_patch)
    await bus.flush()
    settings = _settings(endpoints)
    azure = PatchTarget(realm="Azure")
    first = await realms.create_patch(db, "wolves", WOLF_HP, game=None, parent=None, on=azure)
    assert (first.parent_id, first.overrides) == (None, {"creatures": {"1": {"hp": 90}}})
    state = await realms.activate(settings, db, azure, "wolves")
    assert (state.patch, state.announced) == ("wolves", True)
    second = await realms.create_patch(
        db, "boars", b'{"creatures": {"2": {"damage": 1}}}', game=None, parent=None, on=azure
    )
    assert second.parent_id == first.patch_id  # on top of what Azure runs
    await realms.activate(settings, db, azure, str(second.patch_id))
    chain = await PatchRepo(db).chain(second.patch_id)
    assert [p.name for p in chain] == ["wolves", "boars"]
    back = await realms.rollback(settings, db, azure)
    assert back.patch == "wolves"
    assert (await realms.rollback(settings, db, azure)).patch is None
    with pytest.raises(Conflict):
        await realms.rollback(settings, db, azure)
    listed = {r.name: r.patch for r in await realms.listing(db)}
    assert listed == {"Azure": None, "Crimson": None, "Dustfall": None}
    azure_id = (await ClusterRepo(db).realm("Azure")).realm_id
    await bus.flush()
    assert [(m.realm_id, m.patch_id) for m in heard] == [
        (azure_id, first.patch_id),
        (azure_id, second.patch_id),
        (azure_id, first.patch_id),
        (azure_id, None),
    ]


async def test_bad_patches_are_refused_before_anything_is_written(db: Database) -> None:
    """Overrides naming a creature the game lacks, or a value out of bounds, or a patch
    of another game, are refused with the field named; nothing is stored."""
    await seed_if_empty(db)
    azure = PatchTarget(realm="Azure")
    with pytest.raises(ContentError) as caught:
        await realms.create_patch(
            db, "ghosts", b'{"creatures": {"999": {"hp": 5}}}', game=None, parent=None, on=azure
        )
    assert "creatures[999]" in caught.value.message
    with pytest.raises(ContentError):
        await realms.create_patch(
            db, "zero", b'{"creatures": {"1": {"hp": 0}}}', game=None, parent=None, on=azure
        )
    await realms.create_patch(db, "sand", b"{}", game="frontier", parent=None, on=None)
    with pytest.raises(NotFound):
        await realms.activate(Settings(), db, azure, "sand")  # a frontier patch
    assert [p.name for p in await realms.patches_of(db, "classic")] == []


def test_cli_lists_realms_and_reports_bad_input(
    database_url: str, endpoints: Endpoints, run_realmkit, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """`realmkit realm list --json` shows the seeded realms; a patch on an unknown realm
    exits 2 with NOT_FOUND."""
    env = {"REALMKIT_DATABASE_URL": database_url, "REALMKIT_NATS_URL": endpoints.nats_url}
    proc = run_realmkit("db", "migrate", "--seed", "--json", env=env)
    assert proc.wait(timeout=60) == 0
    proc = run_realmkit("realm", "list", "--json", env=env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert [r["name"] for r in json.loads(stdout)] == ["Azure", "Crimson", "Dustfall"]
    overrides = tmp_path / "wolves.json"
    overrides.write_bytes(WOLF_HP)
    proc = run_realmkit(
        "patch",
        "create",
        "wolves",
        "--file",
        str(overrides),
        "--realm",
        "Nowhere",
        "--json",
        env=env,
    )
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert msgspec.json.decode(stdout)["error"]["code"] == "NOT_FOUND"


async def test_phase_gates_spawns_in_the_content_a_realm_runs(
    db: Database, endpoints: Endpoints
) -> None:  # type: ignore[no-untyped-def]
    """A realm's phase is part of the content its spaces resolve: Dustfall's phase-1
    wyrm brood appears only once the realm is moved to phase 1; a phase out of range
    is refused."""
    await seed_if_empty(db)
    content = SpaceContent(db, PackCache())
    dustfall = await ClusterRepo(db).realm("Dustfall")
    scope = Scope(dustfall.game_id, dustfall.realm_id, dustfall.pool_id)

    async def brood() -> list[str]:
        pack = await content.pack(await content.version(scope))
        return [s.name for s in pack.spawns if s.name == "dunes-wyrm-brood"]

    assert await brood() == []
    moved = await realms.set_phase(_settings(endpoints), db, "Dustfall", 1)
    assert moved.current_phase == 1
    assert await brood() == ["dunes-wyrm-brood"]
    with pytest.raises(InvalidInput):
        await realms.set_phase(_settings(endpoints), db, "Dustfall", 5000)
