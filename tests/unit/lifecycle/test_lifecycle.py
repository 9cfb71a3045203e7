"""The instance lifecycle: legal moves only, GONE final, only READY takes players."""

from __future__ import annotations

import itertools

import pytest

from realmkit.errors import IllegalTransition
from realmkit.lifecycle.instance import INSTANCE_MOVES, check_instance_move, routable
from realmkit.lifecycle.instance import InstanceState as I


def test_the_happy_path_is_legal() -> None:
    """REQUESTED -> LOADING -> READY -> DRAINING -> STOPPING -> GONE."""
    path = [I.REQUESTED, I.LOADING, I.READY, I.DRAINING, I.STOPPING, I.GONE]
    for current, target in itertools.pairwise(path):
        check_instance_move(current, target)


@pytest.mark.parametrize("live", [I.LOADING, I.READY, I.DRAINING, I.STOPPING])
def test_any_live_state_can_turn_unhealthy(live: I) -> None:
    """A node dying makes any live instance UNHEALTHY."""
    check_instance_move(live, I.UNHEALTHY)


def test_gone_is_final_and_shortcuts_are_refused() -> None:
    """Nothing leaves GONE; READY cannot be reached without LOADING."""
    for target in I:
        with pytest.raises(IllegalTransition):
            check_instance_move(I.GONE, target)
    with pytest.raises(IllegalTransition):
        check_instance_move(I.REQUESTED, I.READY)


def test_only_ready_instances_take_players() -> None:
    """Rule 1 of the lifecycle."""
    assert [s for s in I if routable(s)] == [I.READY]
    assert set(INSTANCE_MOVES) == set(I)
