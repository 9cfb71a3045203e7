"""The typed shape of a content pack: every data file decodes into these Structs.

Field constraints live in the types (``Meta``) so msgspec reports the exact
path of a bad value; rules that span records or files (a spawn naming a
creature that exists, a portal leading to a map that exists) are checked by
``realmkit.content.loader``. Distances are world units (about a metre), times
are seconds, speeds are units per second.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Id = Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Coord = Annotated[float, msgspec.Meta(ge=-1e6, le=1e6)]
Positive = Annotated[float, msgspec.Meta(gt=0, le=1e6)]
NonNegative = Annotated[float, msgspec.Meta(ge=0, le=1e6)]
Count = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
# A realm's phase only ever grows; 1000 leaves room for years of content drops.
MAX_PHASE = 1000
Phase = Annotated[int, msgspec.Meta(ge=0, le=MAX_PHASE)]
# Keys and spawn names are written by designers and patches refer to them, so
# they are kept to one spelling: lower case, digits, ``-`` and ``_``.
ActivityKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
SpawnName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_-]{0,47}$")]
# Creature stats are named so a patch shares the template's bounds exactly.
Level = Annotated[int, msgspec.Meta(ge=1, le=100)]
Hp = Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
Damage = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
AttackSpeed = Annotated[float, msgspec.Meta(ge=0.1, le=60.0)]
MoveSpeed = Annotated[float, msgspec.Meta(gt=0.0, le=100.0)]
Respawn = Annotated[float, msgspec.Meta(ge=1.0, le=86_400.0)]

MapKind = Literal["continent", "dungeon", "battleground", "arena"]
ActivityKind = Literal["dungeon", "battleground", "arena"]
SpellKind = Literal["damage", "heal"]
Role = Literal["tank", "healer", "damage", "any"]
WinRule = Literal["boss_killed", "score_limit", "last_team_standing"]


class _Record(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Base of every record: unknown fields are typos, so they are errors."""


class Point(_Record, frozen=True, forbid_unknown_fields=True):
    x: Coord
    y: Coord
    z: Coord = 0.0
    o: Annotated[float, msgspec.Meta(ge=-7.0, le=7.0)] = 0.0


class Area(_Record, frozen=True, forbid_unknown_fields=True):
    """An axis-aligned rectangle on the ground plane."""

    min_x: Coord
    min_y: Coord
    max_x: Coord
    max_y: Coord

    def contains(self, x: float, y: float) -> bool:
        return self.min_x <= x <= self.max_x and self.min_y <= y <= self.max_y


class Bounds(_Record, frozen=True, forbid_unknown_fields=True):
    min_x: Coord
    min_y: Coord
    max_x: Coord
    max_y: Coord
    min_z: Coord = -1000.0
    max_z: Coord = 1000.0


class Zone(_Record, frozen=True, forbid_unknown_fields=True):
    id: Id
    name: Name
    area: Area
    min_level: Annotated[int, msgspec.Meta(ge=1, le=100)] = 1
    max_level: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100


class SpawnPoint(_Record, frozen=True, forbid_unknown_fields=True):
    """Where players enter the map; ``team`` 0 means any team."""

    name: Name
    at: Point
    team: Annotated[int, msgspec.Meta(ge=0, le=8)] = 0


class Graveyard(_Record, frozen=True, forbid_unknown_fields=True):
    name: Name
    at: Point


class Portal(_Record, frozen=True, forbid_unknown_fields=True):
    """An area that, once entered, leads to ``to_map`` at ``to_spawn``."""

    id: Id
    name: Name
    area: Area
    to_map: Id
    to_spawn: Name


class MapDef(_Record, frozen=True, forbid_unknown_fields=True):
    id: Id
    name: Name
    kind: MapKind
    bounds: Bounds
    tick_rate: Annotated[int, msgspec.Meta(ge=1, le=60)]
    max_players: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    # Frames to the gateways per second (at most one per tick): the tick keeps
    # the rules' pace, the frames the network's. A frame comes every
    # round(tick_rate / frame_rate) ticks: choose a divisor of the tick rate.
    frame_rate: Annotated[int, msgspec.Meta(ge=1, le=60)] = 10
    view_radius: Positive = 80.0
    view_hysteresis: NonNegative = 5.0
    max_visible: Annotated[int, msgspec.Meta(ge=1, le=4096)] = 128
    spawn_points: list[SpawnPoint] = []
    graveyards: list[Graveyard] = []
    portals: list[Portal] = []
    zones: list[Zone] = []

    def team_spawn(self, team: int) -> str:
        """The spawn point of team ``team`` (1-based), else one for any team."""
        for wanted in (team, 0):
            for point in self.spawn_points:
                if point.team == wanted:
                    return point.name
        return self.spawn_points[0].name


