"""The scaling rules: when a world node is launched or retired."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realmkit.scaling import NodeLoad, Plan, launch_reason, plan
from realmkit.settings import ScalingSettings

RULES = ScalingSettings(
    min_world_nodes=2,
    max_world_nodes=4,
    scale_up_below=0.25,
    scale_down_above=0.5,
    idle_after=60.0,
)


def test_busy_cluster_launches_one_node() -> None:
    nodes = [NodeLoad("world-1", 100, 80), NodeLoad("world-2", 100, 90)]
    assert plan(nodes, 0, RULES) == Plan(launch=True, wanted=3)


def test_no_second_launch_while_one_is_under_way() -> None:
    nodes = [NodeLoad("world-1", 100, 100), NodeLoad("world-2", 100, 100)]
    assert plan(nodes, 1, RULES) == Plan(wanted=3)


def test_never_above_the_maximum() -> None:
    nodes = [NodeLoad(f"world-{i}", 100, 100) for i in range(4)]
    assert plan(nodes, 0, RULES) == Plan(wanted=4)


def test_below_the_minimum_launches_and_never_asks_for_fewer() -> None:
    """No ready node yet (pods still starting): a launch, asking for the minimum."""
    assert plan([], 0, RULES) == Plan(launch=True, wanted=2)
    assert plan([], 1, RULES) == Plan(wanted=2)
    idle = [NodeLoad("world-1", 100, 0, idle_for=999.0)]
    assert plan(idle, 0, RULES) == Plan(launch=True, wanted=2)


def test_idle_node_retired_when_enough_stays_free() -> None:
    nodes = [
        NodeLoad("world-1", 100, 10),
        NodeLoad("world-2", 100, 0, idle_for=30.0),
        NodeLoad("world-3", 100, 0, idle_for=90.0),
    ]
    assert plan(nodes, 0, RULES) == Plan(retire="world-3", wanted=2)


def test_not_retired_before_idle_after_or_when_not_retirable() -> None:
    nodes = [
        NodeLoad("world-1", 100, 10),
        NodeLoad("world-2", 100, 0, idle_for=59.0),
        NodeLoad("world-3", 100, 0, idle_for=500.0, retirable=False),
    ]
    assert plan(nodes, 0, RULES) == Plan(wanted=3)


def test_never_below_the_minimum() -> None:
    nodes = [NodeLoad("world-1", 100, 0, idle_for=999.0), NodeLoad("world-2", 100, 0)]
    assert plan(nodes, 0, RULES) == Plan(wanted=2)


def test_not_retired_when_the_rest_would_be_too_full() -> None:
    nodes = [
        NodeLoad("world-1", 100, 60),
        NodeLoad("world-2", 100, 0),
        NodeLoad("world-3", 100, 0, idle_for=999.0),
    ]
    # Without world-3: 200 places, 60 taken, 70% free > 50%: retired.
    assert plan(nodes, 0, RULES).retire == "world-3"
    busier = [NodeLoad("world-1", 100, 100), *nodes[1:]]
    # Without world-3: 50% free, not more than 50%: kept.
    assert plan(busier, 0, RULES) == Plan(wanted=3)


loads = st.lists(
    st.builds(
        NodeLoad,
        node_id=st.sampled_from([f"world-{i}" for i in range(8)]),
        capacity=st.integers(1, 500),
        players=st.integers(0, 600),
        idle_for=st.floats(0, 1000),
        retirable=st.booleans(),
    ),
    max_size=8,
    unique_by=lambda n: n.node_id,
)


@given(loads, st.integers(0, 2))
def test_one_change_within_bounds_and_no_flapping(nodes: list[NodeLoad], launching: int) -> None:
    """At most one change; never past the bounds; a retire never makes the next
    round launch (the gap between the thresholds)."""
    change = plan(nodes, launching, RULES)
    assert not (change.launch and change.retire)
    count = len(nodes) + launching
    assert change.wanted >= RULES.min_world_nodes
    if launching:
        assert change == Plan(wanted=max(count, RULES.min_world_nodes))
    if change.launch:
        assert count < RULES.max_world_nodes
        assert change.wanted == max(count + 1, RULES.min_world_nodes)
    if change.retire is not None:
        assert count > RULES.min_world_nodes
        gone = next(n for n in nodes if n.node_id == change.retire)
        assert gone.retirable
        assert gone.players == 0
        assert gone.idle_for >= RULES.idle_after
        rest = [n for n in nodes if n is not gone]
        assert not plan(rest, 0, RULES).launch
        assert change.wanted == count - 1


def test_a_launch_says_why() -> None:
    """A node draining leaves fewer ready nodes than the minimum: the reason says
    so, not "0 of 2000 places taken" as if room were the question."""
    rules = ScalingSettings(min_world_nodes=2, max_world_nodes=4, scale_up_below=0.25)
    one_left = [NodeLoad("world-2", 2000, 0)]
    assert plan(one_left, 0, rules).launch
    assert launch_reason(one_left, rules) == "1 world node ready, min_world_nodes is 2"
    full = [NodeLoad("world-1", 100, 80), NodeLoad("world-2", 100, 90)]
    assert plan(full, 0, rules).launch
    assert launch_reason(full, rules) == (
        "170 of 200 places taken on 2 nodes: 15% free, under scale_up_below 25%"
    )
