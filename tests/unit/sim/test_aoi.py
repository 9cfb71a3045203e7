"""Interest management: the numpy grid agrees with a naive scan, hysteresis included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from realmkit.sim.aoi import InterestGrid, _order_by_observer_distance_entity
from realmkit.sim.grid import candidate_pairs


def naive(
    xs: list[float],
    ys: list[float],
    observers: list[int],
    visible: list[int],
    prev: set[tuple[int, int]],
    radius: float,
    hysteresis: float,
    cap: int,
) -> set[tuple[int, int]]:
    """The AOI rule stated plainly: enter at R, stay until R + h, nearest ``cap``."""
    enter, stay = radius, radius + hysteresis
    out: set[tuple[int, int]] = set()
    for o in observers:
        cands = []
        for e in visible:
            if e == o:
                continue
            dx, dy = xs[e] - xs[o], ys[e] - ys[o]
            d2 = dx * dx + dy * dy
            if d2 <= enter * enter or ((o, e) in prev and d2 <= stay * stay):
                cands.append((d2, e))
        cands.sort()
        out.update((o, e) for _, e in cands[:cap])
    return out


coord = st.floats(min_value=-300.0, max_value=300.0, allow_nan=False)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[int, list[list[tuple[float, float]]], list[int], list[int]]:
    n = draw(st.integers(min_value=1, max_value=40))
    steps = draw(st.integers(min_value=1, max_value=6))
    start = [(draw(coord), draw(coord)) for _ in range(n)]
    frames = [start]
    for _ in range(steps - 1):
        jitter = st.floats(min_value=-15.0, max_value=15.0)
        frames.append([(x + draw(jitter), y + draw(jitter)) for x, y in frames[-1]])
    observers = sorted(draw(st.sets(st.integers(0, n - 1), min_size=1)))
    visible = sorted(draw(st.sets(st.integers(0, n - 1))))
    return n, frames, observers, visible


@settings(max_examples=120, deadline=None)
@given(
    world=worlds(),
    radius=st.sampled_from([5.0, 20.0, 80.0]),
    hysteresis=st.sampled_from([0.0, 5.0, 10.0]),
    cap=st.integers(min_value=1, max_value=12),
)
def test_grid_equals_naive_scan_over_moves(
    world: tuple[int, list[list[tuple[float, float]]], list[int], list[int]],
    radius: float,
    hysteresis: float,
    cap: int,
) -> None:
    """Over a sequence of moves, grid visibility equals the naive rule step by step."""
    _, frames, observers, visible = world
    grid = InterestGrid(radius, hysteresis, cap)
    prev: set[tuple[int, int]] = set()
    obs_arr = np.array(observers, dtype=np.int64)
    vis_arr = np.array(visible, dtype=np.int64)
    for positions in frames:
        xs = [p[0] for p in positions]
        ys = [p[1] for p in positions]
        o, e = grid.update(np.array(xs), np.array(ys), obs_arr, vis_arr)
        got = set(zip(o.tolist(), e.tolist(), strict=True))
        want = naive(xs, ys, observers, visible, prev, radius, hysteresis, cap)
        assert got == want
        prev = want


def test_hysteresis_keeps_an_entity_between_r_and_r_plus_h() -> None:
    """An entity seen at R stays seen at R + h/2, is dropped beyond R + h, re-enters at R."""
    grid = InterestGrid(80.0, 5.0, 10)
    obs = np.array([0], dtype=np.int64)
    vis = np.array([1], dtype=np.int64)

    def sees(d: float) -> bool:
        o, _ = grid.update(np.array([0.0, d]), np.array([0.0, 0.0]), obs, vis)
        return o.size == 1

    assert not sees(82.0)
    assert sees(80.0)
    assert sees(84.0)
    assert not sees(85.5)
    assert not sees(83.0)
    assert sees(79.0)


def test_cap_keeps_the_nearest() -> None:
    """With more candidates than the cap, the observer sees the nearest ones."""
    grid = InterestGrid(100.0, 0.0, 3)
    xs = np.array([0.0, 50.0, 10.0, 40.0, 20.0, 30.0])
    o, e = grid.update(xs, np.zeros(6), np.array([0], dtype=np.int64), np.arange(6))
    assert o.tolist() == [0, 0, 0]
    assert e.tolist() == [2, 4, 5]


def test_forget_drops_pairs_of_a_freed_slot() -> None:
    """A freed slot loses its hysteresis memory, so a newcomer in it must enter at R."""
    grid = InterestGrid(10.0, 10.0, 10)
    obs = np.array([0], dtype=np.int64)
    vis = np.array([1], dtype=np.int64)
    grid.update(np.array([0.0, 5.0]), np.zeros(2), obs, vis)
    grid.forget(1)
    o, _ = grid.update(np.array([0.0, 15.0]), np.zeros(2), obs, vis)
    assert o.size == 0


@settings(max_examples=60, deadline=None)
@given(
    pts=st.lists(st.tuples(coord, coord), min_size=1, max_size=60),
    cell=st.sampled_from([1.0, 7.5, 50.0]),
)
def test_candidate_pairs_cover_every_close_pair(
    pts: list[tuple[float, float]], cell: float
) -> None:
    """Every pair closer than the cell size is among the grid's candidates."""
    xs = np.array([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    qi, pj = candidate_pairs(xs, ys, xs, ys, cell)
    got = set(zip(qi.tolist(), pj.tolist(), strict=True))
    for i in range(len(pts)):
        for j in range(len(pts)):
            if (xs[i] - xs[j]) ** 2 + (ys[i] - ys[j]) ** 2 < cell * cell:
                assert (i, j) in got


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 70_000), st.sampled_from([0.0, 1.5, 2.0, 9.25]), st.integers(0, 70_000)
        ),
        max_size=50,
    ),
    small=st.booleans(),
)
def test_fast_ordering_equals_lexsort(rows: list[tuple[int, float, int]], small: bool) -> None:
    """The radix-based ordering of pairs equals lexsort by (observer, distance, entity)."""
    obs = np.array([r[0] % 300 if small else r[0] for r in rows], dtype=np.int64)
    d2 = np.array([r[1] for r in rows], dtype=np.float64)
    ent = np.array([r[2] % 2000 if small else r[2] for r in rows], dtype=np.int64)
    got = _order_by_observer_distance_entity(obs, d2, ent)
    assert got.tolist() == np.lexsort((ent, d2, obs)).tolist()
