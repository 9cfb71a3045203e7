"""Operator actions on realms, pools and patches (``realmkit realm|pool|patch``),
and a world node's drain (``realmkit drain``); the operations page
(``nodes/login/ops.py``) calls the same functions.

PostgreSQL is the record: a status or patch change is committed first, then
announced on NATS (``PatchActivated``) so world nodes apply it within a tick
or two. If NATS cannot be reached the change still holds: world nodes read
the active patches again every few seconds.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from realmkit import countdown
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.content.loader import load_pack, pack_folder
from realmkit.content.patches import check_overrides, decode_overrides
from realmkit.content.schema import MAX_PHASE
from realmkit.engines import embedded as engines
from realmkit.errors import InvalidInput, NotFound, RealmkitError, RemoteError, UsageError
from realmkit.nodes.announcing import tell_characters, tell_realm
from realmkit.protocol.client import Announcement
from realmkit.protocol.cluster import (
    CellsChanged,
    Drained,
    DrainNode,
    MergeCell,
    MoveCellBorder,
    PatchActivated,
    SplitCell,
)
from realmkit.settings import Settings
from realmkit.store.cells import PartitionRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.chat import MuteRepo, MuteRow
from realmkit.store.cluster import ClusterRepo
from realmkit.store.patches import PatchRepo
from realmkit.store.postgres import Database
from realmkit.store.records import CellStatus, Patch, Realm, RealmListing, RealmPool, RealmStatus
from realmkit.store.restarts import RealmRestart, RestartRepo

log = logging.getLogger("realmkit.realms")

# A split loads a space on a world node before it answers.
SPLIT_TIMEOUT = 30.0
# A drain moves every space of the node, one after another.
DRAIN_TIMEOUT = 300.0


class PatchTarget(msgspec.Struct, frozen=True):
    """What a patch command acts on: one realm, or a pool's cross-realm instances."""

    realm: str | None = None
    pool: str | None = None

    def check(self) -> None:
        if (self.realm is None) == (self.pool is None):
            raise UsageError("name exactly one of --realm and --pool")


class PatchState(msgspec.Struct, frozen=True):
    """Where a target stands after a patch command."""

    target: str
    game_id: str
    patch_id: int | None
    patch: str | None
    announced: bool


async def add_pool(db: Database, name: str, game_id: str) -> RealmPool:
    return await ClusterRepo(db).add_pool(name, game_id)


async def add_realm(db: Database, name: str, pool: str, status: RealmStatus) -> Realm:
    """A realm in ``pool``, running the pool's game."""
    cluster = ClusterRepo(db)
    found = await cluster.pool(_key(pool))
    return await cluster.add_realm(name, found.game_id, found.pool_id, status)


async def set_status(db: Database, realm: str, status: RealmStatus) -> Realm:
    cluster = ClusterRepo(db)
    found = await cluster.realm(_key(realm))
    return await cluster.update_realm(found.realm_id, status=status)


async def set_phase(settings: Settings, db: Database, realm: str, phase: int) -> Realm:
    """Move a realm to another phase: spawns gated by phase appear or vanish in its
    running spaces (world nodes are told, as for a patch)."""
    if not 0 <= phase <= MAX_PHASE:
        raise InvalidInput("phase", f"0 to {MAX_PHASE}")
    cluster = ClusterRepo(db)
    found = await cluster.realm(_key(realm))
    changed = await cluster.update_realm(found.realm_id, phase=phase)
    message = PatchActivated(changed.game_id, changed.active_patch_id, realm_id=changed.realm_id)
    await _announce(settings, message)
    return changed


