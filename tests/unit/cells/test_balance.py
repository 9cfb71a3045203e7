"""When the leader splits or merges cells: the decision alone, over random layouts and loads."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from realmkit.cells.balance import CellLoad, MergeAway, Rules, SplitAt, decide, split_of
from realmkit.cells.partition import Axis, Partition, Rect

BOUNDS = Rect(0.0, 0.0, 2048.0, 2048.0)
RULES = Rules(split_players=20, merge_players=5, split_tick_ms=30.0, min_cell=100.0)


def _crowd(n: int, x: float, y: float, spread: float = 10.0) -> CellLoad:
    xs = tuple(x + spread * (i % 5) for i in range(n))
    ys = tuple(y + spread * (i // 5) for i in range(n))
    return CellLoad(n, 5.0, xs, ys)


def test_a_crowded_cell_is_split_through_its_crowd() -> None:
    """Over the players' threshold, a cell is cut across its longer side at the crowd's
    median: each half takes about half of the crowd."""
    layout = Partition.single(BOUNDS)
    load = _crowd(30, 600.0, 900.0)
    change = decide(layout, {1: load}, RULES)
    assert isinstance(change, SplitAt)
    assert (change.cell, change.axis) == (1, Axis.X)
    west = sum(1 for x in load.xs if x < change.at)
    assert 10 <= west <= 20


def test_a_slow_tick_splits_too_and_a_cut_keeps_clear_of_the_edges() -> None:
    """A tick over the threshold splits a cell with few players; a crowd at an edge is
    cut no closer than ``min_cell`` to it."""
    layout = Partition.single(BOUNDS)
    load = CellLoad(3, 45.0, (5.0, 6.0, 7.0), (5.0, 6.0, 7.0))
    change = decide(layout, {1: load}, RULES)
    assert isinstance(change, SplitAt)
    assert change.at > RULES.min_cell
    layout.split(change.cell, change.axis, change.at, RULES.min_cell)  # a legal cut


def test_cold_siblings_merge_and_warm_ones_stay() -> None:
    layout = Partition.single(BOUNDS).split(1, Axis.X, 1024.0, RULES.min_cell)
    cold = {1: CellLoad(2, 4.0), 2: CellLoad(3, 4.0)}
    assert decide(layout, cold, RULES) == MergeAway(2)
    warm = {1: CellLoad(2, 4.0), 2: CellLoad(4, 4.0)}
    assert decide(layout, warm, RULES) is None  # 6 players: over the merge threshold
    busy_tick = {1: CellLoad(0, 9.0), 2: CellLoad(0, 7.0)}
    assert decide(layout, busy_tick, RULES) is None  # together not well under the split tick


def test_a_crowd_on_one_spot_is_not_cut() -> None:
    """Players all standing at one point: any cut leaves one half empty, so none."""
    layout = Partition.single(BOUNDS)
    spot = CellLoad(40, 5.0, (500.0,) * 40, (700.0,) * 40)
    assert decide(layout, {1: spot}, RULES) is None


def test_a_cell_too_small_to_cut_is_left_alone() -> None:
    layout = Partition.single(Rect(0.0, 0.0, 150.0, 150.0))
    assert decide(layout, {1: _crowd(40, 70.0, 70.0)}, RULES) is None


@st.composite
def _layouts(draw: st.DrawFn) -> Partition:
    layout = Partition.single(BOUNDS)
    for _ in range(draw(st.integers(0, 6))):
        cell = draw(st.sampled_from(sorted(layout.cells)))
        rect = layout.rect(cell)
        axis = draw(st.sampled_from(list(Axis)))
        lo, hi = rect.low(axis) + RULES.min_cell, rect.high(axis) - RULES.min_cell
        if hi - lo > 2.0:
            layout = layout.split(cell, axis, draw(st.floats(lo + 1.0, hi - 1.0)), RULES.min_cell)
    return layout


@settings(max_examples=200, deadline=None)
@given(layout=_layouts(), data=st.data())
def test_every_decision_is_a_legal_change_of_the_layout(
    layout: Partition, data: st.DataObject
) -> None:
    """Whatever the layout and loads, a split cuts where the partition allows it and a
    merge joins two sibling cells; and nothing merges while a cell is over a threshold
    and could be split."""
    loads = {}
    for cell, rect in layout.cells.items():
        n = data.draw(st.integers(0, 40))
        xs = tuple(data.draw(st.floats(rect.min_x, rect.max_x)) for _ in range(min(n, 5)))
        ys = tuple(data.draw(st.floats(rect.min_y, rect.max_y)) for _ in range(min(n, 5)))
        loads[cell] = CellLoad(n, data.draw(st.floats(0.0, 60.0)), xs, ys)
    change = decide(layout, loads, RULES)
    if isinstance(change, SplitAt):
        after = layout.split(change.cell, change.axis, change.at, RULES.min_cell)
        assert len(after.cells) == len(layout.cells) + 1
    elif isinstance(change, MergeAway):
        sibling = layout.sibling(change.cell)
        assert sibling is not None
        assert sibling < change.cell
        assert loads[change.cell].players + loads[sibling].players <= RULES.merge_players
        assert loads[change.cell].tick_p99_ms + loads[sibling].tick_p99_ms <= 15.0
        layout.merge(change.cell)
        hot = [
            c
            for c, load in loads.items()
            if load.players > RULES.split_players or load.tick_p99_ms > RULES.split_tick_ms
        ]
        for c in hot:  # none of them could be cut (too small, or a crowd on one spot)
            assert split_of(layout, c, loads[c], RULES.min_cell) is None
