"""The player assignment lifecycle, as data (``characters.player_assignments.state``).

OFFLINE -> PLACING -> IN_WORLD <-> TRANSFERRING -> OFFLINE.

- Rule 1: a character leaves OFFLINE only by being placed (PLACING); nothing
  puts an offline character in the world or in a transfer directly.
- Rule 2: every event leads to one state whatever state it leaves (``target``),
  so a character's first row is inserted in the state its event leads to,
  and a set-wide update can name the target without reading the rows.
- Rule 3: a character in the world (PLACING, IN_WORLD or TRANSFERRING) may be
  placed again (a new login or a resume), re-attached (TRANSFER), kept
  through a live migration of its space (MIGRATE) or released (OFFLINE).
- Rule 4: ARRIVE happens within one epoch (the world node confirms the join);
  every other event writes the next epoch, so the epoch is the fence, and
  the state is what the table says that epoch may hold.

The same moves are enforced by PostgreSQL (``characters.assignment_moves``
and its trigger, migration 0008); a test keeps ``MOVES`` and that table equal.
"""

from __future__ import annotations

from enum import Enum, StrEnum, auto

from realmkit.lifecycle.table import Lifecycle


class AssignmentState(StrEnum):
    """Values are the ``characters.player_assignments.state`` CHECK constraint's."""

    PLACING = "placing"
    IN_WORLD = "in_world"
    TRANSFERRING = "transferring"
    OFFLINE = "offline"


class AssignmentEvent(Enum):
    """What happens to a character's place in the world."""

    PLACE = auto()  # entering the world (login or resume) through a gateway
    ARRIVE = auto()  # the space it was placed in took it
    TRANSFER = auto()  # its gateway is told to re-point it to another space
    MIGRATE = auto()  # its space moved node with it inside, no transfer seen
    RELEASE = auto()  # it left the world


A = AssignmentState
E = AssignmentEvent

_PRESENT = (A.PLACING, A.IN_WORLD, A.TRANSFERRING)

TRANSITIONS: dict[tuple[AssignmentState, AssignmentEvent], AssignmentState] = {
    (A.OFFLINE, E.PLACE): A.PLACING,
    **{(s, E.PLACE): A.PLACING for s in _PRESENT},
    **{(s, E.ARRIVE): A.IN_WORLD for s in _PRESENT},
    **{(s, E.TRANSFER): A.TRANSFERRING for s in _PRESENT},
    **{(s, E.MIGRATE): A.IN_WORLD for s in _PRESENT},
    **{(s, E.RELEASE): A.OFFLINE for s in _PRESENT},
}

LIFECYCLE: Lifecycle[AssignmentState, AssignmentEvent] = Lifecycle(
    "assignment", AssignmentState, TRANSITIONS
)

# The (from, to) pairs the table can make: what the schema's moves table holds.
MOVES = LIFECYCLE.moves
next_state = LIFECYCLE.next_state
sources = LIFECYCLE.sources
target = LIFECYCLE.target
