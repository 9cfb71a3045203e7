"""Load a content pack folder into a validated ``ContentPack``.

A pack is a folder of ``.toml`` / ``.json`` files (read recursively, in sorted
path order so loading is deterministic). Each file may hold any of the record
lists of ``PackFile``; exactly one file holds ``[pack]`` and ``[player]``.
Every failure is a ``ContentError`` naming the file and the field, so a
designer can fix the pack without reading Python.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from realmkit.content.fields import split_validation_error
from realmkit.content.schema import (
    ContentPack,
    MapDef,
    PackFile,
    PackInfo,
    PlayerRules,
)
from realmkit.errors import ContentError

# (file, field) of every record, so cross-record errors can name where it came from.
_Origin = tuple[str, str]


_PACK_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


def pack_folder(name: str) -> Path:
    """The folder of a pack shipped inside the package, by name."""
    if not _PACK_NAME.match(name):
        raise ContentError(name, "(pack)", "not a pack name")
    return Path(str(resources.files("realmkit.content").joinpath("packs", name)))


def classic_pack_path() -> Path:
    """The folder of the ``classic`` pack shipped inside the package."""
    return pack_folder("classic")


def load_pack(folder: str | Path) -> ContentPack:
    """Read, decode and cross-check every data file of the pack in ``folder``."""
    root = Path(folder)
    if not root.is_dir():
        raise ContentError(str(root), "(pack)", "not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".toml", ".json") and p.is_file())
    if not files:
        raise ContentError(str(root), "(pack)", "no .toml or .json files")
    return _Builder().build([(str(p), _decode_file(p)) for p in files])


def _decode_file(path: Path) -> PackFile:
    raw = path.read_bytes()
    try:
        if path.suffix == ".toml":
            return msgspec.toml.decode(raw, type=PackFile)
        return msgspec.json.decode(raw, type=PackFile)
    except msgspec.ValidationError as exc:
        field, detail = split_validation_error(str(exc))
        raise ContentError(str(path), field, detail) from exc
    except msgspec.DecodeError as exc:
        raise ContentError(str(path), "(syntax)", str(exc)) from exc


class _Builder:
    """Merges decoded files and checks the rules that span records."""

    def __init__(self) -> None:
        self.origin: dict[tuple[str, int], _Origin] = {}

    def build(self, decoded: list[tuple[str, PackFile]]) -> ContentPack:
        info: tuple[str, PackInfo] | None = None
        player: tuple[str, PlayerRules] | None = None
        tables: dict[str, dict[int, Any]] = {
            k: {} for k in ("maps", "creatures", "items", "loot_tables", "spells", "activities")
        }
        spawns: list[tuple[_Origin, Any]] = []
        for path, pf in decoded:
            if pf.pack is not None:
                if info is not None:
                    raise ContentError(path, "pack", f"[pack] already defined in {info[0]}")
                info = (path, pf.pack)
            if pf.player is not None:
                if player is not None:
                    raise ContentError(path, "player", f"[player] already defined in {player[0]}")
                player = (path, pf.player)
            for kind, table in tables.items():
                for i, rec in enumerate(getattr(pf, kind)):
                    key = (kind, rec.id)
                    if rec.id in table:
                        first = self.origin[key]
                        raise ContentError(
                            path, f"{kind}[{i}].id", f"duplicate id {rec.id} (first in {first[0]})"
                        )
                    table[rec.id] = rec
                    self.origin[key] = (path, f"{kind}[{i}]")
            spawns.extend(((path, f"spawns[{i}]"), s) for i, s in enumerate(pf.spawns))
        if info is None:
            raise ContentError(decoded[0][0], "pack", "no file defines [pack]")
        if player is None:
            raise ContentError(info[0], "player", "no file defines [player]")
        pack = ContentPack(
            info=info[1],
            player=player[1],
            maps=tables["maps"],
            creatures=tables["creatures"],
            spawns=[s for _, s in spawns],
            items=tables["items"],
            loot_tables=tables["loot_tables"],
            spells=tables["spells"],
            activities=tables["activities"],
        )
        self._check(pack, player[0], spawns)
        return pack

    def _where(self, kind: str, rid: int) -> _Origin:
        return self.origin[(kind, rid)]

    def _check(
        self, pack: ContentPack, player_file: str, spawns: list[tuple[_Origin, Any]]
    ) -> None:
        rules = pack.player
        if rules.walk_speed > rules.run_speed:
            raise ContentError(player_file, "player.walk_speed", "faster than run_speed")
        for i, sid in enumerate(rules.spells):
            if sid not in pack.spells:
                raise ContentError(player_file, f"player.spells[{i}]", f"no spell {sid}")
        for m in pack.maps.values():
            self._check_map(pack, m)
        for c in pack.creatures.values():
            if c.loot_table is not None and c.loot_table not in pack.loot_tables:
                path, field = self._where("creatures", c.id)
                raise ContentError(path, f"{field}.loot_table", f"no loot table {c.loot_table}")
        for t in pack.loot_tables.values():
            path, field = self._where("loot_tables", t.id)
            for i, e in enumerate(t.entries):
                if e.item not in pack.items:
                    raise ContentError(path, f"{field}.entries[{i}].item", f"no item {e.item}")
                if e.min_count > e.max_count:
                    raise ContentError(
                        path, f"{field}.entries[{i}].min_count", "greater than max_count"
                    )
        named: dict[str, str] = {}
        for (path, field), s in spawns:
            if s.name:
                if s.name in named:
                    raise ContentError(
                        path,
                        f"{field}.name",
                        f"duplicate spawn name {s.name!r} (first in {named[s.name]})",
                    )
                named[s.name] = path
            if s.map not in pack.maps:
                raise ContentError(path, f"{field}.map", f"no map {s.map}")
            if s.template not in pack.creatures:
                raise ContentError(path, f"{field}.template", f"no creature {s.template}")
            if not _inside(pack.maps[s.map], s.at.x, s.at.y, s.at.z):
                raise ContentError(path, f"{field}.at", f"outside the bounds of map {s.map}")
        self._check_activities(pack)

    def _check_activities(self, pack: ContentPack) -> None:
        keys: dict[str, str] = {}
        for a in pack.activities.values():
            path, field = self._where("activities", a.id)
            if a.key in keys:
                raise ContentError(
                    path,
                    f"{field}.key",
                    f"duplicate activity key {a.key!r} (first in {keys[a.key]})",
                )
            keys[a.key] = path
            target = pack.maps.get(a.map)
            if target is None:
                raise ContentError(path, f"{field}.map", f"no map {a.map}")
            if target.kind != a.kind:
                raise ContentError(path, f"{field}.map", f"map {a.map} is a {target.kind}")
            if sum(t.size for t in a.teams) > target.max_players:
                raise ContentError(path, f"{field}.teams", "more players than the map allows")
            teams_here = {p.team for p in target.spawn_points}
            for ti, team in enumerate(a.teams):
                if sum(team.roles.values()) > team.size:
                    raise ContentError(path, f"{field}.teams[{ti}].roles", "more roles than size")
                # Team n (1-based) enters at the spawn points marked ``team = n``; a
                # one-team activity may use the map's any-team points instead.
                if ti + 1 not in teams_here and not (len(a.teams) == 1 and 0 in teams_here):
                    raise ContentError(
                        path,
                        f"{field}.teams[{ti}]",
                        f"map {a.map} has no spawn point for team {ti + 1}",
                    )
            if a.win_rule == "score_limit" and a.score_limit == 0:
                raise ContentError(path, f"{field}.score_limit", "required by win_rule")

    def _check_map(self, pack: ContentPack, m: MapDef) -> None:
        path, field = self._where("maps", m.id)
        b = m.bounds
        if b.min_x >= b.max_x or b.min_y >= b.max_y or b.min_z >= b.max_z:
            raise ContentError(path, f"{field}.bounds", "min must be below max")
        if not m.spawn_points:
            raise ContentError(path, f"{field}.spawn_points", "a map needs a spawn point")
        if not m.graveyards:
            raise ContentError(path, f"{field}.graveyards", "a map needs a graveyard")
        named = [("spawn_points", p.name, p.at) for p in m.spawn_points] + [
            ("graveyards", g.name, g.at) for g in m.graveyards
        ]
        for i, (kind, _, at) in enumerate(named):
            if not _inside(m, at.x, at.y, at.z):
                index = i if kind == "spawn_points" else i - len(m.spawn_points)
                raise ContentError(path, f"{field}.{kind}[{index}].at", "outside the map bounds")
        for i, portal in enumerate(m.portals):
            target = pack.maps.get(portal.to_map)
            if target is None:
                raise ContentError(path, f"{field}.portals[{i}].to_map", f"no map {portal.to_map}")
            if portal.to_spawn not in {p.name for p in target.spawn_points}:
                raise ContentError(
                    path,
                    f"{field}.portals[{i}].to_spawn",
                    f"map {portal.to_map} has no spawn point {portal.to_spawn!r}",
                )
        for i, z in enumerate(m.zones):
            if z.min_level > z.max_level:
                raise ContentError(path, f"{field}.zones[{i}].min_level", "above max_level")


def _inside(m: MapDef, x: float, y: float, z: float) -> bool:
    b = m.bounds
    return b.min_x <= x <= b.max_x and b.min_y <= y <= b.max_y and b.min_z <= z <= b.max_z
