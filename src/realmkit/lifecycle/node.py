"""The node lifecycle, as data (``cluster.nodes.state``, every role).

STARTING -> READY -> DRAINING -> STOPPED, UNHEALTHY when a node falls silent.

- Rule 1: only READY world nodes are given new spaces.
- Rule 2: a node told to drain stays DRAINING whatever its heartbeat reports
  (UP leaves DRAINING as it is), until it stops or registers again.
- Rule 3: a node process that starts registers, which makes its row STARTING
  whatever it said before (the previous process may have crashed in any state).
- Rule 4: UNHEALTHY is the orchestrators' verdict on a silent node (TIME_OUT);
  a node that beats again is READY again (or stays DRAINING, Rule 2).
- Rule 5: only REGISTER leaves STOPPED: a stopped process does not come back.
- Rule 6: heartbeats repeat an event (UP, DRAIN, STOP) every second, so those
  events also lead from their own result to itself.

The same moves are enforced by PostgreSQL (``cluster.node_moves`` and its
trigger, migration 0008); a test keeps ``MOVES`` and that table equal.
"""

from __future__ import annotations

from enum import Enum, StrEnum, auto

from realmkit.lifecycle.table import Lifecycle


class NodeState(StrEnum):
    """Values are the ``cluster.nodes.state`` CHECK constraint's."""

    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    UNHEALTHY = "unhealthy"
    STOPPED = "stopped"


class NodeEvent(Enum):
    """What a node reports of itself, or the orchestrators decide about it."""

    REGISTER = auto()  # a node process starts (Rule 3)
    UP = auto()  # a heartbeat: it runs and takes work
    DRAIN = auto()  # it takes no new work (its own or `realmkit drain`)
    STOP = auto()  # it stopped cleanly
    TIME_OUT = auto()  # silent for too long (Rule 4)


N = NodeState
E = NodeEvent

TRANSITIONS: dict[tuple[NodeState, NodeEvent], NodeState] = {
    **{(s, E.REGISTER): N.STARTING for s in N},
    (N.STARTING, E.UP): N.READY,
    (N.READY, E.UP): N.READY,
    (N.DRAINING, E.UP): N.DRAINING,
    (N.UNHEALTHY, E.UP): N.READY,
    **{(s, E.DRAIN): N.DRAINING for s in (N.STARTING, N.READY, N.DRAINING, N.UNHEALTHY)},
    **{(s, E.STOP): N.STOPPED for s in N},
    **{(s, E.TIME_OUT): N.UNHEALTHY for s in (N.STARTING, N.READY, N.DRAINING)},
}

LIFECYCLE: Lifecycle[NodeState, NodeEvent] = Lifecycle("node", NodeState, TRANSITIONS)

# The (from, to) pairs the table can make: what the schema's moves table holds.
MOVES = LIFECYCLE.moves
next_state = LIFECYCLE.next_state
sources = LIFECYCLE.sources
on = LIFECYCLE.on


# A node whose row is live but has not beaten for this long is shown silent.
SILENT_AFTER_S = 10.0
_BEATING = (N.STARTING, N.READY, N.DRAINING)


def seen(state: NodeState, role: str, heartbeat_age_s: float, spaces: int) -> str:
    """What a node's row means to an operator now: ``silent (was S)`` for a live
    state with an old heartbeat (the process is gone or hung), ``drained`` for a
    draining world node with no space left, else the stored state."""
    if state in _BEATING and heartbeat_age_s > SILENT_AFTER_S:
        return f"silent (was {state})"
    if state is N.DRAINING and role == "world" and spaces == 0:
        return "drained"
    return state.value
