"""Creature spawns, and switching a running world to another version of its content.

Every creature remembers its spawn: the ``spawn`` column holds an index into
``World.spawn_keys``, and a ``SpawnKey`` (template, position, name, and
``nth`` for twins) survives a patch, which only toggles spawns and changes
their counts and phases. ``switch`` lays a patched pack over a running world:

- every creature takes its template's new values; a living one keeps its
  fraction of hp (rounded half up, at least 1), a dead one stays dead and
  respawns at the new max;
- a spawn the new pack lacks loses its creatures (freed slots; observers see
  them leave in the next frame); a new spawn is populated like at the start;
  a lower ``count`` removes the surplus (dead ones first, then idle, evading,
  fighting; newest first); a higher one spawns more;
- respawn delays and loot tables are looked up in ``world.pack`` when a
  creature dies, so they follow the switch without per-creature state.

Invariant: after ``populate`` or ``switch``, each spawn of the map has exactly
``count`` creatures (alive or dead), and nothing else adds or removes any, so
switching to the pack a world already runs changes nothing at all. In the cells
of a continent the invariant holds over all the cells together: a spawn's
creatures wander from cell to cell, so a cell changes a spawn's creatures only
by what the pack changed (``_cell_wants``), never from what it happens to hold.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from realmkit.content.schema import ContentPack, SpawnDef
from realmkit.errors import ContentError
from realmkit.sim.creatures import Ai
from realmkit.sim.grid import group_rank
from realmkit.sim.store import Kind
from realmkit.sim.world import SpawnKey, World

Slots = NDArray[np.int64]

# Removal order when a count is lowered, by ``ai``: lowest goes first.
_REMOVAL_RANK: Final = np.array(
    [{Ai.DEAD: 0, Ai.HOME: 1, Ai.EVADE: 2, Ai.CHASE: 3}[a] for a in Ai], dtype=np.int64
)


def keyed_spawns(pack: ContentPack, map_id: int) -> list[tuple[SpawnKey, SpawnDef]]:
    """The spawns of one map with their keys, in pack order."""
    seen: dict[tuple[int, float, float, float, str], int] = {}
    out = []
    for spawn in pack.spawns_on(map_id):
        where = (spawn.template, spawn.at.x, spawn.at.y, spawn.at.z, spawn.name)
        nth = seen.get(where, 0)
        seen[where] = nth + 1
        out.append((SpawnKey(*where, nth), spawn))
    return out


def own_spawns(world: World, pack: ContentPack) -> list[tuple[SpawnKey, SpawnDef]]:
    """The spawns this world populates: all of its map's, or in a cell of a continent
    the ones whose point lies in the cell (CELLS.md case 8)."""
    spawns = keyed_spawns(pack, world.map.id)
    if world.cell is None:
        return spawns
    place = world.cell
    return [(k, s) for k, s in spawns if place.partition.cell_at(s.at.x, s.at.y) == place.cell]


def populate(world: World) -> None:
    """Place every creature of the world's spawns, as a fresh space does."""
    for key, spawn in own_spawns(world, world.pack):
        spawn_creatures(world, spawn, world.intern_spawn(key), spawn.count)


def spawn_creatures(world: World, spawn: SpawnDef, index: int, n: int) -> None:
    """Place ``n`` creatures of ``spawn`` (key ``index``) at seeded spots within its radius."""
    if n <= 0:
        return
    st = world.store
    first = world.creatures_made + 1
    world.creatures_made += n
    # Negative ids can never collide with character ids (positive int64); the
    # cells of a continent draw from blocks of their own (CELLS.md case 10).
    first += world.creature_ids_from
    slots = st.alloc_many(list(range(-first, -first - n, -1)), Kind.CREATURE)
    # Row i is (angle, distance) of creature i, drawn in the order a loop would.
    angle, dist = world.rng.random((n, 2)).T
    r = spawn.wander_radius * np.sqrt(dist)
    b = world.map.bounds
    x = np.clip(spawn.at.x + r * np.cos(angle * 2 * np.pi), b.min_x, b.max_x)
    y = np.clip(spawn.at.y + r * np.sin(angle * 2 * np.pi), b.min_y, b.max_y)
    c = st.cols
    c["template"][slots] = spawn.template
    c["spawn"][slots] = index
    c["x"][slots] = c["home_x"][slots] = c["dest_x"][slots] = x
    c["y"][slots] = c["home_y"][slots] = c["dest_y"][slots] = y
    c["z"][slots] = c["home_z"][slots] = spawn.at.z
    c["o"][slots] = spawn.at.o
    c["hp"][slots] = c["max_hp"][slots] = world.pack.creatures[spawn.template].hp
    c["wander"][slots] = spawn.wander_radius
    take_templates(world, slots)


