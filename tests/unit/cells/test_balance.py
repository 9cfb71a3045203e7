"""When the leader splits or merges cells, or moves the border between two: the decision
alone, over random layouts and loads."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from realmkit.cells.balance import (
    CellLoad,
    MergeAway,
    MoveBorder,
    Rules,
    SplitAt,
    border,
    decide,
    imbalance,
    move_of,
    split_of,
    uneven,
)
from realmkit.cells.partition import Axis, Partition, Rect

BOUNDS = Rect(0.0, 0.0, 2048.0, 2048.0)
RULES = Rules(split_players=20, merge_players=5, split_tick_ms=30.0, min_cell=100.0)
# Splits only far above the loads below, so moves are what is left to decide.
MOVES = Rules(
    split_players=400,
    merge_players=5,
    split_tick_ms=30.0,
    min_cell=100.0,
    move_players=20,
    move_ratio=2.0,
    move_by=16.0,
)


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
    elif isinstance(change, MoveBorder):
        layout.move(change.path, change.at, RULES.min_cell)  # a legal move
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


def _pair(at: float = 1024.0) -> Partition:
    """Two cells, split at ``at`` along x: 1 the west, 2 the east."""
    return Partition.single(BOUNDS).split(1, Axis.X, at, MOVES.min_cell)


def _spread(n: int, x0: float, x1: float, tick: float = 5.0) -> CellLoad:
    xs = tuple(x0 + (x1 - x0) * i / max(n - 1, 1) for i in range(n))
    return CellLoad(n, tick, xs, (500.0,) * n)


def test_a_crowded_cell_gives_its_sibling_half_of_the_crowd() -> None:
    """One cell holds far more players than its sibling: their border moves into the
    crowd, to the median of both cells' players, so each holds about half."""
    layout = _pair()
    loads = {1: _spread(60, 400.0, 1000.0), 2: _spread(6, 1100.0, 1600.0)}
    change = decide(layout, loads, MOVES)
    assert isinstance(change, MoveBorder)
    assert (change.cell, change.path) == (1, "")
    assert change.at < 1024.0
    moved = layout.move(change.path, change.at, MOVES.min_cell)
    spots = [*loads[1].xs, *loads[2].xs]
    west = sum(1 for x in spots if moved.cell_at(x, 500.0) == 1)
    assert abs(2 * west - len(spots)) <= 1


def test_the_east_side_moves_the_line_the_other_way() -> None:
    """The busy cell is the high one: the line moves up, into it."""
    layout = _pair()
    loads = {1: _spread(4, 300.0, 900.0), 2: _spread(50, 1050.0, 1700.0)}
    change = decide(layout, loads, MOVES)
    assert isinstance(change, MoveBorder)
    assert change.cell == 2
    assert change.at > 1024.0


def test_a_hot_cell_too_narrow_to_split_shares_with_its_sibling() -> None:
    """A hot cell whose split is refused (too narrow for two halves of ``min_cell``)
    gives part of its area to its sibling instead, no narrower than ``min_cell``."""
    layout = _pair(150.0)
    loads = {1: _spread(40, 20.0, 148.0), 2: _spread(3, 400.0, 1800.0)}
    assert split_of(layout, 1, loads[1], RULES.min_cell) is None
    change = decide(layout, loads, RULES)
    assert isinstance(change, MoveBorder)
    assert change.cell == 1
    assert RULES.min_cell < change.at < 150.0 - RULES.move_by
    assert layout.move(change.path, change.at, RULES.min_cell).rect(1).width >= RULES.min_cell


def test_a_crowd_hugging_the_border_is_shared_when_no_split_would_cut_it() -> None:
    """A crowd at the edge of a hot cell, next to its sibling: a split of the cell is
    refused (its cut would leave the crowd on one side), the border moves through it."""
    layout = _pair()
    loads = {1: _spread(40, 960.0, 1020.0), 2: CellLoad(0, 2.0)}
    assert split_of(layout, 1, loads[1], RULES.min_cell) is None
    change = decide(layout, loads, RULES)
    assert isinstance(change, MoveBorder)
    assert 960.0 < change.at < 1020.0


