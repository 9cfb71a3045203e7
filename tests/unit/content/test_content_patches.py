"""Patches: overrides decoded, checked against a pack and resolved into a new pack."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from realmkit.content.loader import classic_pack_path, load_pack, pack_folder
from realmkit.content.patches import (
    CreaturePatch,
    PatchOverrides,
    SpawnPatch,
    check_overrides,
    decode_overrides,
    empty_overrides,
    merge_overrides,
    resolve,
)
from realmkit.content.schema import ContentPack, CreatureTemplate, LootTable, SpawnDef
from realmkit.errors import ContentError, InvalidInput

CLASSIC = load_pack(classic_pack_path())
FRONTIER = load_pack(pack_folder("frontier"))
WOLF = 1  # Forest Wolf: hp 60, damage 6, loot table 1
WOLVES = "greenhollow-wolves-1"
BOSS = "gloomdeep-vesh"


def _spawn(pack: ContentPack, name: str) -> SpawnDef | None:
    return next((s for s in pack.spawns if s.name == name), None)


def _chances(table: LootTable) -> list[float]:
    return [e.chance for e in table.entries]


# --- decoding -------------------------------------------------------------


def test_decode_json_and_mapping_agree() -> None:
    """The same patch decodes alike from JSON text, bytes, and a dict with str or int keys."""
    text = '{"creatures": {"1": {"hp": 90}}, "spawns": {"gloomdeep-vesh": {"count": 2}}}'
    from_bytes = decode_overrides(text.encode())
    assert decode_overrides(text) == from_bytes
    assert decode_overrides({"creatures": {"1": {"hp": 90}}, "spawns": {BOSS: {"count": 2}}}) == (
        from_bytes
    )
    assert decode_overrides({"creatures": {1: {"hp": 90}}, "spawns": {BOSS: {"count": 2}}}) == (
        from_bytes
    )
    assert from_bytes.creatures[WOLF].hp == 90
    assert from_bytes.creatures[WOLF].damage is UNSET


def test_empty_object_is_the_empty_patch() -> None:
    """``{}`` decodes to the patch that changes nothing."""
    assert decode_overrides(b"{}") == empty_overrides() == PatchOverrides()


def test_zero_hp_is_a_content_error() -> None:
    """hp = 0 breaks the creature bounds and is named with the creature's id."""
    with pytest.raises(ContentError) as info:
        decode_overrides(b'{"creatures": {"1": {"hp": 90}, "2": {"hp": 0}}}')
    assert info.value.path == "(patch)"
    assert info.value.field == "creatures[2].hp"


def test_hand_built_bad_value_is_caught_by_check() -> None:
    """A patch built in Python with hp = 0 is rejected by check_overrides, not resolved."""
    bad = PatchOverrides(creatures={WOLF: CreaturePatch(hp=0)})
    with pytest.raises(ContentError) as info:
        check_overrides(CLASSIC, bad)
    assert info.value.field == "creatures[1].hp"
    with pytest.raises(ContentError):
        resolve(CLASSIC, [bad])


def test_unknown_override_field_is_a_typo() -> None:
    """An unknown key inside a creature override is named, so typos never pass silently."""
    with pytest.raises(ContentError) as info:
        decode_overrides(b'{"creatures": {"1": {"hitpoints": 90}}}')
    assert info.value.field == "creatures[1].hitpoints"


def test_unknown_top_level_key_is_a_typo() -> None:
    """A misspelt section (``spawn`` for ``spawns``) is rejected and named."""
    with pytest.raises(ContentError) as info:
        decode_overrides(b'{"spawn": {}}')
    assert info.value.field == "spawn"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"loot_rate": 0}', "loot_rate"),
        (b'{"loot_rate": 101}', "loot_rate"),
        (b'{"loot_tables": {"2": -1.0}}', "loot_tables[2]"),
        (b'{"spawns": {"gloomdeep-vesh": {"count": 0}}}', "spawns[gloomdeep-vesh].count"),
        (b'{"spawns": {"gloomdeep-vesh": {"phase": 1001}}}', "spawns[gloomdeep-vesh].phase"),
        (
            b'{"spawns": {"gloomdeep-vesh": {"wander_radius": -1}}}',
            "spawns[gloomdeep-vesh].wander_radius",
        ),
        (b'{"spawns": {"Not A Name": {}}}', "spawns[Not A Name]"),
        (b'{"creatures": {"wolf": {}}}', "creatures[wolf]"),
        (b"[]", "(root)"),
        (b'{"creatures": ', "(syntax)"),
    ],
)
def test_bad_shape_or_value_names_the_field(raw: bytes, field: str) -> None:
    """Each out-of-bounds value, bad key or bad document names where it is."""
    with pytest.raises(ContentError) as info:
        decode_overrides(raw)
    assert info.value.path == "(patch)"
    assert info.value.field == field