async def schedule_restart(
    settings: Settings, db: Database, realm: str, seconds: int
) -> RealmRestart:
    """Restart the realm in ``seconds``: the orchestrators' leader counts it down,
    telling its players, then restarts its spaces (``nodes/orchestrator/restarts.py``).
    A pending restart of the realm moves to the new time; players already warned of
    it are told of the move at once when the new time is beyond the first warning
    (the leader tells them at the next mark otherwise)."""
    found = await ClusterRepo(db).realm(_key(realm))
    repo = RestartRepo(db)
    before = [r for r in await repo.open() if r.realm_id == found.realm_id]
    asked = await repo.schedule(found.realm_id, seconds)
    warned = before and before[0].warned_seconds is not None
    if warned and seconds > max(settings.restarts.warnings, default=0):
        await _tell(
            settings, db, found.realm_id, Announcement("restart", countdown.moved(seconds), seconds)
        )
    return asked


async def cancel_restart(settings: Settings, db: Database, realm: str) -> RealmRestart:
    """Call off the realm's pending restart; its players are told when they had been
    warned (best effort: NATS down, they simply hear nothing more)."""
    found = await ClusterRepo(db).realm(_key(realm))
    try:
        cancelled = await RestartRepo(db).cancel(found.realm_id)
    except NotFound:
        raise NotFound("pending restart of realm", found.name) from None
    if cancelled.warned_seconds is not None:
        message = Announcement("restart_cancelled", countdown.CANCELLED)
        await _tell(settings, db, found.realm_id, message)
    return cancelled


async def _tell(settings: Settings, db: Database, realm_id: int, message: Announcement) -> None:
    """Best effort: with NATS down, the players simply hear nothing of it."""
    try:
        bus = await NatsBus.connect(engines.endpoints(settings).nats_url, name="restart")
    except RealmkitError as exc:
        log.warning("players not told (%s): %s", message.kind, exc.message)
        return
    try:
        await tell_realm(db, bus, realm_id, message)
        await bus.flush()
    finally:
        await bus.close()


async def restarts(db: Database) -> list[RealmRestart]:
    """Pending and running restarts, then the latest finished ones."""
    return await RestartRepo(db).recent()


MAX_ANNOUNCEMENT = 500
MAX_MUTE_REASON = 255


async def announce(settings: Settings, db: Database, realm: str, text: str) -> int:
    """Tell every player of the realm in the world ``text`` (an ``announce`` of kind
    ``system``); how many were sent it."""
    text = text.strip()
    if not 1 <= len(text) <= MAX_ANNOUNCEMENT or not text.isprintable():
        raise InvalidInput("text", f"1 to {MAX_ANNOUNCEMENT} printable characters")
    found = await ClusterRepo(db).realm(_key(realm))
    bus = await NatsBus.connect(engines.endpoints(settings).nats_url, name="announce")
    try:
        told = await tell_realm(db, bus, found.realm_id, Announcement("system", text))
        await bus.flush()
    finally:
        await bus.close()
    return told


async def mute(
    settings: Settings, db: Database, realm: str, name: str, seconds: float, reason: str
) -> MuteRow:
    """Mute a character of the realm for ``seconds``; it is told if in the world."""
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_MUTE_REASON or not reason.isprintable():
        raise InvalidInput("reason", f"1 to {MAX_MUTE_REASON} printable characters")
    found = await ClusterRepo(db).realm(_key(realm))
    character = await CharacterRepo(db).named(found.realm_id, name)
    muted = await MuteRepo(db).mute_for(character.character_id, seconds, reason)
    await _tell_one(
        settings, db, character.character_id, Announcement("muted", reason, int(seconds))
    )
    return muted


async def unmute(settings: Settings, db: Database, realm: str, name: str) -> bool:
    """Lift a character's mute; False if it had none."""
    found = await ClusterRepo(db).realm(_key(realm))
    character = await CharacterRepo(db).named(found.realm_id, name)
    lifted = await MuteRepo(db).unmute(character.character_id)
    await _tell_one(
        settings, db, character.character_id, Announcement("unmuted", "you may speak again")
    )
    return lifted