def test_even_or_small_or_near_loads_leave_the_border() -> None:
    """The dead band: no move unless the busier cell has more than twice the other's
    players and at least ``move_players``, or the line would move more than
    ``move_by``; and a crowd on one spot is shared by no line."""
    layout = _pair()
    even = {1: _spread(30, 400.0, 1000.0), 2: _spread(20, 1100.0, 1600.0)}
    assert decide(layout, even, MOVES) is None
    few = {1: _spread(15, 400.0, 1000.0), 2: _spread(1, 1100.0, 1600.0)}
    assert decide(layout, few, MOVES) is None  # under move_players
    near = {1: _spread(40, 1000.0, 1020.0), 2: _spread(10, 1025.0, 1030.0)}
    assert decide(layout, near, MOVES) is None  # the median is within move_by of the line
    spot = {1: CellLoad(40, 5.0, (900.0,) * 40, (500.0,) * 40), 2: CellLoad(0, 1.0)}
    assert decide(layout, spot, MOVES) is None


def test_a_slow_tick_moves_only_towards_the_slow_cell() -> None:
    """A cell ticking far slower than its sibling moves the line into itself when its
    players' median lies there, never the other way."""
    layout = _pair()
    slow_west = {1: _spread(10, 200.0, 900.0, tick=25.0), 2: _spread(2, 1100.0, 1200.0, 2.0)}
    change = decide(layout, slow_west, MOVES)
    assert isinstance(change, MoveBorder)
    assert (change.cell, change.at < 1024.0) == (1, True)
    # The east is slower but the players stand west: no move would relieve it.
    slow_east = {1: _spread(10, 200.0, 900.0, tick=2.0), 2: _spread(2, 1100.0, 1200.0, 25.0)}
    assert decide(layout, slow_east, MOVES) is None


def test_no_border_for_a_cell_whose_sibling_is_split() -> None:
    layout = _pair().split(2, Axis.Y, 1024.0, MOVES.min_cell)
    assert border(layout, 1) is None
    found = border(layout, 2)
    assert found is not None
    assert (found.path, found.low, found.high, found.axis) == ("h", 2, 3, Axis.Y)


@st.composite
def _loads(draw: st.DrawFn, layout: Partition) -> dict[int, CellLoad]:
    loads = {}
    for cell, rect in layout.cells.items():
        n = draw(st.integers(0, 60))
        # Inside the cell as ``cell_at`` has it: its high edges belong to the next one.
        xs = tuple(draw(st.floats(rect.min_x, rect.max_x, exclude_max=True)) for _ in range(n))
        ys = tuple(draw(st.floats(rect.min_y, rect.max_y, exclude_max=True)) for _ in range(n))
        loads[cell] = CellLoad(n, draw(st.floats(0.0, 29.0)), xs, ys)
    return loads


def _sides(layout: Partition, cell: int, loads: dict[int, CellLoad]) -> list[float]:
    found = border(layout, cell)
    assert found is not None
    return [
        v
        for c in (found.low, found.high)
        for v in (loads[c].xs if found.axis is Axis.X else loads[c].ys)
    ]


