"""The matchmaking ticket lifecycle, as data (``matchmaking.tickets.state``).

queued -> proposed -> accepted -> in_match -> done; cancelled from any live state.

- Rule 1: only a QUEUED ticket is in a ``Queue``; ``Queue.match`` takes it out
  and the leader moves it to PROPOSED (``PROPOSE``) with the match it proposes.
- Rule 2: PROPOSED or ACCEPTED -> QUEUED (``REQUEUE``) is a proposal that failed
  because of *another* ticket of the match (it declined or its accept timed
  out, or the match could not start): this ticket goes back at its old
  position (``queued_at`` is kept, see ``Queue.requeue``).
- Rule 3: the ticket that declined (``DECLINE``) or stayed silent
  (``TIME_OUT``) goes to CANCELLED, as does one whose player leaves the queue
  or whose party changed (``LEAVE``) or who logged out while it waited or was
  proposed (``LOG_OUT``). A ticket in a match is left by leaving its instance,
  not its ticket.
- Rule 4: a ticket becomes ACCEPTED once every one of its members accepted;
  an accept on an ACCEPTED ticket (a second click) leaves it ACCEPTED.
- Rule 5: DONE and CANCELLED are final; queueing again makes a new ticket.
- Rule 6: every event leads to one state, whatever state it comes from, so a
  repository's compare-and-set update is ``sources(event) -> target(event)``.

The same moves are enforced by PostgreSQL (``matchmaking.ticket_moves`` and
its trigger, migration 0006), so a stale matchmaker cannot make an illegal
move either; a test keeps ``MOVES`` and that table identical.
"""

from __future__ import annotations

from enum import Enum, StrEnum, auto

from realmkit.lifecycle.table import Lifecycle


class TicketState(StrEnum):
    """Values are the ``matchmaking.tickets.state`` CHECK constraint's."""

    QUEUED = "queued"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    IN_MATCH = "in_match"
    DONE = "done"
    CANCELLED = "cancelled"


class TicketEvent(Enum):
    PROPOSE = auto()  # the leader found it a match
    ACCEPT = auto()  # its last member accepted the proposal
    DECLINE = auto()  # a member declined the proposal
    TIME_OUT = auto()  # the proposal's time to accept ran out before it accepted
    REQUEUE = auto()  # the proposal failed because of another ticket
    LEAVE = auto()  # a member left the queue, or the party changed
    LOG_OUT = auto()  # a member left the world
    START = auto()  # the match runs
    FINISH = auto()  # the match has its result
    ABANDON = auto()  # the match was given up without a result (no code path yet)


T = TicketState
E = TicketEvent

TRANSITIONS: dict[tuple[TicketState, TicketEvent], TicketState] = {
    (T.QUEUED, E.PROPOSE): T.PROPOSED,
    (T.QUEUED, E.LEAVE): T.CANCELLED,
    (T.QUEUED, E.LOG_OUT): T.CANCELLED,
    (T.PROPOSED, E.ACCEPT): T.ACCEPTED,
    (T.PROPOSED, E.DECLINE): T.CANCELLED,
    (T.PROPOSED, E.TIME_OUT): T.CANCELLED,
    (T.PROPOSED, E.REQUEUE): T.QUEUED,
    (T.PROPOSED, E.LEAVE): T.CANCELLED,
    (T.PROPOSED, E.LOG_OUT): T.CANCELLED,
    (T.ACCEPTED, E.ACCEPT): T.ACCEPTED,
    (T.ACCEPTED, E.DECLINE): T.CANCELLED,
    (T.ACCEPTED, E.REQUEUE): T.QUEUED,
    (T.ACCEPTED, E.LEAVE): T.CANCELLED,
    (T.ACCEPTED, E.START): T.IN_MATCH,
    (T.IN_MATCH, E.FINISH): T.DONE,
    (T.IN_MATCH, E.ABANDON): T.CANCELLED,
}

LIFECYCLE: Lifecycle[TicketState, TicketEvent] = Lifecycle("ticket", TicketState, TRANSITIONS)

# The (from, to) pairs the table can make: what the schema's moves table holds.
MOVES = LIFECYCLE.moves
# A state with no way out is final; the others are live.
LIVE = LIFECYCLE.live
next_state = LIFECYCLE.next_state
check_move = LIFECYCLE.check_move
sources = LIFECYCLE.sources
target = LIFECYCLE.target
