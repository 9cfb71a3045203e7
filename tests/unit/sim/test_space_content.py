"""Switching a running space to a patched content pack: stats, spawns, players, snapshots."""

from __future__ import annotations

import math
import random
from collections import Counter
from fractions import Fraction
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_scenarios import ACTIONS, CONTINENT, PACK, Driver, crowd_space, run_ticks

from realmkit.content.schema import ContentPack, LootEntry, LootTable, Point, SpawnDef
from realmkit.errors import BadSnapshot, ContentError
from realmkit.protocol.events import Died, LootGranted
from realmkit.protocol.frames import FrameArrays
from realmkit.protocol.inputs import Attack, Say
from realmkit.sim.combat import damage
from realmkit.sim.creatures import Ai
from realmkit.sim.loot import PendingGrant
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState
from realmkit.sim.store import FLAG_DEAD, Kind

WOLF = 1
BOAR = 2
# The eight wolves crowd_space puts its players next to, and the boars of the next spawn.
WOLVES = PACK.spawns_on(CONTINENT)[0]
BOARS = PACK.spawns_on(CONTINENT)[1]
LONE_WOLF = msgspec.structs.replace(
    PACK,
    spawns=[SpawnDef(map=CONTINENT, template=WOLF, at=Point(x=500.0, y=500.0), wander_radius=0.0)],
)
TICK_RATE = PACK.maps[CONTINENT].tick_rate


def _with_creature(pack: ContentPack, template: int, **changes: Any) -> ContentPack:
    creatures = dict(pack.creatures)
    creatures[template] = msgspec.structs.replace(creatures[template], **changes)
    return msgspec.structs.replace(pack, creatures=creatures)


def _with_spawn(pack: ContentPack, spawn: SpawnDef, new: SpawnDef | None) -> ContentPack:
    """``pack`` with ``spawn`` replaced by ``new`` (None: left out, as a disabled spawn is)."""
    spawns = [new if s == spawn else s for s in pack.spawns]
    return msgspec.structs.replace(pack, spawns=[s for s in spawns if s is not None])


def _of_spawn(space: Space, spawn: SpawnDef) -> list[int]:
    """Ids of the creatures that belong to ``spawn``."""
    w = space.world
    st_ = w.store
    out = []
    for slot in st_.live(Kind.CREATURE).tolist():
        key = w.spawn_keys[int(st_.cols["spawn"][slot])]
        if (key.template, key.x, key.y, key.z) == (
            spawn.template,
            spawn.at.x,
            spawn.at.y,
            spawn.at.z,
        ):
            out.append(int(st_.cols["id"][slot]))
    return out


def _col(space: Space, name: str, entity_id: int) -> float:
    st_ = space.world.store
    return float(st_.cols[name][st_.slot_of[entity_id]])


def _last_frame(space: Space) -> FrameArrays:
    return FrameArrays.of(space.frames_to_send()[-1])


def _lone_wolf_space(y: float = 530.0) -> tuple[Space, int]:
    space = Space(LONE_WOLF, CONTINENT, seed=3, item_ids=(5000, 6000))
    space.add_player(PlayerState(1, "p1", 3, 140, CONTINENT, 500.0, y, 0.0, 0.0))
    return space, next(i for i in space.world.store.slot_of if i < 0)


def test_patched_stats_reach_living_creatures_in_the_next_frame() -> None:
    """Full-hp creatures show the new max hp in the next frame, a wounded one keeps its fraction."""
    space = crowd_space(players=2)
    space.step(0)
    space.frames_to_send()
    w = space.world
    wolves = _of_spawn(space, WOLVES)
    hurt = wolves[0]
    damage(w, w.store.slot_of[hurt], 25, w.store.slot_of[1000])  # 35 of 60 left
    patched = _with_creature(
        PACK,
        WOLF,
        hp=90,
        damage=20,
        move_speed=9.0,
        aggro_radius=20.0,
        leash=70.0,
        attack_speed=1.0,
    )
    space.apply_content(patched)
    space.step(1)
    frame = _last_frame(space)
    rows = zip(frame.hp.tolist(), frame.max_hp.tolist(), strict=True)
    shown = dict(zip(frame.ids.tolist(), rows, strict=True))
    assert set(wolves) <= set(shown)
    assert shown[hurt] == (53, 90)  # 35/60 of 90 is 52.5, rounded half up
    assert all(shown[i] == (90, 90) for i in wolves if i != hurt)
    for i in wolves:
        assert (_col(space, "damage", i), _col(space, "speed", i)) == (20, 9.0)
        assert (_col(space, "aggro", i), _col(space, "leash", i)) == (20.0, 70.0)
        assert _col(space, "swing_ticks", i) == TICK_RATE
    boar = _of_spawn(space, BOARS)[0]
    assert (_col(space, "max_hp", boar), _col(space, "speed", boar)) == (80, 5.5)


