"""The matchmakers' leader's book: queues, proposals and matches, without I/O.

The leader (``realmkit.nodes.matchmaker.leader``) feeds the book what it
reads and hears - tickets queued, left or answered, match results, the time,
PostgreSQL's queued tickets - and the outcome of what it was told to do (a
proposal written or refused, a match started or not); every input returns the
commands to carry out (``realmkit.matchmaking.commands``), in order. The book
never waits, reads a clock or touches a database: ``now`` is passed in.

- Rule 1: a ticket is in at most one of: its queue (``queue_of``), one
  proposal, one starting or one running match; ``match_queue`` takes matched
  tickets out of their queue before they are proposed.
- Rule 2: a ticket is placed whole: its members are on one team of one match
  (the ``Queue``'s matchers never split a ticket).
- Rule 3: every proposal ends: started once every ticket accepted, called off
  at once when a ticket is cancelled (declined, left, logged out), expired at
  its deadline otherwise. The others of a called-off proposal go back to
  their queue at their old place; everyone of it is told ``cancelled``.
  A match accepted but still starting is called off too when one of its
  tickets is cancelled before it runs (the store's start, a compare-and-set on
  ``accepted``, then fails: ``start_failed``); the start keeps the instance
  prepared for it (no ``Forget``). A start that fails calls its match off
  whatever the reason (no instance; a ticket cancelled that the book has not
  heard of yet, which the store's start refuses): calling off twice does
  nothing more. A running match is never called off: a ticket in it is left
  by leaving its instance.
- Rule 4: a running match ends with its result, or as a draw at ``ends_at``;
  a match whose end failed is running again and tried again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from realmkit.errors import NotFound, UsageError
from realmkit.lifecycle.match import MatchState
from realmkit.lifecycle.ticket import TicketState
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
from realmkit.matchmaking.queue import Queue
from realmkit.matchmaking.rules import ActivityRules, Match, WindowSettings
from realmkit.protocol.client import MatchResult, QueueStatus

QueueKey = tuple[int, str]  # (pool_id, activity)

RECONCILE_SECONDS = 5.0


class MatchBook:
    """Everything the leader keeps in memory, and what it decides."""

    def __init__(
        self,
        window: WindowSettings,
        accept_timeout: float,
        *,
        reconcile_every: float = RECONCILE_SECONDS,
    ) -> None:
        self.window = window
        self.accept_timeout = accept_timeout
        self.reconcile_every = reconcile_every
        self.queues: dict[QueueKey, Queue] = {}
        self.queue_of: dict[int, QueueKey] = {}  # ticket id -> its queue, while queued
        self.proposals: dict[int, MatchView] = {}
        self.starting: dict[int, MatchView] = {}  # accepted, start under way
        self.accepted_at: dict[int, float] = {}  # of the starting ones
        self.running: dict[int, MatchView] = {}
        self.ending: dict[int, MatchView] = {}  # result being written
        self.preparing: set[int] = set()  # proposals whose instance is requested
        self._waiting: dict[QueueKey, list[TicketView]] = {}  # for their queue's rules
        self._reconciled = 0.0

    def clear(self) -> None:
        """Forget everything (this leader steps down)."""
        for book in (
            self.queues,
            self.queue_of,
            self.proposals,
            self.starting,
            self.accepted_at,
            self.running,
            self.ending,
            self._waiting,
        ):
            book.clear()
        self.preparing.clear()

    # --- taking over ------------------------------------------------------------------

    def adopt(self, match: MatchView, now: float) -> list[Command]:
        """A live match found in PostgreSQL on taking over: proposals are sent again,
        accepted matches started, running ones watched."""
        if match.state is MatchState.PROPOSED:
            return self._proposal(match, max(1.0, match.accept_deadline - now))
        if match.state is MatchState.ACCEPTED:
            return self._start(match, now)
        if match.state is MatchState.RUNNING:
            self.running[match.match_id] = match
        return []

    def took_over(self, now: float) -> None:
        """Everything is read: the next reconcile is ``reconcile_every`` from now."""
        self._reconciled = now

    # --- tickets ----------------------------------------------------------------------

    def ticket_changed(self, ticket: TicketView) -> list[Command]:
        """A replica changed the ticket (queued, left, answered)."""
        if ticket.state is TicketState.QUEUED:
            if ticket.ticket_id in self.queue_of:
                return []
            return self._enqueue(ticket)
        self._dequeue(ticket.ticket_id)
        match_id = ticket.match_id or 0
        if ticket.state is TicketState.CANCELLED:  # a decline, or left the queue
            match = self.proposals.get(match_id) or self.starting.get(match_id)
            return [] if match is None else self._call_off(match, [ticket])
        if ticket.state is TicketState.ACCEPTED and match_id in self.proposals:
            return [TryAccept(match_id)]
        return []

    def ticket_seen(self, ticket: TicketView) -> list[Command]:
        """A ticket read again after a failed proposal or start: back in its queue if
        it is queued."""
        if ticket.state is TicketState.QUEUED:
            return self._enqueue(ticket)
        return []

    def logged_out(self, ticket: TicketView) -> list[Command]:
        """A ticket cancelled because a member left the world: out of its queue, or its
        proposal called off (which tells everyone); if it was only queued, its
        members hear it."""
        commands = self.ticket_changed(ticket)
        if ticket.match_id is None:  # a called-off proposal told them already
            status = QueueStatus(ticket.activity, TicketState.CANCELLED, ticket.ticket_id)
            commands.append(Deliver(ticket.members, status))
        return commands

    def rules_loaded(self, pool_id: int, activity: str, rules: ActivityRules) -> list[Command]:
        """The rules asked for by ``LoadRules``: the queue opens with its waiting tickets."""
        key = (pool_id, activity)
        self.queues.setdefault(key, Queue(rules, self.window))
        commands: list[Command] = []
        for ticket in self._waiting.pop(key, []):
            commands += self._enqueue(ticket)
        return commands

    def rules_failed(self, pool_id: int, activity: str) -> None:
        """``LoadRules`` failed: its waiting tickets are not queued (reconcile tries again)."""
        self._waiting.pop((pool_id, activity), None)

    # --- matching ---------------------------------------------------------------------

    def queue_keys(self) -> list[QueueKey]:
        return list(self.queues)

    def match_queue(self, key: QueueKey, now: float) -> list[Command]:
        """Form the groups of one queue: one ``Propose`` each (Rule 1)."""
        commands: list[Command] = []
        for found in self.queues[key].match(now):
            ids = tuple(t.ticket_id for t in found.tickets())
            for ticket_id in ids:
                self.queue_of.pop(ticket_id, None)
            waited = tuple(max(0.0, now - t.queued_at) for t in found.tickets())
            commands.append(_propose(key, found, ids, waited))
        return commands

    def proposed(self, match: MatchView) -> list[Command]:
        """The proposal is written: prepare its instance and ask its members."""
        return self._proposal(match, self.accept_timeout)

    def proposal_refused(self, propose: Propose) -> list[Command]:
        """A ticket left meanwhile: the others go back where they were."""
        return [Reread(propose.ticket_ids)]

    def accepted(self, match_id: int, now: float) -> list[Command]:
        """Every ticket accepted and the match is ``accepted``: start it."""
        match = self.proposals.pop(match_id, None)
        if match is None:
            return []
        return self._start(match, now)

    def called_off(
        self, match: MatchView, told: Sequence[TicketView], requeued: Sequence[TicketView]
    ) -> list[Command]:
        """The proposal is cancelled: ``requeued`` go back to their queue, ``told``
        (everyone of it) hear it."""
        commands: list[Command] = []
        for ticket in requeued:
            commands += self._enqueue(ticket)
        members = tuple(c for ticket in told for c in ticket.members)
        if members:  # none: it was called off already
            result = MatchResult(match.match_id, match.activity_id, "cancelled")
            commands.append(Deliver(members, result))
        return commands

    # --- the clock --------------------------------------------------------------------

    def expired(self, now: float) -> list[MatchView]:
        """Proposals whose time to accept is over; ``expire`` each."""
        return [m for m in self.proposals.values() if m.accept_deadline <= now]

    def expire(self, match: MatchView) -> list[Command]:
        """Not accepted in time: the silent are cancelled, the others requeued."""
        self._drop_proposal(match.match_id)
        return [Forget(match.match_id), Expire(match)]

    def time_up(self, now: float) -> list[Command]:
        """Running matches past their time limit end as a draw."""
        return [
            self._end(m, None)
            for m in list(self.running.values())
            if m.ends_at is not None and m.ends_at <= now
        ]

    def reconcile_due(self, now: float) -> bool:
        """Whether to check the queues against PostgreSQL now (then it counts as done)."""
        if now - self._reconciled <= self.reconcile_every:
            return False
        self._reconciled = now
        return True

    def reconcile(self, stored: Iterable[TicketView]) -> list[Command]:
        """Queues = ``stored``, the tickets PostgreSQL holds queued (a missed message
        is healed)."""
        queued = {t.ticket_id: t for t in stored}
        for ticket_id in [t for t in self.queue_of if t not in queued]:
            self._dequeue(ticket_id)
        commands: list[Command] = []
        for ticket_id, ticket in queued.items():
            if ticket_id not in self.queue_of:
                commands += self._enqueue(ticket)
        return commands

    # --- matches ----------------------------------------------------------------------

    def started(self, match: MatchView) -> None:
        """The match runs (``match`` is its running row): also one called off too late,
        the store having started it before the ticket was cancelled."""
        self.starting.pop(match.match_id, None)
        self.accepted_at.pop(match.match_id, None)
        self.running[match.match_id] = match

    def start_failed(self, match: MatchView) -> list[Command]:
        """The start failed (nothing of it written): the match is called off, its other
        tickets go back to their queue at once (Rule 3)."""
        return self._call_off(match, [])

    def decided(self, instance_id: int, winner: int | None) -> list[Command]:
        """The space of a running match decided it (``winner`` 1-based, None: a draw)."""
        for match in self.running.values():
            if match.instance_id == instance_id:
                return [self._end(match, winner)]
        return []

    def ended(self, match_id: int) -> None:
        """The result is recorded (by this leader or another)."""
        self.ending.pop(match_id, None)

    def end_failed(self, match: MatchView) -> None:
        """The end did not go through: running again, tried again (Rule 4)."""
        self.ending.pop(match.match_id, None)
        self.running[match.match_id] = match

    # --- answers ----------------------------------------------------------------------

    def where(self, ticket_id: int, now: float) -> QueueStatus:
        """A queued ticket's place and estimated wait; ``NotFound`` if not queued here."""
        key = self.queue_of.get(ticket_id)
        if key is None:
            raise NotFound("queued ticket", ticket_id)
        queue = self.queues[key]
        return QueueStatus(
            key[1],
            TicketState.QUEUED,
            ticket_id,
            queue.position(ticket_id) or 0,
            round(queue.estimated_wait(ticket_id, now), 1),
        )

    # --- inside -----------------------------------------------------------------------

    def _enqueue(self, ticket: TicketView) -> list[Command]:
        key = (ticket.pool_id, ticket.activity)
        queue = self.queues.get(key)
        if queue is None:
            waiting = self._waiting.setdefault(key, [])
            waiting.append(ticket)
            return [LoadRules(*key)] if len(waiting) == 1 else []
        if ticket.ticket_id in queue:
            return []
        try:
            queue.requeue([ticket.ticket])  # at its place by queued_at, new or not
        except UsageError as exc:  # can never be matched here: leave it be, say why
            return [NotQueued(ticket.ticket_id, exc.message)]
        self.queue_of[ticket.ticket_id] = key
        return []

    def _dequeue(self, ticket_id: int) -> None:
        key = self.queue_of.pop(ticket_id, None)
        if key is not None:
            self.queues[key].remove(ticket_id)
        for waiting in self._waiting.values():
            waiting[:] = [t for t in waiting if t.ticket_id != ticket_id]

    def _proposal(self, match: MatchView, seconds_left: float) -> list[Command]:
        self.proposals[match.match_id] = match
        self.preparing.add(match.match_id)
        return [Prepare(match), Offer(match, seconds_left)]

    def _drop_proposal(self, match_id: int) -> None:
        self.proposals.pop(match_id, None)
        self.preparing.discard(match_id)

    def _call_off(self, match: MatchView, declined: list[TicketView]) -> list[Command]:
        """Rule 3, for a proposal or a match still starting (whose start then fails
        and keeps its instance)."""
        commands: list[Command] = []
        if match.match_id in self.proposals:
            self._drop_proposal(match.match_id)
            commands.append(Forget(match.match_id))
        self.starting.pop(match.match_id, None)
        self.accepted_at.pop(match.match_id, None)
        return [*commands, CallOff(match, tuple(declined))]

    def _start(self, match: MatchView, now: float) -> list[Command]:
        self.preparing.discard(match.match_id)  # the start takes the prepared instance
        self.starting[match.match_id] = match
        self.accepted_at[match.match_id] = now
        return [Start(match, now)]

    def _end(self, match: MatchView, winner: int | None) -> End:
        self.running.pop(match.match_id, None)
        self.ending[match.match_id] = match
        return End(match, winner)


def _propose(
    key: QueueKey, found: Match, ticket_ids: tuple[int, ...], waited: tuple[float, ...]
) -> Propose:
    roles = {str(c): role for c, role in found.roles.items()}
    return Propose(key[0], key[1], found.team_members(), roles, ticket_ids, waited)
