"""A character's saved state crosses between the store and a space in one place."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from realmkit.store.records import Character, CharacterSave

_ints = st.integers(min_value=1, max_value=2**31 - 1)
_floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
characters = st.builds(
    Character,
    character_id=_ints,
    account_id=_ints,
    realm_id=_ints,
    name=st.text(min_size=1, max_size=12),
    level=_ints,
    hp=_ints,
    map_id=_ints,
    pos_x=_floats,
    pos_y=_floats,
    pos_z=_floats,
    orientation=_floats,
    save_epoch=_ints,
)


@given(characters)
def test_what_is_loaded_is_what_is_written_back(c: Character) -> None:
    """A character taken into a space and saved untouched saves its row's values."""
    assert CharacterSave.of(c.player_state()) == c.saved()


@given(characters)
def test_the_saved_part_is_the_rows_values(c: Character) -> None:
    """``saved()`` copies every field of the save from the row, by name."""
    row = msgspec.structs.asdict(c)
    saved = msgspec.structs.asdict(c.saved())
    assert saved == {field: row[field] for field in saved}


def test_the_space_gets_the_name_and_the_position() -> None:
    """The space sees the row's name, level, health, map and position."""
    c = Character(7, 1, 1, "Aria", 3, 140, 4, 10.0, 20.0, 1.5, 0.25, save_epoch=2)
    state = c.player_state()
    assert (state.name, state.level, state.hp, state.map_id) == ("Aria", 3, 140, 4)
    assert (state.x, state.y, state.z, state.orientation) == (10.0, 20.0, 1.5, 0.25)
    assert state.granted_items == []
