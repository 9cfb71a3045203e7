"""A cell's ghost table, claims on one entity, and forwarding after a hand-over."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realmkit.cells.ghosts import MAX_HOPS, Forwards, GhostRows, Ghosts, Incarnations, claim_wins


def _rows(*ids: int, version: int = 1, x: float = 0.0) -> GhostRows:
    n = len(ids)
    return GhostRows.of(
        id=np.array(ids),
        kind=np.ones(n),
        template=np.zeros(n),
        x=np.full(n, x),
        y=np.zeros(n),
        z=np.zeros(n),
        o=np.zeros(n),
        hp=np.full(n, 100),
        max_hp=np.full(n, 100),
        flags=np.zeros(n),
        version=np.full(n, version),
    )


def test_a_batch_replaces_its_sources_last_one() -> None:
    """Each neighbour's newest batch is its whole border: entities gone from it vanish."""
    g = Ghosts(version=3)
    assert g.receive(2, 3, source_tick=10, rows=_rows(7, 8), now=0)
    assert g.receive(2, 3, source_tick=11, rows=_rows(8), now=1)
    assert list(g.rows().ids) == [8]
    assert g.owner(8) == 2
    assert g.owner(7) is None


def test_batches_are_ordered_per_source_by_the_sources_tick_only() -> None:
    """A late batch from one source is dropped; another source's ticks are not compared."""
    g = Ghosts(version=1)
    assert g.receive(2, 1, source_tick=500, rows=_rows(7), now=0)
    assert not g.receive(2, 1, source_tick=499, rows=_rows(9), now=1)
    assert g.receive(3, 1, source_tick=4, rows=_rows(9), now=1)
    assert sorted(g.rows().ids) == [7, 9]
    assert g.dropped == 1


def test_an_older_layouts_batch_is_fenced() -> None:
    """After a partition change, batches of the old version are dropped; the ghosts
    held stay shown until their source sends under the new layout (no gap), and a
    source that switched first is heard at once."""
    g = Ghosts(version=1)
    g.receive(2, 1, 1, _rows(7), now=0)
    g.relayout(2)
    assert not g.receive(2, 1, 2, _rows(8), now=1)
    assert list(g.rows().ids) == [7]
    assert g.receive(2, 2, 3, _rows(9), now=1)
    assert list(g.rows().ids) == [9]
    assert g.receive(3, 3, 1, _rows(4), now=2)


def test_an_id_sent_by_two_cells_is_one_row_of_the_higher_version() -> None:
    """During a hand-over between two neighbours both may send an id: one row, the right one."""
    g = Ghosts(version=1)
    g.receive(2, 1, 1, _rows(7, 8, version=1, x=1.0), now=0)
    g.receive(3, 1, 1, _rows(8, version=2, x=2.0), now=0)
    rows = g.rows()
    assert list(rows.ids) == [7, 8]
    assert list(rows.cols["x"]) == [1.0, 2.0]
    assert g.owner(8) == 3
    assert g.owner(7) == 2
    assert g.owner(99) is None


# Per source cell, a batch of (id, version, x) rows; ids from a small pool, so an id
# is often sent by two sources, and now and then twice in one batch.
_batches = st.dictionaries(
    st.integers(2, 5),
    st.lists(st.tuples(st.integers(1, 8), st.integers(0, 3), st.floats(0, 10)), max_size=8),
    max_size=3,
)


@given(_batches)
def test_the_ghost_table_is_the_plain_rule(
    batches: dict[int, list[tuple[int, int, float]]],
) -> None:
    """Each id once, from its highest version (on a tie the lower source, then the
    earlier row), in the order received: the rule stated row by row in Python."""
    g = Ghosts(version=1)
    received: list[tuple[int, int, float]] = []
    for source in sorted(batches, reverse=True):  # arrival order does not matter
        rows = batches[source]
        g.receive(source, 1, 1, _batch(rows), now=0)
    for source in sorted(batches):
        received += batches[source]
    best: dict[int, int] = {}  # id -> the position of the row it is taken from
    for at, (entity_id, version, _) in enumerate(received):
        if entity_id not in best or version > received[best[entity_id]][1]:
            best[entity_id] = at
    want = [received[at] for at in sorted(best.values())]
    rows = g.rows()
    got = zip(
        rows.ids.tolist(), rows.cols["version"].tolist(), rows.cols["x"].tolist(), strict=True
    )
    assert list(got) == want


