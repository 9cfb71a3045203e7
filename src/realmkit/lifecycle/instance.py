"""Lifecycle state machines, as data: states, the moves allowed between them.

Instance (``characters.instances.state``): REQUESTED -> LOADING -> READY ->
DRAINING -> STOPPING -> GONE, and UNHEALTHY from any live state.
- Rule 1: no player is routed to an instance that is not READY.
- Rule 2: GONE is final; a continent that must come back gets a new row.
- Rule 3: DRAINING -> LOADING is a live migration: the space was snapshotted
  on its old node and is loaded on another under the same instance_id.
- Rule 4: an UNHEALTHY instance is either restored (LOADING again, usually on
  another node) or given up (GONE).

The same table is enforced by PostgreSQL (migration 0003's trigger), so a
buggy or stale orchestrator cannot make an illegal move either; a test keeps
the two identical.
"""

from __future__ import annotations

from realmkit.errors import IllegalTransition
from realmkit.store.records import InstanceState as I

INSTANCE_MOVES: dict[I, frozenset[I]] = {
    I.REQUESTED: frozenset({I.LOADING, I.GONE}),
    I.LOADING: frozenset({I.READY, I.UNHEALTHY, I.GONE}),
    I.READY: frozenset({I.DRAINING, I.UNHEALTHY}),
    I.DRAINING: frozenset({I.STOPPING, I.LOADING, I.UNHEALTHY}),
    I.STOPPING: frozenset({I.GONE, I.UNHEALTHY}),
    I.UNHEALTHY: frozenset({I.LOADING, I.GONE}),
    I.GONE: frozenset(),
}


def check_instance_move(current: I, target: I) -> None:
    """``IllegalTransition`` unless an instance may go from ``current`` to ``target``."""
    if target not in INSTANCE_MOVES[current]:
        raise IllegalTransition("instance", current.value, target.value)


def routable(state: I) -> bool:
    """Rule 1: players go only to READY instances."""
    return state is I.READY