def take_templates(world: World, slots: Slots) -> None:
    """Give creatures their template's values from ``world.pack`` (hp keeps its fraction)."""
    if slots.size == 0:
        return
    st = world.store
    ids, which = np.unique(st["template"][slots], return_inverse=True)
    tpls = [world.pack.creatures[int(t)] for t in ids]

    def per_creature(values: list[float], dtype: type[np.generic]) -> NDArray[Any]:
        chosen: NDArray[Any] = np.array(values, dtype=dtype)[which]
        return chosen

    new_max = per_creature([t.hp for t in tpls], np.int64)
    old_max = st["max_hp"][slots].astype(np.int64)
    hp = st["hp"][slots].astype(np.int64)
    # Integer half-up rounding of hp * new / old: exact, so an unchanged max keeps hp.
    scaled = np.clip((2 * hp * new_max + old_max) // (2 * old_max), 1, new_max)
    st["hp"][slots] = np.where(st["ai"][slots] == Ai.DEAD, hp, scaled)
    st["max_hp"][slots] = new_max
    st["damage"][slots] = per_creature([t.damage for t in tpls], np.int32)
    st["speed"][slots] = per_creature([t.move_speed for t in tpls], np.float64)
    st["aggro"][slots] = per_creature([t.aggro_radius for t in tpls], np.float64)
    st["leash"][slots] = per_creature([t.leash for t in tpls], np.float64)
    st["swing_ticks"][slots] = per_creature([world.ticks(t.attack_speed) for t in tpls], np.int32)


def check(world: World, pack: ContentPack) -> None:
    """Raise ContentError if ``pack`` cannot run this world (nothing is changed)."""
    where = f"pack {pack.info.name} {pack.info.version}"
    map_id = world.map.id
    if map_id not in pack.maps:
        raise ContentError(where, "maps", f"no map {map_id}, which space {world.instance_id} runs")
    for i, spawn in enumerate(pack.spawns):
        if spawn.map != map_id:
            continue
        tpl = pack.creatures.get(spawn.template)
        if tpl is None:
            raise ContentError(where, f"spawns[{i}].template", f"no creature {spawn.template}")
        if tpl.loot_table is not None and tpl.loot_table not in pack.loot_tables:
            field = f"creatures[{tpl.id}].loot_table"
            raise ContentError(where, field, f"no loot table {tpl.loot_table}")


def switch(world: World, pack: ContentPack) -> None:
    """Run ``pack`` from now on; see the module docstring. Call between two ticks."""
    check(world, pack)
    before = {key: spawn.count for key, spawn in keyed_spawns(world.pack, world.map.id)}
    world.use_pack(pack)
    _players_take_rules(world)
    st = world.store
    creatures = st.live(Kind.CREATURE).astype(np.int64)
    have = np.bincount(st["spawn"][creatures], minlength=len(world.spawn_keys))
    if world.cell is None:
        wanted = [(world.intern_spawn(key), spawn) for key, spawn in own_spawns(world, pack)]
        want = np.zeros(len(world.spawn_keys), dtype=np.int64)
        for index, spawn in wanted:
            want[index] = spawn.count
    else:
        wanted, want = _cell_wants(world, pack, before, have)
    _remove_surplus(world, want)
    creatures = st.live(Kind.CREATURE).astype(np.int64)
    take_templates(world, creatures)
    have = np.bincount(st["spawn"][creatures], minlength=want.size)
    for index, spawn in wanted:
        st["wander"][creatures[st["spawn"][creatures] == index]] = spawn.wander_radius
        spawn_creatures(world, spawn, index, int(want[index] - have[index]))


def _cell_wants(
    world: World, pack: ContentPack, before: dict[SpawnKey, int], have: NDArray[np.int64]
) -> tuple[list[tuple[int, SpawnDef]], NDArray[np.int64]]:
    """What a cell of a continent keeps of each spawn under ``pack``: a spawn's
    creatures wander into other cells, so a cell counts none but its own. A spawn
    the pack lacks loses every creature here; a count that changed changes the
    creatures of the cell that holds the spawn's point by as many (a spawn new to
    the pack: all of them); the rest stay as they are."""
    own = {key for key, _ in own_spawns(world, pack)}
    wanted = []
    want = np.zeros(len(world.spawn_keys), dtype=np.int64)
    want[: have.size] = have
    present = set()
    for key, spawn in keyed_spawns(pack, world.map.id):
        index = world.intern_spawn(key)
        present.add(index)
        if index >= want.size:
            want = np.concatenate([want, np.zeros(index + 1 - want.size, dtype=np.int64)])
        if key in own:
            want[index] = max(0, int(want[index]) + spawn.count - before.get(key, 0))
            wanted.append((index, spawn))
    for index in range(want.size):
        if index not in present:
            want[index] = 0
    return wanted, want


def _players_take_rules(world: World) -> None:
    """Players keep their hp, capped by a max that the player rules may have changed."""
    c = world.store.cols
    for rec in world.players.values():
        max_hp = world.max_hp(rec.level)
        c["max_hp"][rec.slot] = max_hp
        if c["hp"][rec.slot] > max_hp:
            c["hp"][rec.slot] = max_hp
            rec.dirty = True


def _remove_surplus(world: World, want: NDArray[np.int64]) -> None:
    st = world.store
    creatures = st.live(Kind.CREATURE).astype(np.int64)
    spawn = st["spawn"][creatures].astype(np.int64)
    excess = np.clip(np.bincount(spawn, minlength=want.size) - want, 0, None)
    if not excess.any():
        return
    # Within each spawn: by removal rank, then newest (most negative id) first.
    order = np.lexsort((st["id"][creatures], _REMOVAL_RANK[st["ai"][creatures]], spawn))
    by_spawn = spawn[order]
    doomed = np.sort(creatures[order][group_rank(by_spawn) < excess[by_spawn]])
    st.release_many(doomed)
    world.grid.forget_many(doomed)


def adopt_from_ids(world: World) -> str | None:
    """Give spawn keys to a world snapshotted before creatures had them.

    Such a world placed all its creatures at its start, ids -1, -2, ... in
    the pack's spawn order, and never removed one; each creature is checked
    against the spawn that order gives it. Returns why that does not fit, or
    None when every creature got its key.
    """
    st = world.store
    creatures = st.live(Kind.CREATURE).astype(np.int64)
    entries = keyed_spawns(world.pack, world.map.id)
    ends = np.cumsum([s.count for _, s in entries], dtype=np.int64)
    total = int(ends[-1]) if entries else 0
    number = -st["id"][creatures].astype(np.int64)
    if not np.array_equal(np.sort(number), np.arange(1, total + 1)):
        return f"{creatures.size} creatures, not the {total} the pack places"
    which = np.searchsorted(ends, number, side="left")
    spawns = [s for _, s in entries]

    def per_creature(values: list[float]) -> NDArray[np.float64]:
        chosen: NDArray[np.float64] = np.array(values, dtype=np.float64)[which]
        return chosen

    tpl = per_creature([s.template for s in spawns])
    x, y = per_creature([s.at.x for s in spawns]), per_creature([s.at.y for s in spawns])
    z, r = per_creature([s.at.z for s in spawns]), per_creature([s.wander_radius for s in spawns])
    dx, dy = st["home_x"][creatures] - x, st["home_y"][creatures] - y
    fits = (st["template"][creatures] == tpl) & (st["home_z"][creatures] == z)
    fits &= dx * dx + dy * dy <= (r + 1e-6 * (1.0 + r)) ** 2
    if not fits.all():
        return f"creature {int(st['id'][creatures[~fits][0]])} fits no spawn of the pack"
    index = np.array([world.intern_spawn(key) for key, _ in entries], dtype=np.int32)
    st["spawn"][creatures] = index[which]
    world.creatures_made = total
    return None
