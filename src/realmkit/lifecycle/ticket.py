"""The matchmaking ticket lifecycle, as data (``matchmaking.tickets.state``).

queued -> proposed -> accepted -> in_match -> done; cancelled from any live state.

- Rule 1: only a QUEUED ticket is in a ``Queue``; ``Queue.match`` takes it out
  and the node moves it to PROPOSED with the match it proposes.
- Rule 2: PROPOSED or ACCEPTED -> QUEUED is a proposal that failed because of
  *another* ticket of the match (it declined or its accept timed out): this
  ticket goes back at its old position (``queued_at`` is kept, see
  ``Queue.requeue``).
- Rule 3: the ticket that declined or timed out goes to CANCELLED, as does one
  whose player leaves the queue or the match.
- Rule 4: DONE and CANCELLED are final; queueing again makes a new ticket.

The same table is enforced by PostgreSQL (``matchmaking.ticket_moves`` and its
trigger, migration 0006), so a stale matchmaker cannot make an illegal move
either; a test keeps the two identical.
"""

from __future__ import annotations

from enum import StrEnum

from realmkit.errors import IllegalTransition


class TicketState(StrEnum):
    """Values are the ``matchmaking.tickets.state`` CHECK constraint's."""

    QUEUED = "queued"
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    IN_MATCH = "in_match"
    DONE = "done"
    CANCELLED = "cancelled"


T = TicketState

TICKET_MOVES: dict[TicketState, frozenset[TicketState]] = {
    T.QUEUED: frozenset({T.PROPOSED, T.CANCELLED}),
    T.PROPOSED: frozenset({T.ACCEPTED, T.QUEUED, T.CANCELLED}),
    T.ACCEPTED: frozenset({T.IN_MATCH, T.QUEUED, T.CANCELLED}),
    T.IN_MATCH: frozenset({T.DONE, T.CANCELLED}),
    T.DONE: frozenset(),
    T.CANCELLED: frozenset(),
}


def check_ticket_move(current: TicketState, target: TicketState) -> None:
    """``IllegalTransition`` unless a ticket may go from ``current`` to ``target``."""
    if target not in TICKET_MOVES[current]:
        raise IllegalTransition("ticket", current.value, target.value)
