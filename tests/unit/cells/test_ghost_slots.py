"""A cell's ghost slots and border rows against their rules stated row by row in Python."""

from __future__ import annotations

import msgspec
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from realmkit.cells.border import Margins
from realmkit.cells.ghosts import GHOST_COLUMNS, GhostRows
from realmkit.cells.partition import Axis, Partition, Rect
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.content.schema import Point, SpawnDef
from realmkit.sim import cell as cells
from realmkit.sim.creatures import Ai
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState
from realmkit.sim.store import GHOST_OFFSET, Kind
from realmkit.sim.world import World

PACK = load_pack(classic_pack_path())
CONTINENT = 1
CENTER = 1024.0
MARGINS = Margins.of_map(PACK.maps[CONTINENT], fastest=PACK.player.run_speed)
# Four cells meeting at the centre: cell 1 (low x, low y) has three neighbours.
FOUR = (
    Partition.single(Rect(0.0, 0.0, 2048.0, 2048.0))
    .split(1, Axis.X, CENTER)
    .split(1, Axis.Y, CENTER)
    .split(2, Axis.Y, CENTER)
)
# Wolves around the centre, where the borders meet.
WOLVES = msgspec.structs.replace(
    PACK,
    spawns=[
        SpawnDef(
            map=CONTINENT,
            template=1,
            at=Point(x=CENTER - 60.0, y=CENTER - 60.0, z=0.0),
            count=12,
            wander_radius=80.0,
        )
    ],
)
REAL = (1, 2, 3)  # players this cell owns; the tables below may name them too


def _cell(pack: object = PACK) -> Space:
    space = Space(pack, CONTINENT, instance_id=11, seed=1, cell=(FOUR, 1, MARGINS))  # type: ignore[arg-type]
    for cid in REAL:
        space.add_player(PlayerState(cid, f"p{cid}", 5, 180, CONTINENT, 1000.0, 1000.0 + cid, 0, 0))
    return space


def _by_the_rule(world: World, role: cells.CellRole) -> None:
    """``take_ghosts`` one entity at a time: each id of the table not held as real here
    is a ghost slot with the row's columns, new ones taken players first, each kind by
    id; a ghost slot whose id left the table is released unless it is still leaving."""
    st = world.store
    c = st.cols
    table = role.ghosts.rows()
    wanted: dict[int, int] = {}
    for row, entity_id in enumerate(table.ids.tolist()):
        slot = st.slot_of.get(entity_id)
        if slot is None or c["kind"].item(slot) not in (Kind.PLAYER, Kind.CREATURE):
            wanted[entity_id] = row
    for slot in range(st.size):
        entity_id = c["id"].item(slot)
        if (
            c["kind"].item(slot) in (Kind.GHOST_PLAYER, Kind.GHOST_CREATURE)
            and entity_id not in wanted
            and not cells._still_leaving(role, entity_id, world.tick)
        ):
            st.release(slot)
            world.grid.forget(slot)
    for kind in (Kind.PLAYER, Kind.CREATURE):
        for entity_id in sorted(wanted):
            if entity_id not in st.slot_of and table.cols["kind"][wanted[entity_id]] == kind:
                st.alloc(entity_id, Kind(kind + GHOST_OFFSET))
    for entity_id, row in wanted.items():
        for name in ("template", "x", "y", "z", "o", "hp", "max_hp", "flags", "version"):
            c[name][st.slot_of[entity_id]] = table.cols[name][row]


