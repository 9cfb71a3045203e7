"""Where a new instance goes: odds in proportion to a node's free places."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from realmkit.errors import Unavailable
from realmkit.routing.world_nodes import WorldCandidate, pick_world_node


def _draw(
    candidates: list[WorldCandidate], n: int = 2000, avoid: str | None = None
) -> Counter[str]:
    rng = random.Random(11)
    return Counter(pick_world_node(candidates, avoid, rng) for _ in range(n))


def test_a_burst_of_instances_spreads_over_equally_free_nodes() -> None:
    nodes = [WorldCandidate("world-1", 2000, 210), WorldCandidate("world-2", 2000, 190)]
    drawn = _draw(nodes)
    assert set(drawn) == {"world-1", "world-2"}
    assert 0.4 < drawn["world-1"] / 2000 < 0.6


def test_seats_held_by_instanced_maps_count_as_taken() -> None:
    nodes = [
        WorldCandidate("world-1", 1000, 0, reserved=900),  # 100 free
        WorldCandidate("world-2", 1000, 100),  # 900 free
    ]
    drawn = _draw(nodes)
    assert 0.05 < drawn["world-1"] / 2000 < 0.15


def test_a_full_node_is_never_chosen() -> None:
    nodes = [WorldCandidate("world-1", 100, 100), WorldCandidate("world-2", 100, 99)]
    assert set(_draw(nodes, 200)) == {"world-2"}
    with pytest.raises(Unavailable):
        pick_world_node([WorldCandidate("world-1", 100, 100)])


def test_the_avoided_node_only_when_no_other_has_room() -> None:
    nodes = [WorldCandidate("world-1", 100, 0), WorldCandidate("world-2", 100, 50)]
    assert set(_draw(nodes, 200, avoid="world-1")) == {"world-2"}
    full = [WorldCandidate("world-1", 100, 0), WorldCandidate("world-2", 100, 100)]
    assert set(_draw(full, 50, avoid="world-1")) == {"world-1"}
