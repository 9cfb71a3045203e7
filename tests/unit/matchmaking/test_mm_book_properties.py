"""Properties of the leader's book under any order of joins, answers, leaves, logouts,
results, failed starts and clock steps; and the traces the search found, as examples."""

from __future__ import annotations

from collections import Counter

import pytest
from book_world import ACCEPT_TIMEOUT, TIME_LIMIT, World
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from realmkit.lifecycle import ticket as ticket_lifecycle
from realmkit.lifecycle.match import MatchState
from realmkit.lifecycle.ticket import TicketEvent, TicketState
from realmkit.matchmaking.commands import CallOff
from realmkit.protocol.client import MatchResult

LIVE_MATCH = {MatchState.PROPOSED, MatchState.ACCEPTED, MatchState.RUNNING}


def _accepted_pair(world: World) -> tuple[int, int, int]:
    """Two parties of two matched and all accepted: the match is starting."""
    first, second = world.join(2, 1400), world.join(2, 1400)
    world.round()
    (match_id,) = world.book.proposals
    for ticket_id in (first, second):
        for member in world.tickets[ticket_id].members:
            world.answer(ticket_id, member, True)
    assert match_id in world.book.starting
    assert world.matches[match_id].state is MatchState.ACCEPTED
    return match_id, first, second


@pytest.mark.parametrize("how", ["decline", "leave"])
def test_a_ticket_cancelled_while_its_match_starts_fails_the_start(how: str) -> None:
    """A ticket declined or left after everyone accepted calls the match off: its start
    then fails (no IllegalTransition cancelled -> start) and the others are requeued."""
    world = World()
    match_id, first, second = _accepted_pair(world)
    if how == "decline":
        world.answer(first, world.tickets[first].members[0], False)
    else:
        world.leave(first)
    assert world.matches[match_id].state is MatchState.CANCELLED
    assert world.state(first) is TicketState.CANCELLED
    assert world.state(second) is TicketState.QUEUED
    assert set(world.book.queue_of) == {second}
    told = world.delivered[-1]
    assert isinstance(told.message, MatchResult)
    assert told.message.outcome == "cancelled"
    assert sorted(told.members) == sorted(world.members_of(match_id))
    world.finish_starts()
    assert world.matches[match_id].state is MatchState.CANCELLED
    assert world.book.running == {}
    assert world.state(second) is TicketState.QUEUED
    assert set(world.book.queue_of) == {second}


