"""The content loader: the classic pack, and errors that name file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from realmkit.content.loader import classic_pack_path, load_pack
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
