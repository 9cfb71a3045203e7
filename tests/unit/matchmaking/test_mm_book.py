"""The leader's book: queue, propose, accept, start, result, end, and the ways a
proposal fails."""

from __future__ import annotations

import pytest
from book_world import ACCEPT_TIMEOUT, TIME_LIMIT, World

from realmkit.errors import NotFound
from realmkit.lifecycle.match import MatchState
from realmkit.lifecycle.ticket import TicketEvent, TicketState
from realmkit.matchmaking.commands import Deliver, End, LoadRules, Propose, TicketView
from realmkit.matchmaking.rules import Ticket
from realmkit.protocol.client import MatchResult, QueueStatus

T = TicketState


def _four(world: World) -> list[int]:
    return [world.join() for _ in range(4)]


def _accept_all(world: World, match_id: int) -> None:
    for ticket_id in world.match_tickets[match_id]:
        for member in world.tickets[ticket_id].members:
            world.answer(ticket_id, member, True)


def test_a_full_match_from_queue_to_end() -> None:
    """Queued, proposed, all accept, started, the space decides, ended with its winner."""
    world = World()
    ids = _four(world)
    assert len(world.book.queue_of) == 4
    world.round()
    assert [world.state(t) for t in ids] == [T.PROPOSED] * 4
    assert world.book.queue_of == {}
    (match_id,) = world.book.proposals
    assert match_id in world.prepared
    assert match_id in world.book.preparing
    assert world.offers[-1].seconds_left == ACCEPT_TIMEOUT
    _accept_all(world, match_id)
    assert world.matches[match_id].state is MatchState.ACCEPTED
    assert world.book.proposals == {}
    assert match_id in world.book.starting
    assert world.book.accepted_at[match_id] == world.now
    assert [s.match.match_id for s in world.pending_starts] == [match_id]
    world.finish_starts()
    assert match_id in world.book.running
    assert [world.state(t) for t in ids] == [T.IN_MATCH] * 4
    world.decide(match_id, 2)
    assert [(e.match.match_id, e.winner) for e in world.pending_ends] == [(match_id, 2)]
    assert world.book.running == {}
    world.finish_ends()
    assert world.matches[match_id].state is MatchState.DONE
    assert [world.state(t) for t in ids] == [T.DONE] * 4
    assert world.book.ending == {}


def test_a_decline_calls_the_proposal_off_and_requeues_the_others_in_place() -> None:
    """The decliner is cancelled; the others are queued again at their old place, and
    everyone of the proposal hears ``cancelled``."""
    world = World()
    ids = _four(world)
    late = world.join()  # queued after the four: stays behind them
    world.round()
    (match_id,) = world.book.proposals
    first = world.match_tickets[match_id][0]
    world.answer(first, world.tickets[first].members[0], True)
    decliner = world.match_tickets[match_id][1]
    world.answer(decliner, world.tickets[decliner].members[0], False)
    assert world.book.proposals == {}
    assert match_id not in world.prepared
    assert world.matches[match_id].state is MatchState.CANCELLED
    assert world.state(decliner) is T.CANCELLED
    others = [t for t in ids if t != decliner]
    assert all(world.state(t) is T.QUEUED for t in others)
    queue = world.book.queues[(1, "arena2v2")]
    assert [t.ticket_id for t in queue] == [*others, late]
    told = world.delivered[-1]
    assert sorted(told.members) == sorted(world.members_of(match_id))
    assert told.message == MatchResult(match_id, "arena2v2", "cancelled")


def test_a_proposal_past_its_deadline_drops_the_silent_and_requeues_the_accepted() -> None:
    """At the deadline the silent tickets are cancelled, the accepted ones queued again."""
    world = World()
    _four(world)
    world.round()
    (match_id,) = world.book.proposals
    accepted = world.match_tickets[match_id][:1]
    for ticket_id in accepted:
        world.answer(ticket_id, world.tickets[ticket_id].members[0], True)
    world.round(advance=ACCEPT_TIMEOUT - 1)
    assert match_id in world.book.proposals  # not yet
    world.round(advance=1)
    assert world.matches[match_id].state is MatchState.CANCELLED
    silent = [t for t in world.match_tickets[match_id] if t not in accepted]
    assert [world.state(t) for t in silent] == [T.CANCELLED] * 3
    assert [world.state(t) for t in accepted] == [T.QUEUED]
    assert set(world.book.queue_of) == set(accepted)
    assert isinstance(world.delivered[-1].message, MatchResult)
    assert sorted(world.delivered[-1].members) == sorted(world.members_of(match_id))


def test_a_member_logged_out_calls_the_proposal_off_at_once() -> None:
    """A proposed ticket cancelled because its player left the world calls the
    proposal off before its deadline; the others go back to the queue."""
    world = World()
    _four(world)
    world.round()
    (match_id,) = world.book.proposals
    gone = world.match_tickets[match_id][2]
    world.log_out(gone)
    assert world.book.proposals == {}
    assert world.matches[match_id].state is MatchState.CANCELLED
    assert len(world.book.queue_of) == 3
    assert isinstance(world.delivered[-1].message, MatchResult)


