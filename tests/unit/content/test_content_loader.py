"""The content loader: the classic pack, and errors that name file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from realmkit.content.loader import classic_pack_path, load_pack, pack_folder
from realmkit.errors import ContentError, UsageError


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    target = tmp_path / "classic"
    shutil.copytree(classic_pack_path(), target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_classic_pack_is_a_small_real_game() -> None:
    """classic has a continent with zones and hundreds of creatures, a dungeon, a BG, an arena."""
    pack = load_pack(classic_pack_path())
    kinds = {m.kind: m for m in pack.maps.values()}
    assert set(kinds) == {"continent", "dungeon", "battleground", "arena"}
    continent = kinds["continent"]
    assert len(continent.zones) >= 3
    assert sum(s.count for s in pack.spawns_on(continent.id)) >= 200
    assert any(p.to_map == kinds["dungeon"].id for p in continent.portals)
    assert kinds["dungeon"].max_players == 5
    by_kind = {a.kind: a for a in pack.activities.values()}
    assert [t.size for t in by_kind["battleground"].teams] == [10, 10]
    assert by_kind["dungeon"].teams[0].size == 5
    assert "arena" in by_kind


def test_wrong_type_names_file_and_field(pack_dir: Path) -> None:
    """A value of the wrong type is reported with its file and dotted field path."""
    _edit(pack_dir / "maps.toml", "tick_rate = 30", 'tick_rate = "fast"')
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.path.endswith("maps.toml")
    assert info.value.field == "maps[3].tick_rate"
    assert isinstance(info.value, UsageError)
    assert info.value.code == "BAD_CONTENT"


def test_out_of_range_value_names_field(pack_dir: Path) -> None:
    """A constraint violation (negative hp) names the creature's field."""
    _edit(pack_dir / "creatures.toml", "hp = 60", "hp = -5")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.path.endswith("creatures.toml")
    assert info.value.field == "creatures[0].hp"


def test_unknown_field_is_a_typo(pack_dir: Path) -> None:
    """An unknown key is rejected and named, so typos never pass silently."""
    _edit(pack_dir / "creatures.toml", "leash = 40.0", "leash = 40.0\nleesh = 3")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "creatures[0].leesh"


def test_missing_field_is_named(pack_dir: Path) -> None:
    """A missing required key is named with its record's path."""
    _edit(pack_dir / "creatures.toml", "respawn = 30.0\nloot_table = 1\n", "loot_table = 1\n")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "creatures[0].respawn"


def test_spawn_of_unknown_creature_names_spawn(pack_dir: Path) -> None:
    """A spawn naming a creature template that does not exist is a cross-record error."""
    _edit(pack_dir / "spawns.toml", "template = 1\n", "template = 99\n")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.path.endswith("spawns.toml")
    assert info.value.field == "spawns[0].template"


def test_portal_to_unknown_map(pack_dir: Path) -> None:
    """A portal leading to a missing map names the portal."""
    _edit(pack_dir / "maps.toml", "to_map = 2,", "to_map = 42,")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "maps[0].portals[0].to_map"


def test_duplicate_id_across_files(pack_dir: Path) -> None:
    """The same item id in two files is rejected in the second file."""
    (pack_dir / "zz_more.json").write_text('{"items": [{"id": 3, "name": "Second Tusk"}]}')
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.path.endswith("zz_more.json")
    assert info.value.field == "items[0].id"
    assert "items.toml" in info.value.detail


def test_json_files_are_loaded(pack_dir: Path) -> None:
    """JSON files contribute records like TOML files."""
    (pack_dir / "extra.json").write_text('{"items": [{"id": 500, "name": "Odd Coin"}]}')
    assert load_pack(pack_dir).items[500].name == "Odd Coin"


def test_syntax_error_names_file(pack_dir: Path) -> None:
    """A file that is not valid TOML is reported as a syntax error of that file."""
    (pack_dir / "items.toml").write_text("items = [ {id = 1, ")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.path.endswith("items.toml")
    assert info.value.field == "(syntax)"


def test_spawn_outside_bounds(pack_dir: Path) -> None:
    """A spawn placed outside its map is rejected with its position field."""
    _edit(pack_dir / "spawns.toml", "z = 10.0 }", "z = 9000.0 }")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "spawns[0].at"


def test_activity_on_wrong_map_kind(pack_dir: Path) -> None:
    """An arena activity pointing at the continent is rejected."""
    _edit(pack_dir / "activities.toml", "map = 4", "map = 1")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "activities[2].map"


def test_not_a_folder(tmp_path: Path) -> None:
    """Loading a path that is not a folder fails with the path."""
    with pytest.raises(ContentError) as info:
        load_pack(tmp_path / "missing")
    assert info.value.path.endswith("missing")


def test_classic_activities_have_queue_keys() -> None:
    """classic queues dungeon, battleground and two rated arenas under stable keys."""
    pack = load_pack(classic_pack_path())
    keys = {a.id: (a.key, a.rated) for a in pack.activities.values()}
    assert keys == {
        1: ("dungeon", False),
        2: ("battleground", False),
        3: ("arena2v2", True),
        4: ("arena3v3", True),
    }
    three = pack.activity("arena3v3")
    assert three is not None
    assert (three.kind, three.map, [t.size for t in three.teams]) == ("arena", 4, [3, 3])
    assert three.win_rule == pack.activities[3].win_rule
    assert three.duration == pack.activities[3].duration
    assert pack.activity("arena5v5") is None


