"""What clients are shown of a content pack (``protocol.login.realm_content``): every
map, creature, item and spell of it, and nothing of the rules they do not draw."""

from __future__ import annotations

import msgspec
import pytest

from realmkit.content.loader import load_pack, pack_folder
from realmkit.content.patches import decode_overrides, resolve
from realmkit.protocol.login import RealmContent, realm_content


@pytest.mark.parametrize("name", ["classic", "frontier"])
def test_every_record_a_client_draws_is_shown_by_id(name: str) -> None:
    """Maps, creatures, items and spells of the pack, each once, in id order, with
    the fields a client needs; the JSON reads back as the same content."""
    pack = load_pack(pack_folder(name))
    view = realm_content(3, 0, 0, pack)
    assert [m.id for m in view.maps] == sorted(pack.maps)
    assert [c.id for c in view.creatures] == sorted(pack.creatures)
    assert [i.id for i in view.items] == sorted(pack.items)
    assert [s.id for s in view.spells] == sorted(pack.spells)
    for shown in view.maps:
        source = pack.maps[shown.id]
        assert (shown.name, shown.kind, shown.bounds) == (source.name, source.kind, source.bounds)
        assert shown.spawn_points == source.spawn_points
        assert shown.zones == source.zones
        assert [(p.area, p.to_map) for p in shown.portals] == [
            (p.area, p.to_map) for p in source.portals
        ]
    for creature in view.creatures:
        source_creature = pack.creatures[creature.id]
        assert (creature.name, creature.level, creature.hp) == (
            source_creature.name,
            source_creature.level,
            source_creature.hp,
        )
    data = msgspec.json.encode(view)
    assert msgspec.json.decode(data, type=RealmContent) == view
    for hidden in (b"loot", b'"damage":', b"aggro", b"respawn", b"wander", b"to_spawn"):
        assert hidden not in data


def test_a_patched_pack_shows_its_patched_values() -> None:
    """A creature a patch changed is shown as the patch made it."""
    base = load_pack(pack_folder("classic"))
    patched = resolve(base, [decode_overrides({"creatures": {"1": {"hp": 4321}}})], 0)
    assert realm_content(1, 7, 0, patched).creatures[0].hp == 4321
    assert realm_content(1, 0, 0, base).creatures[0].hp == base.creatures[1].hp