def test_a_match_called_off_while_starting_leaves_nothing_starting() -> None:
    """The decline of an accepted ticket takes its match out of ``starting`` at once
    (a ``CallOff``, keeping the start's instance), and every proposal still ends."""
    world = World()
    match_id, first, _ = _accepted_pair(world)
    accepted = world.matches[match_id]
    world.answer(first, world.tickets[first].members[0], False)
    cancelled = world.tickets[first]
    assert world.book.starting == {}
    assert world.book.accepted_at == {}
    assert world.book.ticket_changed(cancelled) == []  # heard twice: nothing more
    fresh = World()
    fresh.book.adopt(accepted, world.now)
    assert fresh.book.ticket_changed(cancelled) == [CallOff(accepted, (cancelled,))]
    assert fresh.book.starting == {}
    world.round(ACCEPT_TIMEOUT)
    world.finish_starts()
    assert world.book.proposals == {}
    assert world.book.starting == {}
    assert world.prepared == set()


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.world = World()
        self.checked_proposals = 0

    # --- what happens ----------------------------------------------------------------

    @rule(size=st.integers(1, 2), rating=st.sampled_from([1400, 1500, 1600]))
    def join(self, size: int, rating: int) -> None:
        self.world.join(size, rating)

    def _in(self, *states: TicketState) -> list[int]:
        return sorted(t for t, v in self.world.tickets.items() if v.state in states)

    @precondition(lambda self: self._in(TicketState.PROPOSED, TicketState.ACCEPTED))
    @rule(data=st.data(), accept=st.booleans())
    def answer(self, data: st.DataObject, accept: bool) -> None:
        ticket_id = data.draw(st.sampled_from(self._in(TicketState.PROPOSED, TicketState.ACCEPTED)))
        member = data.draw(st.sampled_from(self.world.tickets[ticket_id].members))
        self.world.answer(ticket_id, member, accept)

    @precondition(lambda self: self.world.book.proposals)
    @rule(data=st.data())
    def everyone_accepts(self, data: st.DataObject) -> None:
        """Every member of one proposal accepts (answers one by one rarely all agree)."""
        match_id = data.draw(st.sampled_from(sorted(self.world.book.proposals)))
        for ticket_id in self.world.match_tickets[match_id]:
            for member in self.world.tickets[ticket_id].members:
                self.world.answer(ticket_id, member, True)

    @precondition(lambda self: self._in(*ticket_lifecycle.sources(TicketEvent.LEAVE)))
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        live = self._in(*ticket_lifecycle.sources(TicketEvent.LEAVE))
        self.world.leave(data.draw(st.sampled_from(live)))

    @precondition(lambda self: self._in(*ticket_lifecycle.sources(TicketEvent.LOG_OUT)))
    @rule(data=st.data())
    def log_out(self, data: st.DataObject) -> None:
        live = self._in(*ticket_lifecycle.sources(TicketEvent.LOG_OUT))
        self.world.log_out(data.draw(st.sampled_from(live)))

    @rule(advance=st.sampled_from([0.0, 1.0, 5.0, ACCEPT_TIMEOUT, TIME_LIMIT]))
    def round(self, advance: float) -> None:
        self.world.round(advance)

    @rule(fail=st.booleans())
    def starts_finish(self, fail: bool) -> None:
        self.world.fail_starts = fail
        self.world.finish_starts()

    @rule()
    def ends_finish(self) -> None:
        self.world.finish_ends()

    @precondition(lambda self: self.world.book.running)
    @rule(data=st.data(), winner=st.sampled_from([None, 1, 2]))
    def decide(self, data: st.DataObject, winner: int | None) -> None:
        match_id = data.draw(st.sampled_from(sorted(self.world.book.running)))
        self.world.decide(match_id, winner)

    @rule()
    def reconcile(self) -> None:
        self.world.reconcile()

    # --- what always holds ------------------------------------------------------------

    @invariant()
    def no_ticket_is_in_two_matches(self) -> None:
        """Rule 1: a ticket (and so a character) is in one live match at most, and then
        not in a queue."""
        world, book = self.world, self.world.book
        live = [m for m, v in world.matches.items() if v.state in LIVE_MATCH]
        tickets = Counter(t for m in live for t in world.match_tickets[m])
        assert all(n == 1 for n in tickets.values()), tickets
        characters = Counter(c for m in live for c in world.members_of(m))
        assert all(n == 1 for n in characters.values()), characters
        assert not set(tickets) & set(book.queue_of)
        held = [*book.proposals, *book.starting, *book.running, *book.ending]
        assert len(held) == len(set(held))

    @invariant()
    def a_party_is_never_split(self) -> None:
        """Rule 2: every member of a ticket is on the same team of its match."""
        world = self.world
        for propose in world.proposed[self.checked_proposals :]:
            team_of = {c: i for i, team in enumerate(propose.teams) for c in team}
            for ticket_id in propose.ticket_ids:
                teams = {team_of[c] for c in world.tickets[ticket_id].members}
                assert len(teams) == 1, (ticket_id, propose.teams)
        self.checked_proposals = len(world.proposed)

    @invariant()
    def the_book_agrees_with_the_store(self) -> None:
        """What the book holds as queued is queued; its proposals are proposed."""
        world, book = self.world, self.world.book
        assert all(world.state(t) is TicketState.QUEUED for t in book.queue_of)
        # No message is lost here, so no queued ticket waits for a reconcile.
        queued = {t for t, v in world.tickets.items() if v.state is TicketState.QUEUED}
        assert set(book.queue_of) == queued
        assert all(world.matches[m].state is MatchState.PROPOSED for m in book.proposals)
        assert book.preparing <= set(book.proposals)

    def teardown(self) -> None:
        """Rule 3: with enough clock every proposal ends, started or called off."""
        world = self.world
        pending = set(world.book.proposals) | set(world.book.starting)
        world.round(ACCEPT_TIMEOUT)
        world.fail_starts = False
        world.finish_starts()
        for match_id in pending:
            assert world.matches[match_id].state not in {MatchState.PROPOSED, MatchState.ACCEPTED}
            assert match_id not in world.book.proposals
            assert match_id not in world.book.starting
        assert world.prepared <= set(world.book.proposals)
        # ...and every queued ticket is back in its queue after a reconcile.
        world.reconcile()
        queued = {t for t, v in world.tickets.items() if v.state is TicketState.QUEUED}
        assert set(world.book.queue_of) == queued


BookMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestBookProperties = BookMachine.TestCase
