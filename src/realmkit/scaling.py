"""When to add or remove a world node: the scaling rules, without I/O.

The orchestrators' leader feeds them, each round, the ready world nodes with
their capacity and players, the launches still under way and how long each
node has had nobody on it; they answer with at most one change. Rules:

- launch one node when fewer than ``min_world_nodes`` are ready, or when the
  free share of all ready nodes' capacity is under ``scale_up_below`` and
  fewer than ``max_world_nodes`` run; never while a launch is under way;
- otherwise retire one idle node (nobody on it for ``idle_after`` seconds,
  one the launcher may stop) when the cluster stays at or above
  ``min_world_nodes`` and more than ``scale_down_above`` of the capacity
  stays free without it: the gap between the two thresholds keeps the
  cluster from flapping. The node idle longest goes first.
"""

from __future__ import annotations

import msgspec

from realmkit.settings import ScalingSettings


class NodeLoad(msgspec.Struct, frozen=True):
    node_id: str
    capacity: int
    players: int
    # Seconds since the node last had a player (0 while it has some).
    idle_for: float = 0.0
    # Whether the launcher may stop it (the local launcher only stops its own).
    retirable: bool = True


class Plan(msgspec.Struct, frozen=True):
    launch: bool = False
    retire: str | None = None
    # World nodes wanted once the change is made.
    wanted: int = 0


def plan(nodes: list[NodeLoad], launching: int, rules: ScalingSettings) -> Plan:
    """The one change to make now (``launching``: launches not yet ready)."""
    count = len(nodes) + launching
    total, used = _room(nodes)
    if launching:
        return Plan(wanted=max(count, rules.min_world_nodes))
    short = count < rules.min_world_nodes
    crowded = _free(total, used) < rules.scale_up_below
    if short or (crowded and count < rules.max_world_nodes):
        # ``wanted`` never under the minimum: a launcher that sets a replica
        # count must not shrink a cluster whose nodes are still starting.
        return Plan(launch=True, wanted=max(count + 1, rules.min_world_nodes))
    if count <= rules.min_world_nodes:
        return Plan(wanted=count)
    idle = [n for n in nodes if n.retirable and n.players == 0 and n.idle_for >= rules.idle_after]
    for n in sorted(idle, key=lambda n: (-n.idle_for, n.node_id)):
        rest = total - n.capacity
        if rest > 0 and (rest - used) / rest > rules.scale_down_above:
            return Plan(retire=n.node_id, wanted=count - 1)
    return Plan(wanted=count)


def launch_reason(nodes: list[NodeLoad], rules: ScalingSettings) -> str:
    """Why ``plan`` asks for a launch, in words for the log: fewer ready nodes
    than the minimum (a node draining or starting is not ready, however empty
    the others are), or too little room left on them."""
    if len(nodes) < rules.min_world_nodes:
        return (
            f"{len(nodes)} world node{'s' if len(nodes) != 1 else ''} ready, "
            f"min_world_nodes is {rules.min_world_nodes}"
        )
    total, used = _room(nodes)
    free = _free(total, used)
    return (
        f"{used} of {total} places taken on {len(nodes)} nodes: {free:.0%} free, "
        f"under scale_up_below {rules.scale_up_below:.0%}"
    )


def _room(nodes: list[NodeLoad]) -> tuple[int, int]:
    """(places, places taken) on the ready nodes."""
    return sum(n.capacity for n in nodes), sum(min(n.players, n.capacity) for n in nodes)


def _free(total: int, used: int) -> float:
    """The free share of the places (none at all counts as full)."""
    return (total - used) / total if total else 0.0
