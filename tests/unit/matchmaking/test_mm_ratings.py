"""Rated results: Elo between team averages, within the schema's bounds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.matchmaking.ratings import MAX_RATING, MIN_RATING, new_ratings

TEAMS = [[1, 2], [3, 4]]


def test_even_teams_move_by_half_k() -> None:
    """Equal teams: the winners gain 16, the losers lose 16, and won is set per team."""
    changes = new_ratings(TEAMS, dict.fromkeys((1, 2, 3, 4), 1500), winner=1)
    assert [(c.character_id, c.rating, c.won) for c in changes] == [
        (1, 1516, True),
        (2, 1516, True),
        (3, 1484, False),
        (4, 1484, False),
    ]


def test_upset_moves_more_than_expected_win() -> None:
    """Beating a stronger team gains more than beating a weaker one; a draw pulls the
    ratings together."""
    ratings = {1: 1400, 2: 1400, 3: 1600, 4: 1600}
    upset = new_ratings(TEAMS, ratings, winner=1)[0].rating - 1400
    expected = new_ratings(TEAMS, ratings, winner=2)[2].rating - 1600
    assert upset > expected > 0
    draw = {c.character_id: c.rating for c in new_ratings(TEAMS, ratings, winner=None)}
    assert draw[1] > 1400
    assert draw[3] < 1600


@given(
    st.lists(st.integers(MIN_RATING, MAX_RATING), min_size=4, max_size=4),
    st.sampled_from([None, 1, 2]),
)
def test_ratings_stay_in_bounds_and_sum_is_kept_for_equal_teams(
    values: list[int], winner: int | None
) -> None:
    """Every new rating is within the bounds; away from them, what one team gains the
    other loses (equal team sizes, up to rounding)."""
    ratings = dict(zip((1, 2, 3, 4), values, strict=True))
    changes = new_ratings(TEAMS, ratings, winner)
    assert all(MIN_RATING <= c.rating <= MAX_RATING for c in changes)
    if all(32 <= v <= MAX_RATING - 32 for v in values):
        delta = sum(c.rating - ratings[c.character_id] for c in changes)
        assert abs(delta) <= 2


def test_team_spawns_of_the_battleground() -> None:
    """Each team enters at its own spawn point of the map."""
    battleground = load_pack(classic_pack_path()).maps[3]
    assert (battleground.team_spawn(1), battleground.team_spawn(2)) == ("alliance", "horde")
