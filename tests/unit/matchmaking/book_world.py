"""An in-memory stand-in for what the leader drives, to feed a ``MatchBook`` in tests.

``World`` holds tickets and matches as PostgreSQL would, moves them only through
the lifecycle tables (``next_state``: an illegal move raises), and carries out the
book's commands the way ``MatchLeader`` does, feeding the outcomes back. Starts and
ends are held until ``finish_starts``/``finish_ends`` (the leader runs them as tasks).
Like ``MatchRepo``'s compare-and-sets, a start finds its match accepted, and every
ticket of it still accepted in it, or fails writing nothing (the book then calls it
off); calling off a match no longer live changes nothing; and a match's updates
touch only the tickets that still carry its ``match_id``.
"""

from __future__ import annotations

from collections.abc import Sequence

from realmkit.lifecycle import match as match_lifecycle
from realmkit.lifecycle import ticket as ticket_lifecycle
from realmkit.lifecycle.match import MatchEvent, MatchState
from realmkit.lifecycle.ticket import TicketEvent, TicketState
from realmkit.matchmaking.book import MatchBook
from realmkit.matchmaking.commands import (
    CallOff,
    Command,
    Deliver,
    End,
    Expire,
    Forget,
    LoadRules,
    MatchView,
    NotQueued,
    Offer,
    Prepare,
    Propose,
    Reread,
    Start,
    TicketView,
    TryAccept,
)
from realmkit.matchmaking.rules import ActivityRules, Ticket, WindowSettings

ARENA = ActivityRules(key="arena2v2", kind="arena", team_sizes=(2, 2), rated=True)
POOL = 1
ACCEPT_TIMEOUT = 20.0
TIME_LIMIT = 600.0