# --- checking against a pack ----------------------------------------------


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"creatures": {"99": {"hp": 5}}}, "creatures[99]"),
        ({"creatures": {"1": {"loot_table": 77}}}, "creatures[1].loot_table"),
        ({"spawns": {"no-such-spawn": {"enabled": False}}}, "spawns[no-such-spawn]"),
        ({"loot_tables": {"42": 2.0}}, "loot_tables[42]"),
    ],
)
def test_unknown_reference_names_the_field(patch: dict[str, Any], field: str) -> None:
    """A creature id, spawn name or loot table the pack lacks is named by check and resolve."""
    overrides = decode_overrides(patch)
    with pytest.raises(ContentError) as info:
        check_overrides(CLASSIC, overrides)
    assert (info.value.path, info.value.field) == ("(patch)", field)
    with pytest.raises(ContentError) as info:
        resolve(CLASSIC, [empty_overrides(), overrides])
    assert info.value.field == field
    assert "patch 1" in info.value.detail


def test_frontier_names_are_not_classic_names() -> None:
    """A patch written for classic does not apply to frontier: spawn names are per pack."""
    check_overrides(CLASSIC, decode_overrides({"spawns": {WOLVES: {"count": 2}}}))
    with pytest.raises(ContentError):
        check_overrides(FRONTIER, decode_overrides({"spawns": {WOLVES: {"count": 2}}}))


# --- resolving --------------------------------------------------------------


def test_empty_chain_is_identity_for_classic() -> None:
    """Resolving classic with no patches at phase 0 gives an equal pack."""
    assert resolve(CLASSIC, []) == CLASSIC
    assert resolve(CLASSIC, [empty_overrides(), empty_overrides()]) == CLASSIC


def test_empty_chain_drops_only_phased_spawns() -> None:
    """With no patches, frontier's phase-1 brood is absent at phase 0 and the rest is equal."""
    at_zero = resolve(FRONTIER, [])
    phased = [s for s in FRONTIER.spawns if s.phase > 0]
    assert [s.name for s in phased] == ["dunes-wyrm-brood"]
    assert at_zero.spawns == [s for s in FRONTIER.spawns if s.phase == 0]
    assert msgspec.structs.replace(at_zero, spawns=FRONTIER.spawns) == FRONTIER
    assert resolve(FRONTIER, [], phase=1) == FRONTIER


def test_creature_stat_override() -> None:
    """A creature override changes the named stats and keeps the others."""
    resolved = resolve(CLASSIC, [decode_overrides({"creatures": {"1": {"hp": 90, "damage": 8}}})])
    wolf = resolved.creatures[WOLF]
    assert (wolf.hp, wolf.damage) == (90, 8)
    assert wolf == msgspec.structs.replace(CLASSIC.creatures[WOLF], hp=90, damage=8)
    assert CLASSIC.creatures[WOLF].hp == 60
    assert resolved.creatures[2] is CLASSIC.creatures[2]


def test_loot_table_can_be_removed_with_null() -> None:
    """``loot_table: null`` leaves a creature without loot; leaving it out keeps the table."""
    resolved = resolve(CLASSIC, [decode_overrides(b'{"creatures": {"1": {"loot_table": null}}}')])
    assert resolved.creatures[WOLF].loot_table is None
    kept = resolve(CLASSIC, [decode_overrides(b'{"creatures": {"1": {"hp": 70}}}')])
    assert kept.creatures[WOLF].loot_table == 1


def test_later_patch_wins_field_by_field() -> None:
    """A later patch overrides the fields it sets; fields only earlier patches set survive."""
    root = decode_overrides({"creatures": {"1": {"hp": 90, "damage": 8}}, "loot_rate": 2.0})
    child = decode_overrides({"creatures": {"1": {"hp": 100}}, "loot_rate": 0.5})
    resolved = resolve(CLASSIC, [root, child])
    assert (resolved.creatures[WOLF].hp, resolved.creatures[WOLF].damage) == (100, 8)
    assert _chances(resolved.loot_tables[1]) == pytest.approx(
        [c * 0.5 for c in _chances(CLASSIC.loot_tables[1])]
    )
    assert resolve(CLASSIC, [child, root]).creatures[WOLF].hp == 90


def test_spawn_disable_and_count() -> None:
    """A disabled spawn is left out; a count override changes only that spawn."""
    patch = decode_overrides({"spawns": {WOLVES: {"enabled": False}, BOSS: {"count": 3}}})
    resolved = resolve(CLASSIC, [patch])
    assert _spawn(resolved, WOLVES) is None
    boss = _spawn(resolved, BOSS)
    assert boss is not None
    assert boss.count == 3
    assert len(resolved.spawns) == len(CLASSIC.spawns) - 1
    assert _spawn(CLASSIC, WOLVES) is not None