def _batch(rows: list[tuple[int, int, float]]) -> GhostRows:
    n = len(rows)
    return GhostRows.of(
        id=np.array([r[0] for r in rows], dtype=np.int64),
        kind=np.ones(n),
        template=np.zeros(n),
        x=np.array([r[2] for r in rows], dtype=np.float64),
        y=np.zeros(n),
        z=np.zeros(n),
        o=np.zeros(n),
        hp=np.full(n, 100),
        max_hp=np.full(n, 100),
        flags=np.zeros(n),
        version=np.array([r[1] for r in rows], dtype=np.int64),
    )


def test_a_silent_neighbours_ghosts_vanish() -> None:
    """Ghosts of a neighbour that stopped sending go after stale_after ticks, not frozen forever."""
    g = Ghosts(version=1, stale_after=5)
    g.receive(2, 1, 1, _rows(7), now=10)
    assert g.expire(now=15) == []
    assert g.expire(now=16) == [2]
    assert len(g.rows()) == 0


def test_ghost_rows_need_every_column() -> None:
    """Rows missing a column, or of unequal length, are refused."""
    with pytest.raises(ValueError, match="exactly the columns"):
        GhostRows.of(id=np.array([1]))


@given(st.integers(0, 5), st.integers(0, 5), st.integers(1, 4), st.integers(1, 4))
def test_two_claims_on_one_entity_have_one_winner(mine: int, theirs: int, a: int, b: int) -> None:
    """Two cells holding one entity as real reach opposite verdicts: exactly one keeps it."""
    if a == b:
        return
    assert claim_wins(mine, theirs, a, b) != claim_wins(theirs, mine, b, a)
    if mine != theirs:
        assert claim_wins(mine, theirs, a, b) == (mine > theirs)


def test_inputs_and_actions_follow_a_handed_entity_for_a_while() -> None:
    """After a hand-over the old owner forwards for FORWARD_TICKS, at most MAX_HOPS hops."""
    f = Forwards(keep_ticks=10)
    f.handed(5, to_cell=2, tick=100)
    assert f.where(5, 110) == 2
    assert f.where(5, 111) is None
    assert f.route(5, hops=MAX_HOPS - 1, tick=105) == 2
    assert f.route(5, hops=MAX_HOPS, tick=105) is None
    f.taken_back(5)
    assert f.where(5, 101) is None
    f.handed(6, 3, 0)
    f.expire(11)
    assert f.where(6, 5) is None


def test_a_ghost_batch_crosses_the_bus_unchanged() -> None:
    """A batch survives msgpack: same rows, same dtypes; a batch missing a column or
    with columns of unequal length is a BadMessage, not a crash."""
    import msgspec

    from realmkit.errors import BadMessage
    from realmkit.protocol.cells import CellMessage, GhostBatch

    rows = _rows(-5, 7, version=3, x=12.5)
    sent = GhostBatch.of(9, 2, 1, 1000, rows)
    got = msgspec.msgpack.decode(msgspec.msgpack.encode(sent), type=CellMessage)
    assert isinstance(got, GhostBatch)
    back = got.rows()
    for name, column in rows.cols.items():
        assert back.cols[name].dtype == column.dtype
        assert back.cols[name].tolist() == column.tolist()
    short = msgspec.structs.replace(sent, cols={k: v for k, v in sent.cols.items() if k != "hp"})
    with pytest.raises(BadMessage):
        short.rows()
    uneven = msgspec.structs.replace(sent, cols={**sent.cols, "hp": bytes(4)})
    with pytest.raises(BadMessage):
        uneven.rows()


def test_an_older_incarnation_of_a_cell_is_refused_once_a_newer_spoke() -> None:
    """A cell restored elsewhere speaks under a higher epoch; what its stale copy (a
    node thought dead, still running) sends under the old one is refused from then
    on. Messages without an epoch (0) are taken."""
    heard = Incarnations()
    assert heard.heard(2, 3)
    assert heard.heard(2, 3)
    assert heard.heard(2, 4)  # restored
    assert not heard.heard(2, 3)  # the stale copy
    assert heard.heard(5, 1)  # another neighbour: its own count
    assert heard.heard(2, 0)
    assert heard.refused == 1


def test_a_new_incarnation_is_told_apart_from_the_first_heard() -> None:
    heard = Incarnations()
    assert not heard.renewed(2, 3)  # the first heard of cell 2: nothing to resend
    heard.heard(2, 3)
    assert not heard.renewed(2, 3)
    assert not heard.renewed(2, 0)
    assert heard.renewed(2, 4)  # loaded again
    heard.heard(2, 4)
    assert not heard.renewed(2, 4)
