"""Patches: data overrides a realm applies on top of its game's content pack.

A patch is one JSON object. Every key is optional; an empty object ``{}``
changes nothing::

    {
      "creatures": {"3": {"hp": 90, "damage": 8}},
      "spawns": {"greenhollow-wolves-1": {"enabled": false},
                 "ashen-cinders-2": {"count": 3, "phase": 2}},
      "loot_rate": 1.5,
      "loot_tables": {"6": 2.0}
    }

``creatures``
    By creature id. Any of ``level``, ``hp``, ``damage``, ``attack_speed``,
    ``move_speed``, ``aggro_radius``, ``leash``, ``respawn`` and
    ``loot_table`` (a loot table id, or ``null`` for no loot), with the same
    limits as in the pack's creature files.
``spawns``
    By spawn ``name`` (unnamed spawns cannot be patched). ``enabled: false``
    removes the spawn, ``count`` sets how many creatures it places,
    ``wander_radius`` how far from its point they are placed and wander, ``phase``
    the lowest realm phase at which it appears.
``loot_rate``
    Multiplies every drop chance of every loot table (0 < rate <= 100). A
    chance never goes above 1: a 60% drop at rate 2 becomes a certain drop.
``loot_tables``
    By loot table id, a multiplier applied on top of ``loot_rate``.

A realm runs its pack with a chain of patches, root first. A later patch
overrides an earlier one value by value: if the root sets a wolf's ``hp`` and
``damage`` and the next patch sets only its ``hp``, the wolf has the second
patch's ``hp`` and the root's ``damage``. ``loot_rate`` and each table's
multiplier are replaced the same way, not multiplied along the chain, so a
patch states the rate it wants whatever came before it.

Nothing here reads files or the clock: callers pass the bytes or the mapping
(from the store, an admin request, a file) and get a new ``ContentPack``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from realmkit.content.fields import split_validation_error
from realmkit.content.schema import (
    MAX_PHASE,
    AttackSpeed,
    ContentPack,
    Count,
    CreatureTemplate,
    Damage,
    Hp,
    Id,
    Level,
    LootTable,
    MoveSpeed,
    NonNegative,
    Phase,
    Positive,
    Respawn,
    SpawnDef,
    SpawnName,
)
from realmkit.errors import ContentError, InvalidInput

PATCH = "(patch)"
Rate = Annotated[float, msgspec.Meta(gt=0.0, le=100.0)]


class _Patch(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    """Base of patch records: an unknown key is a typo, so it is an error."""


class CreaturePatch(_Patch, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Replacement stats for one creature template; UNSET keeps the pack's value."""

    level: Level | UnsetType = UNSET
    hp: Hp | UnsetType = UNSET
    damage: Damage | UnsetType = UNSET
    attack_speed: AttackSpeed | UnsetType = UNSET
    move_speed: MoveSpeed | UnsetType = UNSET
    aggro_radius: NonNegative | UnsetType = UNSET
    leash: Positive | UnsetType = UNSET
    respawn: Respawn | UnsetType = UNSET
    loot_table: Id | UnsetType | None = UNSET


