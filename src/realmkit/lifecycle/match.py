"""The matchmaking match lifecycle, as data (``matchmaking.matches.state``).

proposed -> accepted -> running -> done; cancelled before it runs.

- Rule 1: a match is written PROPOSED, with its tickets moved to PROPOSED in
  the same transaction (all or none).
- Rule 2: it becomes ACCEPTED once every one of its tickets is ACCEPTED.
- Rule 3: a PROPOSED or ACCEPTED match is called off (``CALL_OFF``) when a
  ticket declines or leaves, when its time to accept runs out, or when it
  cannot start; its other tickets go back to their queue.
- Rule 4: a RUNNING match has its instance (the schema's CHECK) and is never
  cancelled: it ends DONE with a winner, or as a draw at its time limit.
- Rule 5: DONE and CANCELLED are final.
- Rule 6: every event leads to one state, whatever state it comes from, so a
  repository's compare-and-set update is ``sources(event) -> target(event)``.

The same moves are enforced by PostgreSQL (``matchmaking.match_moves`` and
its trigger, migration 0009); a test keeps ``MOVES`` and that table identical.
"""

from __future__ import annotations

from enum import Enum, StrEnum, auto

from realmkit.lifecycle.table import Lifecycle


class MatchState(StrEnum):
    """Values are the ``matchmaking.matches.state`` CHECK constraint's."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


class MatchEvent(Enum):
    ACCEPT = auto()  # every ticket accepted
    CALL_OFF = auto()  # a decline, a ticket left, the time to accept ran out, no start
    START = auto()  # running in its instance
    FINISH = auto()  # a team won, or the time ran out (a draw)


M = MatchState
E = MatchEvent

TRANSITIONS: dict[tuple[MatchState, MatchEvent], MatchState] = {
    (M.PROPOSED, E.ACCEPT): M.ACCEPTED,
    (M.PROPOSED, E.CALL_OFF): M.CANCELLED,
    (M.ACCEPTED, E.CALL_OFF): M.CANCELLED,
    (M.ACCEPTED, E.START): M.RUNNING,
    (M.RUNNING, E.FINISH): M.DONE,
}

LIFECYCLE: Lifecycle[MatchState, MatchEvent] = Lifecycle("match", MatchState, TRANSITIONS)

# The (from, to) pairs the table can make: what the schema's moves table holds.
MOVES = LIFECYCLE.moves
# A state with no way out is final; the others are live.
LIVE = LIFECYCLE.live
next_state = LIFECYCLE.next_state
check_move = LIFECYCLE.check_move
sources = LIFECYCLE.sources
target = LIFECYCLE.target