def test_the_next_hit_after_a_switch_does_the_new_damage() -> None:
    """A creature that attacks after the switch hits for the patched damage."""
    space, _ = _lone_wolf_space(y=505.0)
    space.apply_content(_with_creature(LONE_WOLF, WOLF, damage=33))
    for _ in range(100):
        run_ticks(space, 1)
        if space.player_state(1).hp < 140:
            break
    assert space.player_state(1).hp == 140 - 33


def test_a_creature_dead_at_the_switch_respawns_with_the_new_max() -> None:
    """A dead creature stays dead (hp 0, unseen) and comes back at the patched max hp."""
    space, wolf = _lone_wolf_space()
    space.step(0)
    damage(space.world, space.world.store.slot_of[wolf], 1000, space.world.store.slot_of[1])
    space.apply_content(_with_creature(LONE_WOLF, WOLF, hp=500))
    run_ticks(space, 1)
    assert (_col(space, "hp", wolf), _col(space, "flags", wolf)) == (0, FLAG_DEAD)
    assert wolf not in _last_frame(space).ids.tolist()
    run_ticks(space, int(LONE_WOLF.creatures[WOLF].respawn * TICK_RATE))
    assert _col(space, "ai", wolf) == Ai.HOME
    assert (_col(space, "hp", wolf), _col(space, "max_hp", wolf)) == (500, 500)


def test_a_death_after_the_switch_uses_the_new_respawn_and_loot() -> None:
    """Respawn delay and loot table are read from the pack the space runs when a creature dies."""
    space, wolf = _lone_wolf_space()
    space.step(0)
    sure = LootTable(id=1, name="patched", entries=[LootEntry(item=7, chance=1.0)])
    patched = msgspec.structs.replace(
        _with_creature(LONE_WOLF, WOLF, respawn=2.0),
        loot_tables={**LONE_WOLF.loot_tables, 1: sure},
    )
    space.apply_content(patched)
    w = space.world
    damage(w, w.store.slot_of[wolf], 1000, w.store.slot_of[1])
    events = space.events_to_emit()
    assert any(isinstance(e, Died) and e.entity_id == wolf for e in events)
    assert [e.template_id for e in events if isinstance(e, LootGranted)] == [7]
    assert _col(space, "respawn_at", wolf) == 0 + 2 * TICK_RATE
    run_ticks(space, 2 * TICK_RATE)
    assert _col(space, "ai", wolf) == Ai.HOME


def test_a_removed_spawn_vanishes_and_a_readded_one_comes_back() -> None:
    """A spawn the pack drops leaves frames and slots; put back, it is populated with new ids."""
    space = crowd_space(players=2)
    space.step(0)
    wolves = _of_spawn(space, WOLVES)
    assert set(wolves) <= set(_last_frame(space).ids.tolist())
    st_ = space.world.store
    slots = sorted(st_.slot_of[i] for i in wolves)
    space.receive_input(1000, Attack(wolves[0]))
    space.step(1)
    assert space.world.players[1000].attack_target == wolves[0]

    space.apply_content(_with_spawn(PACK, WOLVES, None))
    assert not set(wolves) & set(st_.slot_of)
    assert all(st_.cols["kind"][s] == Kind.FREE for s in slots)
    # Interest forgets them too, so a creature reusing a slot enters afresh.
    assert not np.isin(space.world.grid.keys & 0xFFFFFFFF, slots).any()
    space.step(2)
    frame = _last_frame(space)
    assert not set(wolves) & set(frame.ids.tolist())
    assert not set(wolves) & set(frame.ids[frame.visible].tolist())
    assert space.world.players[1000].attack_target == 0

    space.apply_content(PACK)
    space.step(3)
    back = _of_spawn(space, WOLVES)
    assert len(back) == WOLVES.count
    assert min(wolves) > max(back)  # fresh ids, never a removed creature's
    assert sorted(st_.slot_of[i] for i in back) == slots  # the freed slots, reused
    frame = _last_frame(space)
    assert set(back) <= set(frame.ids[frame.visible].tolist())
    for i in back:
        dx = _col(space, "home_x", i) - WOLVES.at.x
        dy = _col(space, "home_y", i) - WOLVES.at.y
        assert math.hypot(dx, dy) <= WOLVES.wander_radius + 1e-9
        assert _col(space, "hp", i) == PACK.creatures[WOLF].hp


