"""The match lifecycle: legal moves only, done and cancelled final, same table as PostgreSQL."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

import realmkit
from realmkit.errors import IllegalTransition
from realmkit.lifecycle.match import (
    LIVE,
    MOVES,
    TRANSITIONS,
    MatchEvent,
    MatchState,
    check_move,
    next_state,
    sources,
    target,
)

M = MatchState
E = MatchEvent
MIGRATIONS = Path(realmkit.__file__).parent / "store" / "migrations"


def test_the_happy_path_is_legal() -> None:
    """proposed -> accepted -> running -> done, by accept, start and finish."""
    for current, nxt in itertools.pairwise([M.PROPOSED, M.ACCEPTED, M.RUNNING, M.DONE]):
        check_move(current, nxt)
    state = M.PROPOSED
    for event in [E.ACCEPT, E.START, E.FINISH]:
        state = next_state(state, event)
    assert state is M.DONE


@pytest.mark.parametrize("state", [M.PROPOSED, M.ACCEPTED])
def test_a_match_not_running_yet_can_be_called_off(state: M) -> None:
    """Rule 3: a decline, a timeout or a failed start cancels it."""
    assert next_state(state, E.CALL_OFF) is M.CANCELLED


def test_a_running_match_is_never_cancelled() -> None:
    """Rule 4: it ends with a result or as a draw, never cancelled."""
    with pytest.raises(IllegalTransition) as info:
        next_state(M.RUNNING, E.CALL_OFF)
    assert (info.value.machine, info.value.state, info.value.target) == (
        "match",
        "running",
        "call_off",
    )
    with pytest.raises(IllegalTransition):
        check_move(M.RUNNING, M.CANCELLED)


@pytest.mark.parametrize("final", [M.DONE, M.CANCELLED])
def test_done_and_cancelled_are_final(final: M) -> None:
    """Rule 5: nothing leaves done or cancelled."""
    for event in E:
        with pytest.raises(IllegalTransition):
            next_state(final, event)
    for other in M:
        with pytest.raises(IllegalTransition):
            check_move(final, other)
    assert final not in LIVE


def test_a_proposal_cannot_start_before_it_is_accepted() -> None:
    """Rule 2: proposed -> running is refused."""
    with pytest.raises(IllegalTransition):
        next_state(M.PROPOSED, E.START)


def test_every_event_leads_to_one_state() -> None:
    """Rule 6: the repositories' compare-and-set updates rely on it."""
    for event in E:
        assert {TRANSITIONS[s, event] for s in sources(event)} == {target(event)}


def test_states_are_the_database_values() -> None:
    """The enum's values are exactly the matches.state CHECK values; the table covers them."""
    assert {s.value for s in M} == {"proposed", "accepted", "running", "done", "cancelled"}
    assert {s for move in MOVES for s in move} == set(M)


def test_the_table_matches_the_migration() -> None:
    """MOVES equals the rows of matchmaking.match_moves in the SQL migrations."""
    rows: set[tuple[str, str]] = set()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        for block in re.findall(
            r"INSERT INTO matchmaking\.match_moves[^;]*VALUES(.*?);", path.read_text(), flags=re.S
        ):
            rows |= set(re.findall(r"\('(\w+)',\s*'(\w+)'\)", block))
    assert rows == {(a.value, b.value) for a, b in MOVES}
