"""Properties of every lifecycle table: ``next_state`` follows it and only it."""

from __future__ import annotations

from enum import Enum
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realmkit.errors import IllegalTransition
from realmkit.lifecycle import assignment, instance, match, node, restart, ticket, trade

LIFECYCLES = {
    "instance": (instance, instance.InstanceState, instance.InstanceEvent),
    "assignment": (assignment, assignment.AssignmentState, assignment.AssignmentEvent),
    "node": (node, node.NodeState, node.NodeEvent),
    "ticket": (ticket, ticket.TicketState, ticket.TicketEvent),
    "match": (match, match.MatchState, match.MatchEvent),
    "restart": (restart, restart.RestartState, restart.RestartEvent),
    "trade": (trade, trade.TradeState, trade.TradeEvent),
}


def _reachable(lifecycle: ModuleType, start: Enum) -> set[Enum]:
    """The states the table's MOVES reach from ``start`` (``start`` included)."""
    seen, todo = {start}, [start]
    while todo:
        state = todo.pop()
        for a, b in lifecycle.MOVES:
            if a is state and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


@pytest.mark.parametrize("name", LIFECYCLES)
@given(data=st.data())
def test_events_only_visit_states_the_table_reaches(name: str, data: st.DataObject) -> None:
    """Any sequence of events, illegal ones refused, stays within what MOVES reaches,
    and every change of state it makes is one of MOVES."""
    lifecycle, states, events = LIFECYCLES[name]
    start = data.draw(st.sampled_from(list(states)))
    reachable = _reachable(lifecycle, start)
    state = start
    for event in data.draw(st.lists(st.sampled_from(list(events)), max_size=40)):
        if (state, event) not in lifecycle.TRANSITIONS:
            with pytest.raises(IllegalTransition) as refused:
                lifecycle.next_state(state, event)
            assert (refused.value.machine, refused.value.state) == (name, state.value)
            continue
        after = lifecycle.next_state(state, event)
        assert after is lifecycle.TRANSITIONS[state, event]
        assert after is state or (state, after) in lifecycle.MOVES
        assert after in reachable
        state = after


@pytest.mark.parametrize("name", LIFECYCLES)
def test_moves_are_the_pairs_the_table_produces(name: str) -> None:
    """MOVES is exactly the (from, to) changes ``next_state`` can make."""
    lifecycle, states, events = LIFECYCLES[name]
    produced = set()
    for state in states:
        for event in events:
            try:
                after = lifecycle.next_state(state, event)
            except IllegalTransition:
                continue
            if after is not state:
                produced.add((state, after))
    assert produced == set(lifecycle.MOVES)


@pytest.mark.parametrize("name", LIFECYCLES)
def test_every_event_is_used_and_every_state_named(name: str) -> None:
    """No event of the Enum is dead, and no state is unreachable from every other."""
    lifecycle, states, events = LIFECYCLES[name]
    assert {e for _, e in lifecycle.TRANSITIONS} == set(events)
    assert {s for s, _ in lifecycle.TRANSITIONS} | {b for _, b in lifecycle.MOVES} == set(states)