async def _tell_one(
    settings: Settings, db: Database, character_id: int, news: Announcement
) -> None:
    bus = await NatsBus.connect(engines.endpoints(settings).nats_url, name="mute")
    try:
        await tell_characters(db, bus, [character_id], news)
        await bus.flush()
    finally:
        await bus.close()


async def cells(db: Database, realm: str) -> tuple[Realm, list[CellStatus]]:
    """A realm and the cells of its live continents."""
    found = await ClusterRepo(db).realm(_key(realm))
    return found, await PartitionRepo(db).of_realm(found.realm_id)


async def split_cell(
    settings: Settings, db: Database, realm: str, map_id: int, cell: int, axis: str, at: float
) -> tuple[Realm, list[CellStatus]]:
    """Ask the orchestrators to split a cell of the realm's continent (the new half on
    another world node, its entities handed over live); the realm's cells after it."""
    found = await ClusterRepo(db).realm(_key(realm))
    await _change_cells(settings, SplitCell(found.realm_id, map_id, cell, axis, at))
    return found, await PartitionRepo(db).of_realm(found.realm_id)


async def merge_cell(
    settings: Settings, db: Database, realm: str, map_id: int, cell: int
) -> tuple[Realm, list[CellStatus]]:
    """Ask the orchestrators to merge a cell of the realm's continent into its sibling
    (its entities handed over live); the realm's cells after it."""
    found = await ClusterRepo(db).realm(_key(realm))
    await _change_cells(settings, MergeCell(found.realm_id, map_id, cell))
    return found, await PartitionRepo(db).of_realm(found.realm_id)


async def move_border(
    settings: Settings, db: Database, realm: str, map_id: int, cell: int, at: float
) -> tuple[Realm, list[CellStatus]]:
    """Ask the orchestrators to move the border between a cell of the realm's continent
    and its sibling to ``at`` (what the moved area holds handed over live); the
    realm's cells after it."""
    found = await ClusterRepo(db).realm(_key(realm))
    await _change_cells(settings, MoveCellBorder(found.realm_id, map_id, cell, at))
    return found, await PartitionRepo(db).of_realm(found.realm_id)


async def _change_cells(
    settings: Settings, request: SplitCell | MergeCell | MoveCellBorder
) -> None:
    bus = await NatsBus.connect(engines.endpoints(settings).nats_url, name="cells")
    try:
        await bus.request(
            subjects.ORCHESTRATOR_REQUESTS, request, CellsChanged, timeout=SPLIT_TIMEOUT
        )
    except RemoteError as exc:
        if exc.remote_code in (InvalidInput.code, NotFound.code):  # the command's mistake
            raise UsageError(exc.remote_message, cell=request.cell_id) from exc
        raise
    finally:
        await bus.close()


async def drain_node(settings: Settings, node_id: str) -> Drained:
    """Ask the orchestrators to move every space off a world node (live migration)."""
    bus = await NatsBus.connect(engines.endpoints(settings).nats_url, name="drain")
    try:
        return await bus.request_patiently(
            subjects.ORCHESTRATOR_REQUESTS,
            DrainNode(node_id),
            Drained,
            within=DRAIN_TIMEOUT,
            attempt_timeout=DRAIN_TIMEOUT,
        )
    finally:
        await bus.close()


async def listing(db: Database) -> list[RealmListing]:
    return await ClusterRepo(db).listing()