# (id, kind, version, x) rows; ids 1-3 are this cell's own players.
_row = st.tuples(st.integers(1, 10), st.sampled_from([1, 2]), st.integers(0, 3), st.floats(0, 9))
_round = st.tuples(
    st.dictionaries(st.sampled_from([2, 3, 4]), st.lists(_row, max_size=8), max_size=3),
    st.lists(st.integers(4, 10), max_size=3),  # ghosts handed out from here lately
    st.integers(1, 300),  # ticks since the last round
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_round, min_size=1, max_size=5))
def test_ghost_slots_follow_the_table_as_the_rule_says(
    rounds: list[tuple[dict[int, list[tuple[int, int, int, float]]], list[int], int]],
) -> None:
    """Round after round of batches, ``take_ghosts`` leaves the store (slots, columns,
    free slots), and what is still leaving, as the row-by-row rule does."""
    fast, slow = _cell(), _cell()
    tick = 0
    for source_tick, (batches, leaving, ticks) in enumerate(rounds, start=1):
        tick += ticks
        for space in (fast, slow):
            role = space.cell
            assert role is not None
            space.world.tick = tick
            for source, rows in batches.items():
                role.ghosts.receive(source, FOUR.version, source_tick, _rows(rows), now=tick)
            for entity_id in leaving:
                role.leaving[entity_id] = (2 + entity_id % 3, tick - entity_id)
        cells.take_ghosts(fast.world, fast.cell)  # type: ignore[arg-type]
        _by_the_rule(slow.world, slow.cell)  # type: ignore[arg-type]
        a, b = fast.world.store, slow.world.store
        assert a.slot_of == b.slot_of
        assert a.dump() == b.dump()
        assert fast.cell.leaving == slow.cell.leaving  # type: ignore[union-attr]


def _rows(rows: list[tuple[int, int, int, float]]) -> GhostRows:
    n = len(rows)
    return GhostRows.of(
        id=np.array([r[0] for r in rows], dtype=np.int64),
        kind=np.array([r[1] for r in rows]),
        template=np.full(n, 5),
        x=np.array([r[3] for r in rows], dtype=np.float64),
        y=np.zeros(n),
        z=np.zeros(n),
        o=np.zeros(n),
        hp=np.full(n, 100),
        max_hp=np.full(n, 180),
        flags=np.zeros(n),
        version=np.array([r[2] for r in rows], dtype=np.int64),
    )


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(CENTER - 200.0, CENTER + 4.0), st.floats(CENTER - 200.0, CENTER + 4.0)),
        max_size=10,
    ),
    st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_border_rows_are_the_owned_entities_within_each_neighbours_margin(
    players: list[tuple[float, float]], dead: list[bool]
) -> None:
    """Per neighbour, the rows sent are the players and living creatures this cell owns
    within the ghost margin of that neighbour's rectangle, with their columns."""
    space = _cell(WOLVES)
    world = space.world
    st_ = world.store
    for cid, (x, y) in enumerate(players, start=100):
        space.add_player(PlayerState(cid, f"p{cid}", 5, 180, CONTINENT, x, y, 0, 0))
    for slot, is_dead in zip(st_.live(Kind.CREATURE).tolist(), dead, strict=False):
        if is_dead:
            st_.cols["ai"][slot] = Ai.DEAD
    # A ghost within the margin: never sent back.
    st_.alloc(-99, Kind.GHOST_PLAYER)
    st_.cols["x"][st_.slot_of[-99]] = CENTER - 1.0
    got = cells.border_rows(world, space.cell)  # type: ignore[arg-type]
    c = st_.cols
    want: dict[int, dict[int, tuple[object, ...]]] = {}
    for other in (2, 3, 4):
        rect = FOUR.rect(other)
        want[other] = {
            c["id"].item(s): tuple(c[n].item(s) for n in GHOST_COLUMNS)
            for s in range(st_.size)
            if (
                c["kind"].item(s) == Kind.PLAYER
                or (c["kind"].item(s) == Kind.CREATURE and c["ai"].item(s) != Ai.DEAD)
            )
            and rect.distance(c["x"].item(s), c["y"].item(s)) <= MARGINS.ghost
        }
    assert set(got) == set(want)
    for other, rows in got.items():
        sent = {
            rows.cols["id"].item(i): tuple(rows.cols[n].item(i) for n in GHOST_COLUMNS)
            for i in range(len(rows))
        }
        assert len(sent) == len(rows)
        assert sent == want[other]
        assert all(rows.cols[n].dtype == dt for n, dt in GHOST_COLUMNS.items())
