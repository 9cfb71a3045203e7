"""Bots wander inside the map they are in (the gateway cuts off clients that keep
walking out of it)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from realmkit.client.bots import MARGIN, inside
from realmkit.content.schema import Bounds
from realmkit.sim.movement import check_position

coords = st.floats(-5000.0, 5000.0)


@given(
    st.floats(-1000.0, 1000.0),
    st.floats(-1000.0, 1000.0),
    st.floats(1.0, 2000.0),
    st.floats(1.0, 2000.0),
    coords,
    coords,
)
def test_every_target_is_inside_the_map(
    min_x: float, min_y: float, width: float, depth: float, x: float, y: float
) -> None:
    bounds = Bounds(min_x, min_y, min_x + width, min_y + depth)
    tx, ty = inside(bounds, x, y)
    assert check_position(bounds, tx, ty, 0.0, 0.0) == "ok"
    for v, low, high in ((tx, bounds.min_x, bounds.max_x), (ty, bounds.min_y, bounds.max_y)):
        if high - low >= 2 * MARGIN:
            assert low + MARGIN <= v <= high - MARGIN
        else:
            assert v == (low + high) / 2


def test_a_point_well_inside_stays_and_one_outside_comes_to_the_edge() -> None:
    arena = Bounds(0.0, 0.0, 80.0, 80.0, -10.0, 20.0)  # classic's Sunken Ring
    assert inside(arena, 40.0, 33.0) == (40.0, 33.0)
    assert inside(arena, -25.0, 95.0) == (MARGIN, 80.0 - MARGIN)