def test_count_changes_remove_dead_then_idle_newest_first_and_add_new() -> None:
    """Lowering a count drops dead creatures first, then the newest idle ones; raising adds more."""
    space = crowd_space(players=1)
    w = space.world
    wolves = sorted(_of_spawn(space, WOLVES), reverse=True)  # -1 (oldest) .. -8 (newest)
    assert wolves == list(range(-1, -9, -1))
    player = w.store.slot_of[1000]
    damage(w, w.store.slot_of[-1], 1000, player)  # dead
    damage(w, w.store.slot_of[-8], 1, player)  # fighting
    space.apply_content(_with_spawn(PACK, WOLVES, msgspec.structs.replace(WOLVES, count=3)))
    assert sorted(_of_spawn(space, WOLVES)) == [-8, -3, -2]
    made = w.creatures_made
    space.apply_content(_with_spawn(PACK, WOLVES, msgspec.structs.replace(WOLVES, count=10)))
    now = set(_of_spawn(space, WOLVES))
    assert now == {-8, -3, -2} | set(range(-made - 7, -made))
    assert Counter(w.store["kind"][w.store.live()].tolist())[Kind.CREATURE] == (
        sum(s.count for s in PACK.spawns_on(CONTINENT)) + 2
    )


def test_players_keep_their_state_across_a_switch() -> None:
    """Position, hp, records (items, queued inputs, targets) and pending grants are untouched."""
    driver = Driver(crowd_space(seed=4))
    r = random.Random(2)
    for _ in range(60):
        ops = [(r.randrange(6), r.choice(ACTIONS), r.random(), r.random()) for _ in range(3)]
        driver.step(ops)
    space = driver.space
    w = space.world
    space.receive_input(1001, Say("still here"))
    w.pending.append(PendingGrant(1000, 2, 1, -5))
    w.players[1002].granted_items.append(77)
    cols = ("x", "y", "z", "o", "hp", "max_hp", "flags", "template")

    def players() -> tuple[bytes, list[list[float]], list[PendingGrant], bytes]:
        rows = [[float(w.store.cols[c][rec.slot]) for c in cols] for rec in w.players.values()]
        records = msgspec.msgpack.encode(list(w.players.values()))
        return records, rows, list(w.pending), msgspec.msgpack.encode(w.pool)

    before = players()
    patched = _with_spawn(
        _with_creature(PACK, WOLF, hp=200, damage=1),
        BOARS,
        msgspec.structs.replace(BOARS, count=12),
    )
    space.apply_content(_with_spawn(patched, WOLVES, None))
    assert players() == before
    assert space.saves_to_write() == []  # nothing about a player changed


def test_lower_player_hp_rules_cap_player_hp() -> None:
    """If the player rules lower max hp, players keep their hp up to the new max (and are saved)."""
    space = crowd_space(players=1)
    rules = msgspec.structs.replace(PACK.player, base_hp=50)
    space.apply_content(msgspec.structs.replace(PACK, player=rules))
    assert [s.hp for s in space.saves_to_write()] == [50 + 2 * PACK.player.hp_per_level]