class LootEntry(_Record, frozen=True, forbid_unknown_fields=True):
    """One roll: ``chance`` in [0, 1] to drop between min and max of ``item``."""

    item: Id
    chance: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    min_count: Count = 1
    max_count: Count = 1


class LootTable(_Record, frozen=True, forbid_unknown_fields=True):
    id: Id
    name: Name
    entries: list[LootEntry]


class ItemTemplate(_Record, frozen=True, forbid_unknown_fields=True):
    id: Id
    name: Name
    quality: Literal["poor", "common", "uncommon", "rare", "epic"] = "common"
    slot: Literal["none", "head", "chest", "legs", "hands", "feet", "weapon", "trinket"] = "none"
    stack: Count = 1


class CreatureTemplate(_Record, frozen=True, forbid_unknown_fields=True):
    id: Id
    name: Name
    level: Level
    hp: Hp
    damage: Damage
    attack_speed: AttackSpeed
    move_speed: MoveSpeed
    aggro_radius: NonNegative
    leash: Positive
    respawn: Respawn
    loot_table: Id | None = None


class SpawnDef(_Record, frozen=True, forbid_unknown_fields=True):
    """``count`` creatures of ``template`` placed within ``wander_radius`` of ``at``.

    ``name`` is how patches refer to the spawn (unnamed spawns cannot be
    patched); ``phase`` is the lowest realm phase at which it appears.
    """

    map: Id
    template: Id
    at: Point
    count: Count = 1
    wander_radius: NonNegative = 10.0
    name: Annotated[str, msgspec.Meta(pattern=r"^(?:[a-z][a-z0-9_-]{0,47})?$")] = ""
    phase: Phase = 0


class SpellDef(_Record, frozen=True, forbid_unknown_fields=True):
    id: Id
    name: Name
    kind: SpellKind
    amount: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
    range: Positive
    cooldown: Annotated[float, msgspec.Meta(ge=0.0, le=3600.0)]


class PlayerRules(_Record, frozen=True, forbid_unknown_fields=True):
    """The rules every player character follows (one class, kept small)."""

    run_speed: Annotated[float, msgspec.Meta(gt=0.0, le=100.0)]
    walk_speed: Annotated[float, msgspec.Meta(gt=0.0, le=100.0)]
    vertical_speed: Annotated[float, msgspec.Meta(gt=0.0, le=1000.0)]
    base_hp: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)]
    hp_per_level: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    melee_damage: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    melee_range: Positive
    attack_speed: Annotated[float, msgspec.Meta(ge=0.1, le=60.0)]
    release_hp_fraction: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]
    say_range: Positive
    yell_range: Positive
    spells: list[Id]


class TeamShape(_Record, frozen=True, forbid_unknown_fields=True):
    """Roles per team; a role count of 0 is left out."""

    size: Annotated[int, msgspec.Meta(ge=1, le=80)]
    roles: dict[Role, Annotated[int, msgspec.Meta(ge=0, le=80)]] = {}


class ActivityDef(_Record, frozen=True, forbid_unknown_fields=True):
    """A queueable activity; ``key`` is its matchmaking queue name within the pack."""

    id: Id
    key: ActivityKey
    name: Name
    kind: ActivityKind
    map: Id
    teams: Annotated[list[TeamShape], msgspec.Meta(min_length=1, max_length=8)]
    duration: Annotated[float, msgspec.Meta(ge=10.0, le=86_400.0)]
    win_rule: WinRule
    score_limit: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    rated: bool = False


class PackInfo(_Record, frozen=True, forbid_unknown_fields=True):
    name: Name
    version: Name


class PackFile(_Record, frozen=True, forbid_unknown_fields=True):
    """What any one data file may hold; the pack is the union of its files."""

    pack: PackInfo | None = None
    player: PlayerRules | None = None
    maps: list[MapDef] = []
    creatures: list[CreatureTemplate] = []
    spawns: list[SpawnDef] = []
    items: list[ItemTemplate] = []
    loot_tables: list[LootTable] = []
    spells: list[SpellDef] = []
    activities: list[ActivityDef] = []


class ContentPack(msgspec.Struct, frozen=True):
    """A validated pack: records by id, spawns in file order."""

    info: PackInfo
    player: PlayerRules
    maps: dict[int, MapDef]
    creatures: dict[int, CreatureTemplate]
    spawns: list[SpawnDef]
    items: dict[int, ItemTemplate]
    loot_tables: dict[int, LootTable]
    spells: dict[int, SpellDef]
    activities: dict[int, ActivityDef]

    def spawns_on(self, map_id: int) -> list[SpawnDef]:
        """The spawns placed on one map, in pack order."""
        return [s for s in self.spawns if s.map == map_id]

    def activity(self, key: str) -> ActivityDef | None:
        """The activity queued under ``key``, or None."""
        # A pack has a handful of activities: a scan beats keeping an index in sync.
        return next((a for a in self.activities.values() if a.key == key), None)