def test_spawn_spread() -> None:
    """``wander_radius`` spreads one spawn's creatures wider; the others keep theirs."""
    wide = resolve(CLASSIC, [decode_overrides({"spawns": {WOLVES: {"wander_radius": 250.0}}})])
    wolves, before = _spawn(wide, WOLVES), _spawn(CLASSIC, WOLVES)
    assert wolves is not None
    assert before is not None
    assert wolves.wander_radius == 250.0 != before.wander_radius
    assert wolves.count == before.count
    assert [s.wander_radius for s in wide.spawns if s.name != WOLVES] == [
        s.wander_radius for s in CLASSIC.spawns if s.name != WOLVES
    ]


def test_later_patch_can_re_enable_a_spawn() -> None:
    """``enabled: true`` in a later patch brings back a spawn an earlier patch disabled."""
    off = decode_overrides({"spawns": {WOLVES: {"enabled": False}}})
    on = decode_overrides({"spawns": {WOLVES: {"enabled": True}}})
    assert _spawn(resolve(CLASSIC, [off, on]), WOLVES) is not None
    assert _spawn(resolve(CLASSIC, [on, off]), WOLVES) is None


def test_phase_gates() -> None:
    """A spawn gated at phase 2 appears from realm phase 2 on, not before."""
    gate = decode_overrides({"spawns": {BOSS: {"phase": 2}}})
    assert _spawn(resolve(CLASSIC, [gate], phase=0), BOSS) is None
    assert _spawn(resolve(CLASSIC, [gate], phase=1), BOSS) is None
    at_two = _spawn(resolve(CLASSIC, [gate], phase=2), BOSS)
    assert at_two is not None
    assert at_two.phase == 2
    assert _spawn(resolve(CLASSIC, [gate], phase=9), BOSS) is not None


def test_patch_can_open_a_phased_spawn_early() -> None:
    """Lowering a pack spawn's phase in a patch makes it appear at phase 0."""
    brood = "dunes-wyrm-brood"
    assert _spawn(resolve(FRONTIER, []), brood) is None
    early = decode_overrides({"spawns": {brood: {"phase": 0}}})
    assert _spawn(resolve(FRONTIER, [early]), brood) is not None


def test_phase_outside_range_is_refused() -> None:
    """A realm phase below 0 or above 1000 is an invalid input, not an empty pack."""
    for phase in (-1, 1001):
        with pytest.raises(InvalidInput):
            resolve(CLASSIC, [], phase=phase)


def test_loot_rate_multiplies_and_caps_at_one() -> None:
    """loot_rate multiplies every chance and no chance goes above 1."""
    resolved = resolve(CLASSIC, [decode_overrides({"loot_rate": 3.0})])
    # table 1: 0.5, 0.3, 0.4, 0.02
    assert _chances(resolved.loot_tables[1]) == pytest.approx([1.0, 0.9, 1.0, 0.06])
    for table in resolved.loot_tables.values():
        assert all(0.0 <= c <= 1.0 for c in _chances(table))
    assert _chances(CLASSIC.loot_tables[1]) == [0.5, 0.3, 0.4, 0.02]


def test_table_multiplier_applies_on_top_of_rate() -> None:
    """A per-table multiplier stacks with loot_rate for that table only."""
    patch = decode_overrides({"loot_rate": 2.0, "loot_tables": {"6": 1.5}})
    resolved = resolve(CLASSIC, [patch])
    # table 6: 0.25, 0.5, 0.5 at x3
    assert _chances(resolved.loot_tables[6]) == pytest.approx([0.75, 1.0, 1.0])
    assert _chances(resolved.loot_tables[5]) == pytest.approx([1.0, 0.04, 0.4])


def test_unpatched_records_are_shared() -> None:
    """Resolve copies the containers but shares every record no patch touches."""
    patch = decode_overrides({"creatures": {"1": {"hp": 70}}, "spawns": {BOSS: {"count": 2}}})
    resolved = resolve(CLASSIC, [patch, patch, patch])
    assert resolved.maps == CLASSIC.maps
    assert resolved.maps is not CLASSIC.maps
    assert all(resolved.maps[k] is CLASSIC.maps[k] for k in CLASSIC.maps)
    untouched = [s for s in CLASSIC.spawns if s.name != BOSS]
    assert all(any(r is s for r in resolved.spawns) for s in untouched)


# --- properties -------------------------------------------------------------


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(UNSET), strategy)


def _floats(lo: float, hi: float, *, exclude_min: bool = False) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, exclude_min=exclude_min, allow_nan=False, allow_infinity=False)