def test_snapshot_after_a_switch_restores_identically() -> None:
    """A space switched then snapshotted restores with the same creatures and runs the same."""
    driver = Driver(crowd_space(seed=8))
    r = random.Random(5)
    script = [
        [(r.randrange(6), r.choice(ACTIONS), r.random(), r.random()) for _ in range(3)]
        for _ in range(70)
    ]
    for ops in script[:30]:
        driver.step(ops)
    patched = _with_spawn(
        _with_creature(PACK, BOAR, hp=10, move_speed=8.0),
        WOLVES,
        msgspec.structs.replace(WOLVES, count=12),
    )
    driver.space.apply_content(patched)
    blob = driver.space.snapshot()
    moved = Driver(
        Space.restore(patched, blob), next_block=driver.next_block, seqs=dict(driver.seqs)
    )
    assert moved.space.snapshot() == blob
    assert moved.space.world.spawn_keys == driver.space.world.spawn_keys
    for ops in script[30:]:
        assert driver.step(ops) == moved.step(ops)
    assert driver.space.snapshot() == moved.space.snapshot()


def test_restore_with_newer_content_switches_to_it() -> None:
    """Restoring a snapshot with a since-patched pack gives what switching the original gives."""
    space = crowd_space(seed=2)
    run_ticks(space, 5)
    blob = space.snapshot()
    patched = _with_spawn(_with_creature(PACK, WOLF, hp=7), BOARS, None)
    restored = Space.restore(patched, blob)
    space.apply_content(patched)
    assert restored.snapshot() == space.snapshot()


def test_switching_to_the_running_pack_changes_nothing() -> None:
    """Applying the pack a space already runs leaves it byte for byte the same."""
    space = crowd_space(seed=6)
    run_ticks(space, 3)
    w = space.world
    damage(w, w.store.slot_of[-2], 7, w.store.slot_of[1000])
    blob = space.snapshot()
    space.apply_content(PACK)
    assert space.snapshot() == blob
    patched = _with_spawn(PACK, WOLVES, msgspec.structs.replace(WOLVES, count=2))
    space.apply_content(patched)
    blob = space.snapshot()
    space.apply_content(patched)
    assert space.snapshot() == blob


def test_a_pack_the_space_cannot_run_is_refused_without_change() -> None:
    """A pack without the space's map, or without a creature its spawns need, is a ContentError."""
    space = crowd_space()
    run_ticks(space, 2)
    blob = space.snapshot()
    no_map = msgspec.structs.replace(
        PACK,
        maps={i: m for i, m in PACK.maps.items() if i != CONTINENT},
        spawns=[s for s in PACK.spawns if s.map != CONTINENT],
    )
    with pytest.raises(ContentError):
        space.apply_content(no_map)
    no_wolf = msgspec.structs.replace(
        _with_creature(PACK, BOAR, hp=1),
        creatures={i: c for i, c in PACK.creatures.items() if i != WOLF},
    )
    with pytest.raises(ContentError):
        space.apply_content(no_wolf)
    assert space.world.pack is PACK
    assert space.snapshot() == blob


def _as_format_1(blob: bytes) -> bytes:
    """A snapshot as the code before spawn identity wrote it."""
    data = msgspec.msgpack.decode(blob)
    data["format"] = 1
    del data["spawn_keys"], data["creatures_made"], data["store"]["cols"]["spawn"]
    return msgspec.msgpack.encode(data)


def test_a_format_1_snapshot_gets_spawn_keys_from_creature_ids() -> None:
    """An older snapshot restores with every creature keyed to its spawn; a misfit is refused."""
    space = crowd_space(seed=3)
    run_ticks(space, 20)
    blob = space.snapshot()
    assert Space.restore(PACK, _as_format_1(blob)).snapshot() == blob
    fewer = _with_spawn(PACK, WOLVES, None)
    space.apply_content(fewer)
    with pytest.raises(BadSnapshot):
        Space.restore(fewer, _as_format_1(space.snapshot()))


# --- property: any sequence of switches leaves the creatures the pack describes ---------

CONTINENT_SPAWNS = PACK.spawns_on(CONTINENT)
CONTINENT_TEMPLATES = sorted({s.template for s in CONTINENT_SPAWNS})
stats = st.fixed_dictionaries(
    {
        "hp": st.integers(1, 3000),
        "damage": st.integers(0, 100),
        "move_speed": st.floats(0.5, 20.0),
        "attack_speed": st.floats(0.1, 5.0),
        "aggro_radius": st.floats(0.0, 40.0),
        "leash": st.floats(1.0, 100.0),
    }
)
patches = st.tuples(
    st.dictionaries(st.sampled_from(CONTINENT_TEMPLATES), stats, max_size=4),
    st.dictionaries(
        st.integers(0, len(CONTINENT_SPAWNS) - 1),
        st.one_of(st.none(), st.integers(1, 14)),
        max_size=8,
    ),
)
hurts = st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 600)), max_size=12)