class World:
    def __init__(self, rules: ActivityRules = ARENA) -> None:
        self.rules = rules
        self.book = MatchBook(WindowSettings(), ACCEPT_TIMEOUT)
        self.now = 1000.0
        self.tickets: dict[int, TicketView] = {}
        self.accepted: dict[int, set[int]] = {}  # ticket id -> members who accepted
        self.matches: dict[int, MatchView] = {}
        self.match_tickets: dict[int, tuple[int, ...]] = {}
        self.delivered: list[Deliver] = []
        self.offers: list[Offer] = []
        self.proposed: list[Propose] = []
        self.prepared: set[int] = set()
        self.pending_starts: list[Start] = []
        self.pending_ends: list[End] = []
        self.fail_starts = False
        self._ids = 0
        self._character = 100

    # --- what players do ------------------------------------------------------

    def join(self, size: int = 1, rating: int = 1500) -> int:
        self._ids += 1
        members = tuple(range(self._character, self._character + size))
        self._character += size
        ticket = Ticket(self._ids, members, (60,) * size, rating=rating, queued_at=self.now)
        self.tickets[ticket.ticket_id] = TicketView(
            ticket, POOL, self.rules.key, TicketState.QUEUED
        )
        self.carry_out(self.book.ticket_changed(self.tickets[ticket.ticket_id]))
        return ticket.ticket_id

    def answer(self, ticket_id: int, member: int, accept: bool) -> None:
        """As ``TicketRepo.answer``: all members accepted -> accepted; a decline cancels."""
        view = self.tickets[ticket_id]
        if accept:
            self.accepted.setdefault(ticket_id, set()).add(member)
            if self.accepted[ticket_id] >= set(view.members):
                self._move(ticket_id, TicketEvent.ACCEPT)
        else:
            self._move(ticket_id, TicketEvent.DECLINE)
        self.carry_out(self.book.ticket_changed(self.tickets[ticket_id]))

    def leave(self, ticket_id: int) -> None:
        self._move(ticket_id, TicketEvent.LEAVE)
        self.carry_out(self.book.ticket_changed(self.tickets[ticket_id]))

    def log_out(self, ticket_id: int) -> None:
        """As the reconcile's ``cancel_offline``."""
        self._move(ticket_id, TicketEvent.LOG_OUT)
        self.carry_out(self.book.logged_out(self.tickets[ticket_id]))

    # --- the leader's round ------------------------------------------------------

    def round(self, advance: float = 0.0) -> None:
        self.now += advance
        for key in self.book.queue_keys():
            self.carry_out(self.book.match_queue(key, self.now))
        for match in self.book.expired(self.now):
            self.carry_out(self.book.expire(match))
        self.carry_out(self.book.time_up(self.now))

    def reconcile(self) -> None:
        queued = [t for t in self.tickets.values() if t.state is TicketState.QUEUED]
        self.carry_out(self.book.reconcile(queued))

    def decide(self, match_id: int, winner: int | None) -> None:
        instance_id = self.matches[match_id].instance_id
        assert instance_id is not None
        self.carry_out(self.book.decided(instance_id, winner))

    def finish_starts(self) -> None:
        starts, self.pending_starts = self.pending_starts, []
        for start in starts:
            match_id = start.match.match_id
            self.prepared.discard(match_id)
            if self.fail_starts or not self._startable(match_id):
                self.carry_out(self.book.start_failed(start.match))
                continue
            self._move_match(match_id, MatchEvent.START, instance_id=5000 + match_id)
            # Every ticket of a match that starts is accepted: START raises otherwise.
            for ticket_id in self.match_tickets[match_id]:
                self._move(ticket_id, TicketEvent.START)
            self.book.started(self.matches[match_id])

    def finish_ends(self) -> None:
        ends, self.pending_ends = self.pending_ends, []
        for end in ends:
            match_id = end.match.match_id
            if self.matches[match_id].state is MatchState.RUNNING:
                self._move_match(match_id, MatchEvent.FINISH)
                for ticket_id in self.match_tickets[match_id]:
                    self._move(ticket_id, TicketEvent.FINISH)
            self.book.ended(match_id)

    # --- carrying out, as MatchLeader does ---------------------------------------

    def carry_out(self, commands: Sequence[Command]) -> None:
        for command in commands:
            self._one(command)

    def _one(self, command: Command) -> None:
        match command:
            case LoadRules(pool_id, activity):
                self.carry_out(self.book.rules_loaded(pool_id, activity, self.rules))
            case NotQueued():
                pass
            case Propose():
                self._propose(command)
            case Prepare(match):
                self.prepared.add(match.match_id)
            case Offer():
                self.offers.append(command)
            case Forget(match_id):
                self.prepared.discard(match_id)
            case TryAccept(match_id):
                tickets = [self.tickets[t] for t in self.match_tickets[match_id]]
                match = self.matches[match_id]
                if match.state is MatchState.PROPOSED and all(
                    t.state is TicketState.ACCEPTED for t in tickets
                ):
                    self._move_match(match_id, MatchEvent.ACCEPT)
                    self.carry_out(self.book.accepted(match_id, self.now))
            case CallOff(match, declined):
                # A compare-and-set, as MatchRepo.cancel: nothing if already called off.
                if self.matches[match.match_id].state in match_lifecycle.sources(
                    MatchEvent.CALL_OFF
                ):
                    self._move_match(match.match_id, MatchEvent.CALL_OFF)
                back = self._requeue(match.match_id)
                self.carry_out(self.book.called_off(match, [*declined, *back], back))
            case Expire(match):
                silent = []
                for ticket_id in self.match_tickets[match.match_id]:
                    if self.tickets[ticket_id].state in ticket_lifecycle.sources(
                        TicketEvent.TIME_OUT
                    ):
                        self._move(ticket_id, TicketEvent.TIME_OUT)
                        silent.append(self.tickets[ticket_id])
                self._move_match(match.match_id, MatchEvent.CALL_OFF)
                back = self._requeue(match.match_id)
                self.carry_out(self.book.called_off(match, [*silent, *back], back))
            case Start():
                self.pending_starts.append(command)
            case End():
                self.pending_ends.append(command)
            case Deliver():
                self.delivered.append(command)
            case Reread(ticket_ids):
                for ticket_id in ticket_ids:
                    self.carry_out(self.book.ticket_seen(self.tickets[ticket_id]))

    def _propose(self, command: Propose) -> None:
        queued = ticket_lifecycle.sources(TicketEvent.PROPOSE)
        if any(self.tickets[t].state not in queued for t in command.ticket_ids):
            self.carry_out(self.book.proposal_refused(command))
            return
        match_id = len(self.matches) + 1
        self.proposed.append(command)
        self.matches[match_id] = MatchView(
            match_id,
            command.pool_id,
            command.activity,
            MatchState.PROPOSED,
            command.teams,
            command.roles,
            None,
            self.now + ACCEPT_TIMEOUT,
        )
        self.match_tickets[match_id] = command.ticket_ids
        for ticket_id in command.ticket_ids:
            self._move(ticket_id, TicketEvent.PROPOSE, match_id=match_id)
            self.accepted.pop(ticket_id, None)
        self.carry_out(self.book.proposed(self.matches[match_id]))

    # --- the store ---------------------------------------------------------------

    def _startable(self, match_id: int) -> bool:
        """As ``MatchRepo.start``: the match is accepted and so is every one of its
        tickets, still in it."""
        if self.matches[match_id].state not in match_lifecycle.sources(MatchEvent.START):
            return False
        return all(
            self.tickets[t].match_id == match_id
            and self.tickets[t].state in ticket_lifecycle.sources(TicketEvent.START)
            for t in self.match_tickets[match_id]
        )

    def _requeue(self, match_id: int) -> list[TicketView]:
        """As ``MatchRepo.cancel``: the match's tickets still proposed or accepted are
        queued again (not one proposed since in another match); the requeued."""
        back = []
        for ticket_id in self.match_tickets[match_id]:
            view = self.tickets[ticket_id]
            if view.match_id == match_id and view.state in ticket_lifecycle.sources(
                TicketEvent.REQUEUE
            ):
                self._move(ticket_id, TicketEvent.REQUEUE, match_id=None)
                back.append(self.tickets[ticket_id])
        return back

    def _move(self, ticket_id: int, event: TicketEvent, **changes: int | None) -> None:
        view = self.tickets[ticket_id]
        state = ticket_lifecycle.next_state(view.state, event)
        self.tickets[ticket_id] = TicketView(
            view.ticket,
            view.pool_id,
            view.activity,
            state,
            changes.get("match_id", view.match_id),
        )

    def _move_match(self, match_id: int, event: MatchEvent, instance_id: int | None = None) -> None:
        view = self.matches[match_id]
        state = match_lifecycle.next_state(view.state, event)
        ends_at = self.now + TIME_LIMIT if state is MatchState.RUNNING else view.ends_at
        self.matches[match_id] = MatchView(
            view.match_id,
            view.pool_id,
            view.activity_id,
            state,
            view.teams,
            view.roles,
            instance_id if instance_id is not None else view.instance_id,
            view.accept_deadline,
            ends_at,
        )

    # --- looking ---------------------------------------------------------------------

    def state(self, ticket_id: int) -> TicketState:
        return self.tickets[ticket_id].state

    def members_of(self, match_id: int) -> list[int]:
        return [c for t in self.match_tickets[match_id] for c in self.tickets[t].members]