RATES = _floats(0.0, 100.0, exclude_min=True)
CREATURE_PATCHES = st.builds(
    CreaturePatch,
    level=_maybe(st.integers(1, 100)),
    hp=_maybe(st.integers(1, 10_000_000)),
    damage=_maybe(st.integers(0, 1_000_000)),
    attack_speed=_maybe(_floats(0.1, 60.0)),
    move_speed=_maybe(_floats(0.0, 100.0, exclude_min=True)),
    aggro_radius=_maybe(_floats(0.0, 1e6)),
    leash=_maybe(_floats(0.0, 1e6, exclude_min=True)),
    respawn=_maybe(_floats(1.0, 86_400.0)),
    loot_table=_maybe(st.one_of(st.none(), st.sampled_from(sorted(CLASSIC.loot_tables)))),
)
SPAWN_PATCHES = st.builds(
    SpawnPatch,
    enabled=_maybe(st.booleans()),
    count=_maybe(st.integers(1, 10_000)),
    phase=_maybe(st.integers(0, 1000)),
)
PATCHES = st.builds(
    PatchOverrides,
    creatures=st.dictionaries(st.sampled_from(sorted(CLASSIC.creatures)), CREATURE_PATCHES),
    spawns=st.dictionaries(st.sampled_from([s.name for s in CLASSIC.spawns]), SPAWN_PATCHES),
    loot_rate=_maybe(RATES),
    loot_tables=st.dictionaries(st.sampled_from(sorted(CLASSIC.loot_tables)), RATES),
)
CHAINS = st.lists(PATCHES, max_size=4)
PHASES = st.integers(0, 1000)


@settings(max_examples=150, deadline=None)
@given(chain=CHAINS, phase=PHASES)
def test_resolve_keeps_base_and_bounds(chain: list[PatchOverrides], phase: int) -> None:
    """Resolve never changes the base pack, and every value stays within the schema bounds."""
    before = msgspec.json.encode(CLASSIC)
    resolved = resolve(CLASSIC, chain, phase)
    assert msgspec.json.encode(CLASSIC) == before
    for creature in resolved.creatures.values():
        msgspec.convert(msgspec.to_builtins(creature), CreatureTemplate)
        assert creature.loot_table is None or creature.loot_table in resolved.loot_tables
    for table in resolved.loot_tables.values():
        msgspec.convert(msgspec.to_builtins(table), LootTable)
    for spawn in resolved.spawns:
        msgspec.convert(msgspec.to_builtins(spawn), SpawnDef)
        assert spawn.phase <= phase


@settings(max_examples=150, deadline=None)
@given(chain=CHAINS, phase=PHASES)
def test_resolve_matches_a_last_write_wins_model(chain: list[PatchOverrides], phase: int) -> None:
    """Each value comes from the last patch that sets it, else from the pack."""
    creatures = {cid: msgspec.to_builtins(c) for cid, c in CLASSIC.creatures.items()}
    spawns = {s.name: {"enabled": True, "count": s.count, "phase": s.phase} for s in CLASSIC.spawns}
    rate, tables = 1.0, dict.fromkeys(CLASSIC.loot_tables, 1.0)
    for patch in chain:
        for cid, c in patch.creatures.items():
            creatures[cid].update(msgspec.to_builtins(c))
        for name, s in patch.spawns.items():
            spawns[name].update(msgspec.to_builtins(s))
        rate = rate if patch.loot_rate is UNSET else patch.loot_rate
        tables.update(patch.loot_tables)

    resolved = resolve(CLASSIC, chain, phase)

    assert {cid: msgspec.to_builtins(c) for cid, c in resolved.creatures.items()} == creatures
    kept = [
        (name, s["count"], s["phase"])
        for name, s in spawns.items()
        if s["enabled"] and s["phase"] <= phase
    ]
    assert [(s.name, s.count, s.phase) for s in resolved.spawns] == kept
    for tid, table in CLASSIC.loot_tables.items():
        expected = [min(1.0, c * rate * tables[tid]) for c in _chances(table)]
        assert _chances(resolved.loot_tables[tid]) == pytest.approx(expected)


@settings(max_examples=100, deadline=None)
@given(a=PATCHES, b=PATCHES, c=PATCHES, phase=PHASES)
def test_chain_equals_its_merged_parts(
    a: PatchOverrides, b: PatchOverrides, c: PatchOverrides, phase: int
) -> None:
    """Merging any prefix or suffix of a chain first resolves to the same pack."""
    whole = resolve(CLASSIC, [a, b, c], phase)
    assert resolve(CLASSIC, [merge_overrides([a, b]), c], phase) == whole
    assert resolve(CLASSIC, [a, merge_overrides([b, c])], phase) == whole
    assert resolve(CLASSIC, [merge_overrides([a, b, c])], phase) == whole


@settings(max_examples=100, deadline=None)
@given(patch=PATCHES)
def test_json_round_trip(patch: PatchOverrides) -> None:
    """A patch encoded to JSON decodes back to an equal patch."""
    assert decode_overrides(msgspec.json.encode(patch)) == patch