async def create_patch(
    db: Database,
    name: str,
    overrides: bytes,
    *,
    game: str | None,
    parent: str | None,
    on: PatchTarget | None,
) -> Patch:
    """A new patch, checked against its game's pack.

    Its parent is ``parent`` (a patch name or id), else the active patch of
    ``on`` (a realm or pool) so the new patch builds on what runs there.
    """
    cluster = ClusterRepo(db)
    patches = PatchRepo(db)
    active: int | None = None
    if on is not None:
        on.check()
        game_id, active, _ = await _target(cluster, on)
        if game is not None and game != game_id:
            raise UsageError(f"{_name(on)} runs {game_id}, not {game}")
    elif game is not None:
        game_id = game
    else:
        raise UsageError("name the game (--game), or a realm or pool whose game it is")
    pack = load_pack(pack_folder((await cluster.game(game_id)).content_pack))
    decoded = decode_overrides(overrides)
    check_overrides(pack, decoded)
    parent_id = (await patches.get(game_id, _key(parent))).patch_id if parent else active
    as_dict: dict[str, Any] = msgspec.to_builtins(decoded)
    return await patches.create(game_id, name, as_dict, parent_id)


async def activate(settings: Settings, db: Database, target: PatchTarget, patch: str) -> PatchState:
    """Make ``patch`` (name or id, of the target's game) the target's active patch."""
    target.check()
    game_id, _, _ = await _target(ClusterRepo(db), target)
    found = await PatchRepo(db).get(game_id, _key(patch))
    return await _switch(settings, db, target, found.patch_id)


async def rollback(settings: Settings, db: Database, target: PatchTarget) -> PatchState:
    """Re-activate the parent of the target's active patch (the base content after the root)."""
    target.check()
    _, active, where = await _target(ClusterRepo(db), target)
    parent = await PatchRepo(db).parent_of_active(active, where)
    return await _switch(settings, db, target, parent)


async def patches_of(db: Database, game_id: str) -> list[Patch]:
    return await PatchRepo(db).of_game(game_id)


async def _switch(
    settings: Settings, db: Database, target: PatchTarget, patch_id: int | None
) -> PatchState:
    cluster, patches = ClusterRepo(db), PatchRepo(db)
    if target.realm is not None:
        realm = await cluster.realm(_key(target.realm))
        realm = await patches.activate(realm, patch_id)
        game_id = realm.game_id
        message = PatchActivated(realm.game_id, patch_id, realm_id=realm.realm_id)
    else:
        assert target.pool is not None
        pool = await cluster.pool(_key(target.pool))
        pool = await patches.activate_for_pool(pool, patch_id)
        game_id = pool.game_id
        message = PatchActivated(pool.game_id, patch_id, pool_id=pool.pool_id)
    name = (await patches.get(game_id, patch_id)).name if patch_id is not None else None
    return PatchState(_name(target), game_id, patch_id, name, await _announce(settings, message))


async def _announce(settings: Settings, message: PatchActivated) -> bool:
    """Tell the world nodes now; False if NATS could not be reached (they will read
    the change from PostgreSQL within seconds)."""
    try:
        bus = await NatsBus.connect(engines.endpoints(settings).nats_url, name="patch")
    except RealmkitError as exc:
        log.warning("patch change not announced (%s): nodes pick it up shortly", exc.message)
        return False
    try:
        await bus.publish(subjects.CONTENT_PATCHES, message)
        await bus.flush()
    finally:
        await bus.close()
    return True


async def _target(cluster: ClusterRepo, target: PatchTarget) -> tuple[str, int | None, str]:
    """(game, active patch, description) of a realm or pool."""
    if target.realm is not None:
        realm = await cluster.realm(_key(target.realm))
        return realm.game_id, realm.active_patch_id, f"realm {realm.name}"
    assert target.pool is not None
    pool = await cluster.pool(_key(target.pool))
    return pool.game_id, pool.active_patch_id, f"pool {pool.name}"


def _name(target: PatchTarget) -> str:
    return f"realm {target.realm}" if target.realm is not None else f"pool {target.pool}"


# Ids are PostgreSQL integers: a larger number names nothing.
MAX_ID = 2**31 - 1


def _key(text: str) -> int | str:
    """Names and ids are both accepted on the command line."""
    if not text.isdigit():
        return text
    if int(text) > MAX_ID:
        raise UsageError(f"no id is above {MAX_ID}", realm=text)
    return int(text)