@settings(max_examples=300, deadline=None)
@given(layout=_layouts(), data=st.data())
def test_a_moved_border_tiles_keeps_min_cell_and_evens_the_players(
    layout: Partition, data: st.DataObject
) -> None:
    """Whatever the layout and loads, a move is a legal move of a split between two
    sibling cells: the layout still tiles the map, no cell is narrower than
    ``min_cell``, the busy cell shrinks, and the two cells' players stand more evenly
    on either side of the new line than of the old."""
    loads = data.draw(_loads(layout))
    change = decide(layout, loads, MOVES)
    if not isinstance(change, MoveBorder):
        return
    found = border(layout, change.cell)
    assert found is not None
    assert found.path == change.path
    assert uneven(loads[change.cell], loads[found.other(change.cell)], MOVES)
    moved = layout.move(change.path, change.at, MOVES.min_cell)
    assert moved.version == layout.version + 1
    assert set(moved.cells) == set(layout.cells)
    assert math.isclose(sum(r.area for r in moved.cells.values()), BOUNDS.area)
    for rect in moved.cells.values():
        assert min(rect.width, rect.height) >= MOVES.min_cell
    for cell in set(layout.cells) - {found.low, found.high}:
        assert moved.rect(cell) == layout.rect(cell)
    assert moved.rect(change.cell).area < layout.rect(change.cell).area
    assert abs(change.at - found.at) > MOVES.move_by
    spots = _sides(layout, change.cell, loads)
    assert imbalance(spots, change.at) < imbalance(spots, found.at)


@settings(max_examples=200, deadline=None)
@given(layout=_layouts(), data=st.data(), base=st.integers(0, 30))
def test_no_move_between_even_cells(layout: Partition, data: st.DataObject, base: int) -> None:
    """Cells whose players are within ``move_ratio`` of each other's, ticking well
    under the split threshold, never see a border moved."""
    loads = {}
    for cell, rect in layout.cells.items():
        n = data.draw(st.integers(base, 2 * base))
        xs = tuple(data.draw(st.floats(rect.min_x, rect.max_x)) for _ in range(n))
        ys = tuple(data.draw(st.floats(rect.min_y, rect.max_y)) for _ in range(n))
        loads[cell] = CellLoad(n, data.draw(st.floats(0.0, 15.0)), xs, ys)
    assert not isinstance(decide(layout, loads, MOVES), MoveBorder)


@settings(max_examples=200, deadline=None)
@given(layout=_layouts(), data=st.data())
def test_a_moved_border_does_not_move_back(layout: Partition, data: st.DataObject) -> None:
    """Once a border moved, the same players, counted in the cells the new layout puts
    them in, ask for no second move of it: the border does not flap."""
    loads = data.draw(_loads(layout))
    change = decide(layout, loads, MOVES)
    if not isinstance(change, MoveBorder):
        return
    found = border(layout, change.cell)
    assert found is not None
    moved = layout.move(change.path, change.at, MOVES.min_cell)
    recounted: dict[int, list[tuple[float, float]]] = {c: [] for c in moved.cells}
    for load in loads.values():
        for x, y in zip(load.xs, load.ys, strict=True):
            recounted[moved.cell_at(x, y)].append((x, y))
    again = {
        c: CellLoad(len(p), loads[c].tick_p99_ms, tuple(x for x, _ in p), tuple(y for _, y in p))
        for c, p in recounted.items()
    }
    for cell in (found.low, found.high):
        assert move_of(moved, cell, again, MOVES) is None


def test_the_cooldown_counts_from_any_change_a_leader_sees() -> None:
    """A leader's own change, a change it sees (by hand), and for a new leader the
    store's age of the partition all start the cooldown."""
    from realmkit.cells.balance import Cooldowns

    c = Cooldowns(cooldown=30.0)
    assert c.ready(1, version=2, age=100.0, now=1000.0)  # changed long ago
    c.changed(1, now=1000.0)  # this leader changed it
    assert not c.ready(1, version=3, age=0.0, now=1010.0)
    assert c.ready(1, version=3, age=0.0, now=1040.0)
    assert not c.ready(1, version=4, age=0.0, now=1050.0)  # split by hand since
    assert c.ready(1, version=4, age=0.0, now=1080.0)
    successor = Cooldowns(cooldown=30.0)
    assert not successor.ready(1, version=4, age=10.0, now=5.0)  # changed 10 s ago
    assert successor.ready(1, version=4, age=10.0, now=25.0)
