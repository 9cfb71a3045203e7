"""The ticket lifecycle: legal moves only, done and cancelled final, same table as PostgreSQL."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

import realmkit
from realmkit.errors import IllegalTransition
from realmkit.lifecycle.ticket import (
    LIVE,
    MOVES,
    TRANSITIONS,
    TicketEvent,
    TicketState,
    check_move,
    next_state,
    sources,
)
from realmkit.lifecycle.ticket import (
    target as target_of,
)

T = TicketState
E = TicketEvent
MIGRATIONS = Path(realmkit.__file__).parent / "store" / "migrations"


def test_the_happy_path_is_legal() -> None:
    """queued -> proposed -> accepted -> in_match -> done."""
    for current, target in itertools.pairwise(
        [T.QUEUED, T.PROPOSED, T.ACCEPTED, T.IN_MATCH, T.DONE]
    ):
        check_move(current, target)


@pytest.mark.parametrize("state", [T.PROPOSED, T.ACCEPTED])
def test_a_failed_proposal_puts_the_others_back_in_the_queue(state: T) -> None:
    """Another ticket declining sends proposed/accepted tickets back to queued."""
    check_move(state, T.QUEUED)


@pytest.mark.parametrize("state", [T.QUEUED, T.PROPOSED, T.ACCEPTED, T.IN_MATCH])
def test_every_live_state_can_be_cancelled(state: T) -> None:
    """Leaving, declining or timing out cancels a live ticket."""
    check_move(state, T.CANCELLED)


@pytest.mark.parametrize("final", [T.DONE, T.CANCELLED])
def test_done_and_cancelled_are_final(final: T) -> None:
    """Nothing leaves done or cancelled; the error names the machine and both states."""
    for target in T:
        with pytest.raises(IllegalTransition) as info:
            check_move(final, target)
        assert (info.value.machine, info.value.state, info.value.target) == (
            "ticket",
            final.value,
            target.value,
        )


def test_shortcuts_are_refused() -> None:
    """A ticket cannot skip the proposal or go back from a running match."""
    for current, target in [
        (T.QUEUED, T.ACCEPTED),
        (T.QUEUED, T.IN_MATCH),
        (T.QUEUED, T.DONE),
        (T.PROPOSED, T.IN_MATCH),
        (T.IN_MATCH, T.QUEUED),
        (T.ACCEPTED, T.PROPOSED),
    ]:
        with pytest.raises(IllegalTransition):
            check_move(current, target)


def test_states_are_the_database_values() -> None:
    """The enum's values are exactly the tickets.state CHECK values; the table covers them."""
    assert {s.value for s in T} == {
        "queued",
        "proposed",
        "accepted",
        "in_match",
        "done",
        "cancelled",
    }
    assert {s for move in MOVES for s in move} == set(T)


def test_the_table_matches_the_migration() -> None:
    """TICKET_MOVES equals the rows of matchmaking.ticket_moves in the SQL migrations."""
    rows: set[tuple[str, str]] = set()
    for path in sorted(MIGRATIONS.glob("*.sql")):
        sql = path.read_text()
        for block in re.findall(
            r"INSERT INTO matchmaking\.ticket_moves[^;]*VALUES(.*?);", sql, flags=re.S
        ):
            rows |= set(re.findall(r"\('(\w+)',\s*'(\w+)'\)", block))
    in_python = {(a.value, b.value) for a, b in MOVES}
    assert rows == in_python


def test_the_events_walk_the_happy_path() -> None:
    """propose, accept, start, finish take a queued ticket to done."""
    state = T.QUEUED
    for event in [E.PROPOSE, E.ACCEPT, E.START, E.FINISH]:
        state = next_state(state, event)
    assert state is T.DONE


def test_an_event_the_table_lacks_raises() -> None:
    """A queued ticket cannot be started; the error names the machine, state and event."""
    with pytest.raises(IllegalTransition) as info:
        next_state(T.QUEUED, E.START)
    assert (info.value.machine, info.value.state, info.value.target) == (
        "ticket",
        "queued",
        "start",
    )


def test_every_event_leads_to_one_state() -> None:
    """Rule 6: whatever it comes from, an event reaches one state (the compare-and-set
    updates of the repositories rely on it)."""
    for event in E:
        assert sources(event), event
        assert {TRANSITIONS[s, event] for s in sources(event)} == {target_of(event)}


def test_a_ticket_in_a_match_is_not_left_or_logged_out() -> None:
    """Rule 3: leaving or logging out cancels a waiting or proposed ticket, never one
    in its match; only a full set of accepts or a decline answers a proposal."""
    assert set(sources(E.LEAVE)) == {T.QUEUED, T.PROPOSED, T.ACCEPTED}
    assert set(sources(E.LOG_OUT)) == {T.QUEUED, T.PROPOSED}
    assert set(sources(E.ACCEPT)) == set(sources(E.DECLINE)) == {T.PROPOSED, T.ACCEPTED}


def test_live_states_are_those_with_a_way_out() -> None:
    """Rule 5: done and cancelled are the only final states."""
    assert set(LIVE) == set(T) - {T.DONE, T.CANCELLED}
