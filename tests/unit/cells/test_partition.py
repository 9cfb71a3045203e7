"""The k-d partition of a continent: tiling, lookup, neighbours, changes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from realmkit.cells.partition import Axis, Partition, Rect
from realmkit.errors import InvalidInput, NotFound

BOUNDS = Rect(0.0, 0.0, 2048.0, 2048.0)
MIN = 64.0


def _tiles(p: Partition) -> None:
    rects = list(p.cells.values())
    assert math.isclose(sum(r.area for r in rects), p.bounds.area)
    for i, a in enumerate(rects):
        assert a.width >= MIN - 1e-9
        assert a.height >= MIN - 1e-9
        for b in rects[i + 1 :]:
            overlap_x = min(a.max_x, b.max_x) - max(a.min_x, b.min_x)
            overlap_y = min(a.max_y, b.max_y) - max(a.min_y, b.min_y)
            assert overlap_x <= 0 or overlap_y <= 0, (a, b)


class PartitionMachine(RuleBasedStateMachine):
    """Any sequence of splits, merges and border moves keeps a tiling."""

    def __init__(self) -> None:
        super().__init__()
        self.p = Partition.single(BOUNDS)
        self.ever: set[int] = {1}

    @rule(data=st.data(), axis=st.sampled_from(list(Axis)), frac=st.floats(0.0, 1.0))
    def split(self, data: st.DataObject, axis: Axis, frac: float) -> None:
        cell = data.draw(st.sampled_from(sorted(self.p.cells)))
        r = self.p.rect(cell)
        at = r.low(axis) + frac * r.size(axis)
        before = self.p
        try:
            self.p = self.p.split(cell, axis, at, MIN)
        except InvalidInput:
            assert not r.low(axis) + MIN < at < r.high(axis) - MIN
            return
        new = set(self.p.cells) - set(before.cells)
        assert len(new) == 1
        assert not new & self.ever
        self.ever |= new
        assert self.p.version == before.version + 1

    @rule(data=st.data())
    def merge(self, data: st.DataObject) -> None:
        cell = data.draw(st.sampled_from(sorted(self.p.cells)))
        sibling = self.p.sibling(cell)
        before = self.p
        if sibling is None:
            with pytest.raises(InvalidInput):
                self.p.merge(cell)
            return
        self.p = self.p.merge(cell)
        assert set(before.cells) - set(self.p.cells) == {max(cell, sibling)}
        merged = self.p.rect(min(cell, sibling))
        assert math.isclose(merged.area, before.rect(cell).area + before.rect(sibling).area)

    @rule(data=st.data(), frac=st.floats(0.0, 1.0))
    def move(self, data: st.DataObject, frac: float) -> None:
        splits = list(self.p.splits())
        if not splits:
            return
        path, split, rect = data.draw(st.sampled_from(splits))
        at = rect.low(split.axis) + frac * rect.size(split.axis)
        try:
            self.p = self.p.move(path, at, MIN)
        except InvalidInput:
            return

    @invariant()
    def tiles_the_map(self) -> None:
        _tiles(self.p)

    @invariant()
    def every_point_in_exactly_the_cell_named(self) -> None:
        rng = np.random.default_rng(len(self.p.cells) + self.p.version)
        xs, ys = rng.uniform(0, 2048, 64), rng.uniform(0, 2048, 64)
        found = self.p.cells_at(xs, ys)
        for x, y, cell in zip(xs, ys, found, strict=True):
            assert self.p.cell_at(float(x), float(y)) == cell
            holders = [
                c
                for c, r in self.p.cells.items()
                if r.min_x <= x < r.max_x and r.min_y <= y < r.max_y
            ]
            assert holders == [cell]

    @invariant()
    def near_is_symmetric(self) -> None:
        for cell in self.p.cells:
            for other in self.p.near(cell, 100.0):
                assert cell in self.p.near(other, 100.0)

    @invariant()
    def survives_storage(self) -> None:
        assert Partition.load(self.p.dump()) == self.p


TestPartitionMachine = PartitionMachine.TestCase
TestPartitionMachine.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


def test_a_fresh_continent_is_one_cell() -> None:
    """A new continent is cell 1 over the whole map, version 1."""
    p = Partition.single(BOUNDS)
    assert p.cells == {1: BOUNDS}
    assert p.version == 1
    assert p.cell_at(-50.0, 5000.0) == 1


def test_split_keeps_the_low_half_and_names_the_high_half() -> None:
    """A split cuts at the given line: the low half keeps the id, the high half is new."""
    p = Partition.single(BOUNDS).split(1, Axis.X, 1000.0)
    assert p.cells == {1: Rect(0, 0, 1000, 2048), 2: Rect(1000, 0, 2048, 2048)}
    assert p.cell_at(999.9, 10) == 1
    assert p.cell_at(1000.0, 10) == 2
    assert p.near(1, 0.0) == (2,)


def test_points_outside_the_map_belong_to_the_nearest_cell() -> None:
    """An entity just outside the bounds (clamped by movement) still has an owner."""
    p = Partition.single(BOUNDS).split(1, Axis.X, 1000.0)
    assert p.cell_at(-1.0, -1.0) == 1
    assert p.cell_at(3000.0, 10.0) == 2


def test_too_thin_a_split_is_refused() -> None:
    """A split that leaves a part under min_size is refused, nothing changed."""
    p = Partition.single(BOUNDS)
    with pytest.raises(InvalidInput):
        p.split(1, Axis.Y, 30.0, min_size=MIN)
    with pytest.raises(NotFound):
        p.split(7, Axis.Y, 1000.0)


def test_a_border_moves_only_as_far_as_the_cells_behind_it_allow() -> None:
    """Moving a border stops short of the next border on the same axis."""
    p = Partition.single(BOUNDS).split(1, Axis.X, 1024.0).split(2, Axis.X, 1500.0)
    moved = p.move("", 1200.0, MIN)
    assert moved.rect(1).max_x == 1200.0
    assert moved.rect(2).min_x == 1200.0
    with pytest.raises(InvalidInput):
        p.move("", 1480.0, MIN)
    with pytest.raises(NotFound):
        p.move("lll", 10.0)


def test_corner_cells_are_near_within_the_margin() -> None:
    """Diagonal cells count as near: ghosts reach across corners."""
    p = (
        Partition.single(BOUNDS)
        .split(1, Axis.X, 1024.0)
        .split(1, Axis.Y, 1024.0)
        .split(2, Axis.Y, 1024.0)
    )
    corner = {c for c, r in p.cells.items() if r.min_x == 1024.0 and r.min_y == 1024.0}
    assert corner <= set(p.near(1, 1.0))


@given(
    st.lists(st.integers(), max_size=3)
    | st.just({"bounds": [0, 0, 1, 1], "root": 5, "version": 1, "next_cell": 2})
)
def test_loading_garbage_is_refused(data: object) -> None:
    """A stored partition that does not describe a tiling is refused."""
    with pytest.raises(InvalidInput):
        Partition.load(data)  # type: ignore[arg-type]


def test_loading_a_split_outside_its_cell_is_refused() -> None:
    """A split line outside its rectangle would leave an empty cell."""
    bad = {"bounds": [0, 0, 100, 100], "root": ["x", 150.0, 1, 2], "version": 2, "next_cell": 3}
    with pytest.raises(InvalidInput):
        Partition.load(bad)


def test_the_only_cell_cannot_be_merged() -> None:
    """A continent of one cell has nothing to merge it with: said so, not "sibling"."""
    with pytest.raises(InvalidInput, match="only cell"):
        Partition.single(Rect(0, 0, 100, 100)).merge(1)
