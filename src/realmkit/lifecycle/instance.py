"""The instance lifecycle, as data (``characters.instances.state``).

REQUESTED -> LOADING -> READY -> DRAINING -> STOPPING -> GONE, and UNHEALTHY
from any live state.

- Rule 1: no player is routed to an instance that is not READY.
- Rule 2: GONE is final; a continent that must come back gets a new row.
- Rule 3: DRAINING -> LOADING is a live migration (the space was snapshotted
  on its old node and is loaded on another under the same instance_id) or a
  realm restart (frozen, loaded again from its content, its players seated
  back from their saves).
- Rule 4: an UNHEALTHY instance is either restored (LOADING again, usually on
  another node) or given up (GONE).
- Rule 5: everything that changes an instance's state is an ``InstanceEvent``
  and goes through ``next_state``: ``InstanceRepo.move`` asks it before it
  writes, so an illegal move is refused in Python before SQL is reached.
- Rule 6: every event leads to one state, whatever state it comes from, so a
  set-wide update (a dead node's instances) is ``sources(event) -> target(event)``.

The same moves are enforced by PostgreSQL (``characters.instance_moves`` and
its trigger, migrations 0003 and 0004), so a buggy or stale orchestrator
cannot make an illegal move either; a test keeps ``MOVES`` and that table equal.
"""

from __future__ import annotations

from enum import Enum, StrEnum, auto

from realmkit.lifecycle.table import Lifecycle


class InstanceState(StrEnum):
    """Values are the ``characters.instances.state`` CHECK constraint's."""

    REQUESTED = "requested"
    LOADING = "loading"
    READY = "ready"
    DRAINING = "draining"
    STOPPING = "stopping"
    GONE = "gone"
    UNHEALTHY = "unhealthy"


class InstanceEvent(Enum):
    """What happens to an instance, as the orchestrator and the nodes see it."""

    LOAD = auto()  # sent to a node for the first time
    LOADED = auto()  # its node answered SpaceReady
    DRAIN = auto()  # take nobody new: it is stopped or moved next
    MIGRATE = auto()  # frozen on its old node, loaded on another (Rule 3)
    RESTART = auto()  # frozen, loaded again fresh: its realm restarts (Rule 3)
    STOP = auto()  # frozen and unloaded by its node
    STOPPED = auto()  # nothing of it is left
    FAIL = auto()  # its node died or did not answer
    RESTORE = auto()  # loaded again from its last checkpoint (Rule 4)
    GIVE_UP = auto()  # not restored (Rule 4)
    CANCEL = auto()  # not wanted any more before it ran


I = InstanceState  # noqa: E741 - reads as a table
E = InstanceEvent

TRANSITIONS: dict[tuple[InstanceState, InstanceEvent], InstanceState] = {
    (I.REQUESTED, E.LOAD): I.LOADING,
    (I.REQUESTED, E.CANCEL): I.GONE,
    (I.LOADING, E.LOADED): I.READY,
    (I.LOADING, E.FAIL): I.UNHEALTHY,
    (I.LOADING, E.CANCEL): I.GONE,
    (I.READY, E.DRAIN): I.DRAINING,
    (I.READY, E.FAIL): I.UNHEALTHY,
    (I.DRAINING, E.STOP): I.STOPPING,
    (I.DRAINING, E.MIGRATE): I.LOADING,
    (I.DRAINING, E.RESTART): I.LOADING,
    (I.DRAINING, E.FAIL): I.UNHEALTHY,
    (I.STOPPING, E.STOPPED): I.GONE,
    (I.STOPPING, E.FAIL): I.UNHEALTHY,
    (I.UNHEALTHY, E.RESTORE): I.LOADING,
    (I.UNHEALTHY, E.GIVE_UP): I.GONE,
}

LIFECYCLE: Lifecycle[InstanceState, InstanceEvent] = Lifecycle(
    "instance", InstanceState, TRANSITIONS
)

# The (from, to) pairs the table can make: what the schema's moves table holds.
MOVES = LIFECYCLE.moves
next_state = LIFECYCLE.next_state
sources = LIFECYCLE.sources
target = LIFECYCLE.target

# The same moves by state, for readers who ask "where can it go from here?".
INSTANCE_MOVES: dict[InstanceState, frozenset[InstanceState]] = {
    state: frozenset(target for source, target in MOVES if source is state) for state in I
}

# The states in which an instance has a node that runs (or loads) it: the
# schema's CHECK requires a node_id in them.
HOSTED: frozenset[InstanceState] = frozenset({I.LOADING, I.READY, I.DRAINING})


def check_instance_move(current: InstanceState, target: InstanceState) -> None:
    """``IllegalTransition`` unless an instance may go from ``current`` to ``target``."""
    LIFECYCLE.check_move(current, target)


def routable(state: InstanceState) -> bool:
    """Rule 1: players go only to READY instances."""
    return state is I.READY