def test_every_classic_spawn_has_a_unique_name() -> None:
    """Patches address classic spawns by name, so every one has its own."""
    pack = load_pack(classic_pack_path())
    names = [s.name for s in pack.spawns]
    assert all(names)
    assert len(set(names)) == len(names)


def test_duplicate_activity_key(pack_dir: Path) -> None:
    """Two activities queued under one key are rejected at the second one's key."""
    _edit(pack_dir / "activities.toml", 'key = "arena3v3"', 'key = "arena2v2"')
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.path.endswith("activities.toml")
    assert info.value.field == "activities[3].key"
    assert "arena2v2" in info.value.detail


def test_activity_key_is_required(pack_dir: Path) -> None:
    """An activity without a queue key is named by its missing field."""
    _edit(pack_dir / "activities.toml", 'key = "dungeon"\n', "")
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "activities[0].key"


def test_activity_key_spelling(pack_dir: Path) -> None:
    """A queue key outside lower-case letters, digits, - and _ is rejected."""
    _edit(pack_dir / "activities.toml", 'key = "dungeon"', 'key = "Dungeon Finder"')
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "activities[0].key"


def test_duplicate_spawn_name_across_files(pack_dir: Path) -> None:
    """A spawn name used twice is rejected where it appears the second time."""
    (pack_dir / "zz_more.json").write_text(
        '{"spawns": [{"name": "gloomdeep-vesh", "map": 2, "template": 10,'
        ' "at": {"x": 300.0, "y": 100.0}}]}'
    )
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.path.endswith("zz_more.json")
    assert info.value.field == "spawns[0].name"
    assert "spawns.toml" in info.value.detail


def test_spawn_name_spelling(pack_dir: Path) -> None:
    """A spawn name with capitals or spaces is rejected at its field."""
    _edit(pack_dir / "spawns.toml", '"greenhollow-wolves-1"', '"Greenhollow Wolves"')
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "spawns[0].name"


def test_unnamed_spawns_may_repeat(pack_dir: Path) -> None:
    """The empty name means unnamed: any number of spawns may leave it out."""
    text = (pack_dir / "spawns.toml").read_text()
    (pack_dir / "spawns.toml").write_text(
        "\n".join(line for line in text.splitlines() if not line.startswith("name = "))
    )
    pack = load_pack(pack_dir)
    assert all(s.name == "" for s in pack.spawns)


def test_spawn_phase_bounds(pack_dir: Path) -> None:
    """A spawn phase above 1000 is out of range and named."""
    _edit(
        pack_dir / "spawns.toml", "wander_radius = 15.0\n", "wander_radius = 15.0\nphase = 1001\n"
    )
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "spawns[0].phase"


def test_team_activity_needs_a_spawn_point_per_team(pack_dir: Path) -> None:
    """A battleground whose map has no spawn point for team 2 is rejected at that team."""
    _edit(pack_dir / "maps.toml", 'name = "horde", team = 2', 'name = "horde", team = 1')
    with pytest.raises(ContentError) as info:
        load_pack(pack_dir)
    assert info.value.field == "activities[1].teams[1]"


def test_frontier_pack_is_a_second_game() -> None:
    """frontier loads: two linked continents, a boss dungeon, a 5v5 BG, a rated 2v2 arena."""
    pack = load_pack(pack_folder("frontier"))
    assert pack.info.name == "frontier"
    continents = [m for m in pack.maps.values() if m.kind == "continent"]
    assert len(continents) == 2
    first, second = continents
    assert any(p.to_map == second.id for p in first.portals)
    assert any(p.to_map == first.id for p in second.portals)
    dungeon = next(m for m in pack.maps.values() if m.kind == "dungeon")
    assert any(p.to_map == dungeon.id for c in continents for p in c.portals)
    boss_hp = max(pack.creatures[s.template].hp for s in pack.spawns_on(dungeon.id))
    assert boss_hp >= 10 * min(c.hp for c in pack.creatures.values())
    assert all(30 <= c.level <= 50 for c in pack.creatures.values())
    assert len(pack.creatures) >= 10
    names = [s.name for s in pack.spawns]
    assert all(names)
    assert len(set(names)) == len(names)


def test_frontier_activities_and_team_spawns() -> None:
    """frontier queues dungeon, battleground (5v5) and rated arena2v2 on team-marked maps."""
    pack = load_pack(pack_folder("frontier"))
    shapes = {a.key: (a.kind, [t.size for t in a.teams], a.rated) for a in pack.activities.values()}
    assert shapes == {
        "dungeon": ("dungeon", [5], False),
        "battleground": ("battleground", [5, 5], False),
        "arena2v2": ("arena", [2, 2], True),
    }
    for key in ("battleground", "arena2v2"):
        activity = pack.activity(key)
        assert activity is not None
        teams = {p.team for p in pack.maps[activity.map].spawn_points}
        assert teams == {1, 2}