class SpawnPatch(_Patch, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A toggle, count, spread and phase gate for one named spawn; UNSET keeps the
    pack's value."""

    enabled: bool | UnsetType = UNSET
    count: Count | UnsetType = UNSET
    wander_radius: NonNegative | UnsetType = UNSET
    phase: Phase | UnsetType = UNSET


class PatchOverrides(_Patch, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One patch: every field optional, the default changes nothing."""

    creatures: dict[Id, CreaturePatch] = {}
    spawns: dict[SpawnName, SpawnPatch] = {}
    loot_rate: Rate | UnsetType = UNSET
    loot_tables: dict[Id, Rate] = {}


_CREATURE_FIELDS = CreaturePatch.__struct_fields__
_SPAWN_FIELDS = ("count", "wander_radius", "phase")


def empty_overrides() -> PatchOverrides:
    """A patch that changes nothing."""
    return PatchOverrides()


def decode_overrides(raw: bytes | str | Mapping[str, Any]) -> PatchOverrides:
    """Decode and bound-check one patch from JSON text or a mapping (keys may be str or int)."""
    if isinstance(raw, bytes | str):
        try:
            obj: Any = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise ContentError(PATCH, "(syntax)", str(exc)) from exc
    else:
        obj = raw
    return _convert(obj)


def _convert(obj: Any) -> PatchOverrides:
    try:
        # str_keys: JSON (and a JSONB column) can only spell creature ids as strings.
        return msgspec.convert(obj, PatchOverrides, str_keys=True)
    except msgspec.ValidationError as exc:
        field, detail = split_validation_error(str(exc))
        raise ContentError(PATCH, _name_the_key(obj, field), detail) from exc


def _name_the_key(obj: Any, field: str) -> str:
    """msgspec writes ``creatures[...].hp``; find which key it was, for the designer."""
    section, _, rest = field.partition("[...]")
    if not rest and not field.endswith("[...]"):
        return field
    entries = obj.get(section) if isinstance(obj, Mapping) else None
    if not isinstance(entries, Mapping):
        return field
    for key, value in entries.items():
        try:
            msgspec.convert({section: {key: value}}, PatchOverrides, str_keys=True)
        except msgspec.ValidationError:
            return f"{section}[{key}]{rest}"
    return field


def check_overrides(pack: ContentPack, overrides: PatchOverrides) -> None:
    """Raise ContentError naming the field when a patch refers to something ``pack`` lacks.

    Values are re-checked against their bounds too, so a patch built by hand in
    Python (not decoded) cannot slip an ``hp = 0`` past the schema.
    """
    _convert(msgspec.to_builtins(overrides))
    for cid, creature in overrides.creatures.items():
        if cid not in pack.creatures:
            raise ContentError(PATCH, f"creatures[{cid}]", f"no creature {cid} in {pack.info.name}")
        table = creature.loot_table
        if isinstance(table, int) and table not in pack.loot_tables:
            raise ContentError(PATCH, f"creatures[{cid}].loot_table", f"no loot table {table}")
    if overrides.spawns:
        names = {s.name for s in pack.spawns if s.name}
        for name in overrides.spawns:
            if name not in names:
                raise ContentError(PATCH, f"spawns[{name}]", f"no spawn named {name!r}")
    for tid in overrides.loot_tables:
        if tid not in pack.loot_tables:
            raise ContentError(PATCH, f"loot_tables[{tid}]", f"no loot table {tid}")


def merge_overrides(chain: Sequence[PatchOverrides]) -> PatchOverrides:
    """The one patch equal to applying ``chain`` in order (later values win)."""
    if len(chain) == 1:
        return chain[0]
    creatures: dict[int, CreaturePatch] = {}
    spawns: dict[str, SpawnPatch] = {}
    rate: float | UnsetType = UNSET
    tables: dict[int, float] = {}
    for patch in chain:
        for cid, c in patch.creatures.items():
            creatures[cid] = _layer(creatures.get(cid), c)
        for name, s in patch.spawns.items():
            spawns[name] = _layer(spawns.get(name), s)
        if not isinstance(patch.loot_rate, UnsetType):
            rate = patch.loot_rate
        tables.update(patch.loot_tables)
    return PatchOverrides(creatures=creatures, spawns=spawns, loot_rate=rate, loot_tables=tables)


_P = TypeVar("_P", CreaturePatch, SpawnPatch)


def _layer(below: _P | None, above: _P) -> _P:
    if below is None:
        return above
    changes = {f: v for f in above.__struct_fields__ if (v := getattr(above, f)) is not UNSET}
    return msgspec.structs.replace(below, **changes)


def resolve(pack: ContentPack, chain: Sequence[PatchOverrides], phase: int = 0) -> ContentPack:
    """A new pack: ``chain`` applied in order, then spawns gated above ``phase`` left out.

    ``pack`` is never changed; records no patch touches are shared with it
    (they are frozen). Raises ContentError for a patch naming what the pack
    lacks, InvalidInput for a phase outside 0..1000.
    """
    if not 0 <= phase <= MAX_PHASE:
        raise InvalidInput("phase", f"must be between 0 and {MAX_PHASE}")
    for i, patch in enumerate(chain):
        try:
            check_overrides(pack, patch)
        except ContentError as exc:
            raise ContentError(
                exc.path, exc.field, f"{exc.detail} (patch {i} of the chain)"
            ) from exc
    merged = merge_overrides(chain)
    return msgspec.structs.replace(
        pack,
        maps=dict(pack.maps),
        creatures=_creatures(pack.creatures, merged.creatures),
        spawns=_spawns(pack.spawns, merged.spawns, phase),
        items=dict(pack.items),
        loot_tables=_loot(pack.loot_tables, merged),
        spells=dict(pack.spells),
        activities=dict(pack.activities),
    )


def _creatures(
    base: dict[int, CreatureTemplate], patches: dict[int, CreaturePatch]
) -> dict[int, CreatureTemplate]:
    out = dict(base)
    for cid, patch in patches.items():
        changes = {f: v for f in _CREATURE_FIELDS if (v := getattr(patch, f)) is not UNSET}
        if changes:
            out[cid] = msgspec.structs.replace(out[cid], **changes)
    return out


def _spawns(base: list[SpawnDef], patches: dict[str, SpawnPatch], phase: int) -> list[SpawnDef]:
    out = []
    for spawn in base:
        patch = patches.get(spawn.name) if spawn.name else None
        if patch is not None:
            if patch.enabled is False:
                continue
            changes = {f: v for f in _SPAWN_FIELDS if (v := getattr(patch, f)) is not UNSET}
            if changes:
                spawn = msgspec.structs.replace(spawn, **changes)
        if spawn.phase <= phase:
            out.append(spawn)
    return out


def _loot(base: dict[int, LootTable], merged: PatchOverrides) -> dict[int, LootTable]:
    rate = 1.0 if isinstance(merged.loot_rate, UnsetType) else merged.loot_rate
    out = dict(base)
    for tid, table in base.items():
        factor = rate * merged.loot_tables.get(tid, 1.0)
        # A factor of exactly 1 keeps the table object, so an empty chain is identity.
        if factor == 1.0:
            continue
        entries = [
            msgspec.structs.replace(e, chance=min(1.0, e.chance * factor)) for e in table.entries
        ]
        out[tid] = msgspec.structs.replace(table, entries=entries)
    return out
