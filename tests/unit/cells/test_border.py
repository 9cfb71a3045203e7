"""Ghost margins and border crossings with hysteresis."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from realmkit.cells.border import Margins, crossings, ghost_targets
from realmkit.cells.partition import Axis, Partition, Rect
from realmkit.content.loader import classic_pack_path, load_pack

BOUNDS = Rect(0.0, 0.0, 2048.0, 2048.0)
M = Margins(view=85.0, cross=4.0, travel=2.0, min_stay=20)
BORDER_X = 1024.0
TWO = Partition.single(BOUNDS).split(1, Axis.X, BORDER_X)
OWNED = np.ones(1, dtype=bool)


def _arr(*v: float) -> np.ndarray:
    return np.array(v, dtype=np.float64)


def test_margins_of_the_continent() -> None:
    """The ghost margin covers view radius, view hysteresis, the cross margin and travel."""
    pack = load_pack(classic_pack_path())
    m = Margins.of_map(pack.maps[1], fastest=pack.player.run_speed)
    assert m.ghost == m.view + m.cross + m.travel
    assert m.view == 85.0
    assert m.travel > pack.player.run_speed / 20
    assert m.min_stay == 20
    assert m.min_cell == 2 * m.ghost


def test_entities_near_a_border_are_ghosted_to_the_neighbour() -> None:
    """Only entities within the ghost margin of the neighbour's rectangle are sent to it."""
    x = _arr(1024.0 - M.ghost + 0.5, 1024.0 - M.ghost - 0.5, 500.0)
    y = _arr(10.0, 10.0, 10.0)
    assert {c: list(i) for c, i in ghost_targets(TWO, 1, M, x, y).items()} == {2: [0]}


@given(
    st.floats(BORDER_X - 120.0, BORDER_X + 4.0),
    st.floats(0.0, 2048.0),
    st.floats(0.0, 1.0),
    st.floats(-1.5, 1.5),
)
def test_a_player_sees_everything_in_range_across_the_border(
    ox: float, oy: float, reach: float, heading: float
) -> None:
    """Whatever a player owned by A may see (within view, standing at most `cross`
    outside A) that B owns reaches A as a ghost."""
    ex = ox + reach * M.view * np.cos(heading)
    ey = oy + reach * M.view * np.sin(heading)
    assume(0.0 <= ey <= 2048.0 and TWO.cell_at(ex, ey) == 2)
    assert TWO.rect(1).distance(ox, oy) <= M.cross  # the observer is still A's
    sent = ghost_targets(TWO, 2, M, _arr(ex), _arr(ey))
    assert list(sent.get(1, [])) == [0]


def test_an_entity_crosses_once_it_is_past_the_margin_and_has_stayed() -> None:
    """Crossing needs both: more than `cross` past the border, and `min_stay` ticks."""
    x = _arr(1024.0 + M.cross + 0.1, 1024.0 + M.cross - 0.1, 1024.0 + 50.0)
    y = _arr(5.0, 5.0, 5.0)
    arrived = np.array([0, 0, 95], dtype=np.int64)
    index, to = crossings(TWO, 1, M, x, y, np.ones(3, dtype=bool), arrived, tick=100)
    assert list(index) == [0]
    assert list(to) == [2]


def test_only_what_the_cell_owns_crosses() -> None:
    """A ghost held past the border (the neighbour's entity) is never handed over."""
    x = _arr(1024.0 + 30.0, 1024.0 + 30.0)
    owned = np.array([False, True])
    index, to = crossings(TWO, 1, M, x, _arr(5.0, 5.0), owned, np.zeros(2, np.int64), tick=100)
    assert list(index) == [1]
    assert list(to) == [2]


@given(
    st.lists(
        st.tuples(
            st.floats(BORDER_X - 60.0, BORDER_X + 60.0),
            st.floats(-10.0, 30.0),
            st.booleans(),
            st.integers(0, 100),
        ),
        max_size=12,
    )
)
def test_crossings_are_the_plain_rule(entities: list[tuple[float, float, bool, int]]) -> None:
    """An entity leaves cell 1 for the cell it stands in exactly when cell 1 owns it,
    it is more than `cross` outside and it has stayed `min_stay` ticks."""
    x = _arr(*(e[0] for e in entities))
    y = _arr(*(e[1] for e in entities))
    owned = np.array([e[2] for e in entities], dtype=bool)
    arrived = np.array([e[3] for e in entities], dtype=np.int64)
    index, to = crossings(TWO, 1, M, x, y, owned, arrived, tick=110)
    want = [
        (i, TWO.cell_at(ex, ey))
        for i, (ex, ey, mine, came) in enumerate(entities)
        if mine and TWO.rect(1).distance(ex, ey) > M.cross and 110 - came >= M.min_stay
    ]
    assert list(zip(index.tolist(), to.tolist(), strict=True)) == want


def test_walking_along_a_border_never_hands_over() -> None:
    """An entity zig-zagging within `cross` of the border stays with its owner."""
    owner = 1
    rng = np.random.default_rng(7)
    for tick in range(200):
        x = _arr(1024.0 + rng.uniform(-M.cross, M.cross))
        index, _ = crossings(TWO, owner, M, x, _arr(300.0), OWNED, np.array([0]), tick)
        assert index.size == 0


def test_knocked_back_and_forth_it_changes_owner_at_most_once_per_stay() -> None:
    """Pushed far over the border every tick, an entity hands over at most once per min_stay."""
    owner, arrived, handovers = 1, 0, []
    for tick in range(1, 120):
        x = 1024.0 + (30.0 if tick % 2 else -30.0)
        index, to = crossings(TWO, owner, M, _arr(x), _arr(10.0), OWNED, np.array([arrived]), tick)
        if index.size:
            owner, arrived = int(to[0]), tick
            handovers.append(tick)
    assert len(handovers) >= 2
    assert all(b - a >= M.min_stay for a, b in itertools.pairwise(handovers))
