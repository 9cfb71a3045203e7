"""The realm restart lifecycle, as data (``cluster.realm_restarts.state``).

pending -> running -> done | failed; cancelled before it runs.

- Rule 1: a realm has at most one open restart (PENDING or RUNNING; the
  schema's unique index). Asking again while one is PENDING moves its time.
- Rule 2: while PENDING, the orchestrators' leader tells the realm's players
  at each countdown mark (``realmkit.restarts``); an operator may cancel it.
- Rule 3: at its time it becomes RUNNING: every space of the realm is frozen
  (its players saved), started again and its players seated back where they
  were. A leader that takes over a RUNNING restart finishes it as FAILED and
  hands what is left to crash recovery (the spaces' checkpoints are written).
- Rule 4: DONE, FAILED and CANCELLED are final.
- Rule 5: every event leads to one state, whatever state it comes from.

The same moves are enforced by PostgreSQL (``cluster.realm_restart_moves`` and
its trigger, migration 0016); a test keeps ``MOVES`` and that table identical.
"""

from __future__ import annotations

from enum import Enum, StrEnum, auto

from realmkit.lifecycle.table import Lifecycle


class RestartState(StrEnum):
    """Values are the ``cluster.realm_restarts.state`` CHECK constraint's."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class RestartEvent(Enum):
    BEGIN = auto()  # its time came: the realm's spaces restart now
    FINISH = auto()  # every space restarted
    FAIL = auto()  # some space could not restart (crash recovery takes it)
    CANCEL = auto()  # an operator called it off


R = RestartState
E = RestartEvent

TRANSITIONS: dict[tuple[RestartState, RestartEvent], RestartState] = {
    (R.PENDING, E.BEGIN): R.RUNNING,
    (R.PENDING, E.CANCEL): R.CANCELLED,
    (R.RUNNING, E.FINISH): R.DONE,
    (R.RUNNING, E.FAIL): R.FAILED,
}

LIFECYCLE: Lifecycle[RestartState, RestartEvent] = Lifecycle("restart", RestartState, TRANSITIONS)

# The (from, to) pairs the table can make: what the schema's moves table holds.
MOVES = LIFECYCLE.moves
LIVE = LIFECYCLE.live
next_state = LIFECYCLE.next_state
check_move = LIFECYCLE.check_move
sources = LIFECYCLE.sources
target = LIFECYCLE.target