def _patched(patch: tuple[dict[int, dict[str, Any]], dict[int, int | None]]) -> ContentPack:
    creature_changes, spawn_changes = patch
    pack = PACK
    for template, changes in creature_changes.items():
        pack = _with_creature(pack, template, **changes)
    spawns = []
    for spawn in pack.spawns:
        index = CONTINENT_SPAWNS.index(spawn) if spawn in CONTINENT_SPAWNS else -1
        count = spawn_changes.get(index, spawn.count)
        if count is not None:
            spawns.append(msgspec.structs.replace(spawn, count=count))
    return msgspec.structs.replace(pack, spawns=spawns)


def _check_creatures(space: Space, pack: ContentPack, seen: dict[int, object]) -> None:
    """Every creature has its template's values and a spawn of the pack; counts match."""
    w = space.world
    c = w.store.cols
    creatures = w.store.live(Kind.CREATURE).tolist()
    keys = [w.spawn_keys[int(c["spawn"][s])] for s in creatures]
    wanted: Counter[tuple[int, float, float, float, str]] = Counter()
    for s in pack.spawns_on(CONTINENT):
        wanted[(s.template, s.at.x, s.at.y, s.at.z, s.name)] += s.count
    assert Counter(k[:5] for k in keys) == wanted
    for slot, key in zip(creatures, keys, strict=True):
        entity_id = int(c["id"][slot])
        assert seen.setdefault(entity_id, key) == key, "an id came back for another spawn"
        tpl = pack.creatures[int(c["template"][slot])]
        assert tpl.id == key.template
        assert int(c["max_hp"][slot]) == tpl.hp
        assert int(c["damage"][slot]) == tpl.damage
        assert float(c["speed"][slot]) == tpl.move_speed
        assert float(c["aggro"][slot]) == tpl.aggro_radius
        assert float(c["leash"][slot]) == tpl.leash
        assert int(c["swing_ticks"][slot]) == max(1, round(tpl.attack_speed * TICK_RATE))
        if c["ai"][slot] == Ai.DEAD:
            assert c["hp"][slot] == 0
        else:
            assert 1 <= c["hp"][slot] <= tpl.hp


@settings(max_examples=30, deadline=None)
@given(steps=st.lists(st.tuples(patches, hurts), min_size=1, max_size=3), seed=st.integers(0, 99))
def test_any_switch_sequence_gives_the_creatures_each_pack_describes(
    steps: list[tuple[tuple[dict[int, dict[str, Any]], dict[int, int | None]], list[Any]]],
    seed: int,
) -> None:
    """After every switch each creature has its pack's values, hp keeps its fraction, ids stay."""
    space = crowd_space(seed=seed, players=1)
    space.step(0)
    w = space.world
    seen: dict[int, object] = {}
    gone: set[int] = set()
    for patch, hurt in steps:
        for pick, amount in hurt:
            live = w.store.live(Kind.CREATURE)
            damage(w, int(live[pick % live.size]), amount, w.store.slot_of[1000])
        c = w.store.cols
        before = {
            int(c["id"][s]): (int(c["hp"][s]), int(c["max_hp"][s]))
            for s in w.store.live(Kind.CREATURE).tolist()
        }
        pack = _patched(patch)
        space.apply_content(pack)
        _check_creatures(space, pack, seen)
        after = {int(c["id"][s]): s for s in w.store.live(Kind.CREATURE).tolist()}
        gone |= set(before) - set(after)
        assert not gone & set(after), "a removed creature came back"
        for entity_id, (hp, old_max) in before.items():
            slot = after.get(entity_id)
            if slot is None or hp == 0:
                continue
            new_max = int(c["max_hp"][slot])
            expected = math.floor(Fraction(hp * new_max, old_max) + Fraction(1, 2))
            assert c["hp"][slot] == min(max(expected, 1), new_max)
        space.step(space.tick + 1)
    space.apply_content(PACK)
    _check_creatures(space, PACK, seen)
    alive = w.store.live(Kind.CREATURE)
    alive = alive[w.store["ai"][alive] != Ai.DEAD]
    assert np.all(w.store["hp"][alive] >= 1)
