"""Snapshot of a whole space as msgpack bytes, and its restore.

Everything that can influence a later tick is in the snapshot: entity
columns, player records (with queued inputs), interest memory (hysteresis),
the random generator's exact state, the item-id pool, pending grants, the
spawn keys and any outputs not drained yet. The content pack is not: the
restoring process loads the same pack (patched as the space's realm runs it
then), and the snapshot names it so another pack is refused.

Format 2 added spawn identity (the ``spawn`` column, ``spawn_keys``,
``creatures_made``). Format 1 snapshots are still read: their creatures get
their keys from their ids (``spawns.adopt_from_ids``), or are refused.
Format 3 added teams (on player records) and the match state; older
snapshots are read as having neither (no teams, nothing decided).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec
import numpy as np

from realmkit.content.schema import ContentPack
from realmkit.errors import BadSnapshot
from realmkit.protocol.events import Event
from realmkit.protocol.frames import SpaceFrame
from realmkit.sim import spawns
from realmkit.sim.loot import ItemIdPool, PendingGrant
from realmkit.sim.state import MatchState, PlayerRecord
from realmkit.sim.store import EntityStore
from realmkit.sim.world import SpawnKey, World

FORMAT: Final = 3
READABLE: Final = frozenset({1, 2, FORMAT})


class _Rng(msgspec.Struct, frozen=True):
    # PCG64's state and increment are 128-bit: carried as decimal strings.
    state: str
    inc: str
    has_uint32: int
    uinteger: int


class _Store(msgspec.Struct, frozen=True):
    size: int
    free: list[int]
    cols: dict[str, bytes]


class _Snapshot(msgspec.Struct, frozen=True):
    format: int
    pack: str
    pack_version: str
    map_id: int
    instance_id: int
    tick: int
    store: _Store
    players: list[PlayerRecord]
    rng: _Rng
    pool: ItemIdPool
    pending: list[PendingGrant]
    events: list[Event]
    aoi_keys: bytes
    frames: list[SpaceFrame]
    # Format 2 on; the defaults are what a format 1 snapshot means.
    spawn_keys: list[SpawnKey] = []
    creatures_made: int = 0
    # Format 3 on.
    match: MatchState = msgspec.field(default_factory=MatchState)


def dump(world: World, frames: list[SpaceFrame]) -> bytes:
    """Encode ``world`` and the undrained ``frames``."""
    store = world.store.dump()
    rng: Mapping[str, Any] = world.rng.bit_generator.state
    snap = _Snapshot(
        format=FORMAT,
        pack=world.pack.info.name,
        pack_version=world.pack.info.version,
        map_id=world.map.id,
        instance_id=world.instance_id,
        tick=world.tick,
        store=_Store(size=store["size"], free=store["free"], cols=store["cols"]),
        players=list(world.players.values()),
        rng=_Rng(
            state=str(rng["state"]["state"]),
            inc=str(rng["state"]["inc"]),
            has_uint32=int(rng["has_uint32"]),
            uinteger=int(rng["uinteger"]),
        ),
        pool=world.pool,
        pending=list(world.pending),
        events=list(world.events),
        aoi_keys=world.grid.dump()["keys"],
        frames=list(frames),
        spawn_keys=list(world.spawn_keys),
        creatures_made=world.creatures_made,
        match=world.match,
    )
    return msgspec.msgpack.encode(snap)


def load(pack: ContentPack, blob: bytes) -> tuple[World, list[SpaceFrame]]:
    """Rebuild the world (and undrained frames) from ``dump``'s bytes."""
    try:
        snap = msgspec.msgpack.decode(blob, type=_Snapshot)
    except msgspec.DecodeError as exc:
        raise BadSnapshot(str(exc)) from exc
    if snap.format not in READABLE:
        raise BadSnapshot(f"format {snap.format}, expected one of {sorted(READABLE)}")
    if (snap.pack, snap.pack_version) != (pack.info.name, pack.info.version):
        raise BadSnapshot(
            f"taken with pack {snap.pack} {snap.pack_version}, "
            f"not {pack.info.name} {pack.info.version}"
        )
    if snap.map_id not in pack.maps:
        raise BadSnapshot(f"map {snap.map_id} is not in the pack")
    bitgen = np.random.PCG64()
    bitgen.state = {
        "bit_generator": "PCG64",
        "state": {"state": int(snap.rng.state), "inc": int(snap.rng.inc)},
        "has_uint32": snap.rng.has_uint32,
        "uinteger": snap.rng.uinteger,
    }
    world = World(pack, snap.map_id, snap.instance_id, np.random.Generator(bitgen))
    world.tick = snap.tick
    world.store = EntityStore.load(
        {"size": snap.store.size, "free": snap.store.free, "cols": snap.store.cols}
    )
    world.players = {rec.character_id: rec for rec in snap.players}
    world.match = snap.match
    world.pool = snap.pool
    world.pending = list(snap.pending)
    world.events = list(snap.events)
    world.grid.load({"keys": snap.aoi_keys})
    if snap.format == 1:
        unfit = spawns.adopt_from_ids(world)
        if unfit is not None:
            raise BadSnapshot(f"format 1 snapshot, spawns unknown: {unfit}")
    else:
        for key in snap.spawn_keys:
            world.intern_spawn(key)
        world.creatures_made = snap.creatures_made
    return world, list(snap.frames)