def test_a_queued_ticket_logged_out_is_told_its_ticket_is_cancelled() -> None:
    """Out of its queue, and its members hear ``queue_status`` cancelled."""
    world = World()
    ticket_id = world.join(size=2)
    world.log_out(ticket_id)
    assert world.book.queue_of == {}
    assert world.delivered == [
        Deliver(
            world.tickets[ticket_id].members,
            QueueStatus("arena2v2", T.CANCELLED, ticket_id),
        )
    ]


def test_a_proposal_refused_by_the_store_rereads_and_requeues_the_queued() -> None:
    """A ticket that left before the proposal was written: the others are read again and
    queued at their place, the one that left is not."""
    world = World()
    ids = _four(world)
    gone = ids[3]
    # It left without the book hearing it (the message was lost).
    world._move(gone, TicketEvent.LEAVE)
    world.round()
    assert world.proposed == []
    assert world.book.proposals == {}
    assert set(world.book.queue_of) == set(ids[:3])


def test_a_match_past_its_time_limit_ends_as_a_draw() -> None:
    """time_up ends a running match with no winner; a failed end is tried again."""
    world = World()
    _four(world)
    world.round()
    (match_id,) = world.book.proposals
    _accept_all(world, match_id)
    world.finish_starts()
    world.round(advance=TIME_LIMIT)
    assert world.pending_ends == [End(world.matches[match_id], None)]
    world.book.end_failed(world.pending_ends.pop().match)
    assert match_id in world.book.running
    world.round()
    world.finish_ends()
    assert world.matches[match_id].state is MatchState.DONE


def test_a_failed_start_requeues_the_match_tickets_at_once() -> None:
    """A start that fails calls the match off: its tickets are back in their queue at
    once (not at the next reconcile) and everyone hears ``cancelled``."""
    world = World()
    ids = _four(world)
    world.round()
    (match_id,) = world.book.proposals
    _accept_all(world, match_id)
    world.fail_starts = True
    world.finish_starts()
    assert world.book.starting == {}
    assert world.book.running == {}
    assert world.matches[match_id].state is MatchState.CANCELLED
    assert [world.state(t) for t in ids] == [T.QUEUED] * 4
    assert set(world.book.queue_of) == set(ids)
    told = world.delivered[-1]
    assert told.message == MatchResult(match_id, "arena2v2", "cancelled")
    assert sorted(told.members) == sorted(world.members_of(match_id))


def test_a_start_after_a_decline_not_heard_yet_fails_and_requeues_the_others() -> None:
    """A ticket declined once its match was accepted, before the book hears it: the
    start fails (the store refuses it) and the others go back to their queue at once."""
    world = World()
    ids = _four(world)
    world.round()
    (match_id,) = world.book.proposals
    _accept_all(world, match_id)
    world._move(ids[0], TicketEvent.DECLINE)  # committed; the news is still on its way
    world.finish_starts()
    assert world.matches[match_id].state is MatchState.CANCELLED
    assert [world.state(t) for t in ids] == [T.CANCELLED] + [T.QUEUED] * 3
    assert set(world.book.queue_of) == set(ids[1:])
    assert world.book.ticket_changed(world.tickets[ids[0]]) == []  # the news, late
    assert set(world.book.queue_of) == set(ids[1:])


def test_a_new_queue_asks_for_its_rules_once() -> None:
    """Tickets of a queue not open yet wait for its rules, asked for once."""
    world = World()
    rows = [
        TicketView(Ticket(i, (i,), (60,), queued_at=float(i)), 1, "arena2v2", T.QUEUED)
        for i in (1, 2)
    ]
    assert world.book.ticket_changed(rows[0]) == [LoadRules(1, "arena2v2")]
    assert world.book.ticket_changed(rows[1]) == []
    assert world.book.rules_loaded(1, "arena2v2", world.rules) == []
    assert set(world.book.queue_of) == {1, 2}


def test_taking_over_resends_proposals_and_starts_accepted_matches() -> None:
    """adopt: a proposal is prepared and offered with the time it has left (at least
    1 s); an accepted match starts; a running one is watched."""
    world = World()
    _four(world)
    world.round()
    (match_id,) = world.book.proposals
    proposal = world.matches[match_id]
    fresh = World()
    commands = fresh.book.adopt(proposal, proposal.accept_deadline - 5)
    assert [type(c).__name__ for c in commands] == ["Prepare", "Offer"]
    assert commands[1].seconds_left == 5  # type: ignore[union-attr]
    late = fresh.book.adopt(proposal, proposal.accept_deadline + 5)
    assert late[1].seconds_left == 1.0  # type: ignore[union-attr]


def test_where_answers_the_place_of_a_queued_ticket_only() -> None:
    """Position and wait while queued; NotFound once proposed."""
    world = World()
    first, second = world.join(), world.join()
    status = world.book.where(second, world.now)
    assert (status.state, status.ticket_id, status.position) == (T.QUEUED, second, 2)
    world.join()
    world.join()
    world.round()
    with pytest.raises(NotFound):
        world.book.where(first, world.now)


def test_proposals_carry_whole_tickets() -> None:
    """A party of two is proposed on one team."""
    world = World()
    pair = world.join(size=2)
    world.join()
    world.join()
    world.round()
    (propose,) = world.proposed
    assert isinstance(propose, Propose)
    members = set(world.tickets[pair].members)
    assert any(members <= set(team) for team in propose.teams)
