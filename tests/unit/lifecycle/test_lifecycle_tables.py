"""The instance, assignment and node tables: the paths the code takes, refusals, finality."""

from __future__ import annotations

import itertools

import pytest

from realmkit.errors import IllegalTransition
from realmkit.lifecycle import assignment, instance, node
from realmkit.lifecycle.assignment import AssignmentEvent as AE
from realmkit.lifecycle.assignment import AssignmentState as A
from realmkit.lifecycle.instance import InstanceEvent as IE
from realmkit.lifecycle.instance import InstanceState as I
from realmkit.lifecycle.node import NodeEvent as NE
from realmkit.lifecycle.node import NodeState as N


def test_an_instance_is_loaded_drained_and_stopped() -> None:
    """LOAD, LOADED, DRAIN, STOP, STOPPED: requested to gone."""
    state = I.REQUESTED
    seen = [state]
    for event in (IE.LOAD, IE.LOADED, IE.DRAIN, IE.STOP, IE.STOPPED):
        state = instance.next_state(state, event)
        seen.append(state)
    assert seen == [I.REQUESTED, I.LOADING, I.READY, I.DRAINING, I.STOPPING, I.GONE]


def test_an_instance_migrates_and_is_restored() -> None:
    """DRAIN then MIGRATE loads it again (Rule 3); FAIL then RESTORE too (Rule 4)."""
    assert instance.next_state(I.DRAINING, IE.MIGRATE) is I.LOADING
    assert instance.next_state(instance.next_state(I.READY, IE.FAIL), IE.RESTORE) is I.LOADING
    assert instance.next_state(I.UNHEALTHY, IE.GIVE_UP) is I.GONE


def test_an_illegal_instance_event_raises_with_its_data() -> None:
    """LOADED on a requested instance names the machine, the state and the event."""
    with pytest.raises(IllegalTransition) as refused:
        instance.next_state(I.REQUESTED, IE.LOADED)
    assert (refused.value.machine, refused.value.state, refused.value.target) == (
        "instance",
        "requested",
        "loaded",
    )


def test_gone_is_final() -> None:
    """Rule 2: no event leaves GONE."""
    for event in IE:
        with pytest.raises(IllegalTransition):
            instance.next_state(I.GONE, event)


def test_a_dead_node_fails_every_live_instance_of_it() -> None:
    """FAIL leaves the states ``mark_unhealthy_on`` updates, to UNHEALTHY."""
    assert instance.sources(IE.FAIL) == (I.LOADING, I.READY, I.DRAINING, I.STOPPING)
    assert instance.target(IE.FAIL) is I.UNHEALTHY


def test_every_instance_and_assignment_event_has_one_target() -> None:
    """Rule 6 (instances) and Rule 2 (assignments): one state per event."""
    for (_, ie), to in instance.TRANSITIONS.items():
        assert instance.target(ie) is to
    for (_, ae), reached in assignment.TRANSITIONS.items():
        assert assignment.target(ae) is reached


def test_a_character_is_placed_arrives_transfers_and_leaves() -> None:
    """PLACE, ARRIVE, TRANSFER, ARRIVE, RELEASE: offline to offline."""
    state = A.OFFLINE
    seen = [state]
    for event in (AE.PLACE, AE.ARRIVE, AE.TRANSFER, AE.ARRIVE, AE.RELEASE):
        state = assignment.next_state(state, event)
        seen.append(state)
    assert seen == [A.OFFLINE, A.PLACING, A.IN_WORLD, A.TRANSFERRING, A.IN_WORLD, A.OFFLINE]


@pytest.mark.parametrize("event", [AE.ARRIVE, AE.TRANSFER, AE.MIGRATE, AE.RELEASE])
def test_an_offline_character_is_only_placed(event: AE) -> None:
    """Rule 1: nothing but PLACE leaves OFFLINE."""
    with pytest.raises(IllegalTransition):
        assignment.next_state(A.OFFLINE, event)


@pytest.mark.parametrize("state", [A.PLACING, A.IN_WORLD, A.TRANSFERRING])
def test_a_character_in_the_world_may_be_moved_in_every_way(state: A) -> None:
    """Rule 3: placed again, re-attached, kept through a migration, released."""
    assert {assignment.next_state(state, e) for e in AE} == {
        A.PLACING,
        A.IN_WORLD,
        A.TRANSFERRING,
        A.OFFLINE,
    }


def test_a_node_starts_runs_drains_and_stops() -> None:
    """REGISTER, UP, DRAIN, STOP."""
    state = N.STOPPED
    seen = [state]
    for event in (NE.REGISTER, NE.UP, NE.UP, NE.DRAIN, NE.STOP):
        state = node.next_state(state, event)
        seen.append(state)
    assert seen == [N.STOPPED, N.STARTING, N.READY, N.READY, N.DRAINING, N.STOPPED]


def test_a_draining_node_stays_draining_whatever_it_reports() -> None:
    """Rule 2: UP leaves DRAINING as it is."""
    assert node.next_state(N.DRAINING, NE.UP) is N.DRAINING
    assert node.on(NE.UP)[N.DRAINING] is N.DRAINING


def test_a_silent_node_is_unhealthy_until_it_beats() -> None:
    """Rule 4: TIME_OUT, then UP makes it READY again."""
    assert node.next_state(N.READY, NE.TIME_OUT) is N.UNHEALTHY
    assert node.next_state(N.UNHEALTHY, NE.UP) is N.READY
    with pytest.raises(IllegalTransition):
        node.next_state(N.UNHEALTHY, NE.TIME_OUT)


@pytest.mark.parametrize("event", [NE.UP, NE.DRAIN, NE.TIME_OUT])
def test_only_registering_leaves_stopped(event: NE) -> None:
    """Rule 5: a stopped node comes back by registering, nothing else."""
    with pytest.raises(IllegalTransition):
        node.next_state(N.STOPPED, event)
    assert node.next_state(N.STOPPED, NE.STOP) is N.STOPPED


def test_any_node_state_registers_to_starting() -> None:
    """Rule 3: a node process that starts is STARTING whatever its row said."""
    assert node.on(NE.REGISTER) == dict.fromkeys(N, N.STARTING)


def test_instance_moves_are_the_old_table() -> None:
    """The moves the table makes are the 14 of migrations 0003 and 0004."""
    assert len(instance.MOVES) == 14
    assert all(a is not b for a, b in itertools.chain(instance.MOVES, node.MOVES))


def test_what_a_node_row_means_now() -> None:
    """Silent beats every live state; a draining world node with no space is drained."""
    from realmkit.lifecycle.node import SILENT_AFTER_S, NodeState, seen

    assert seen(NodeState.READY, "world", SILENT_AFTER_S + 1, 3) == "silent (was ready)"
    assert seen(NodeState.DRAINING, "world", 0.5, 0) == "drained"
    assert seen(NodeState.DRAINING, "world", 0.5, 1) == "draining"
    assert seen(NodeState.DRAINING, "gateway", 0.5, 0) == "draining"
    assert seen(NodeState.STOPPED, "world", 999.0, 0) == "stopped"
