"""A cell's ghosts, its claims on entities, and where it sent those it handed over. No I/O.

``Ghosts`` holds, per neighbour, the newest batch of that neighbour's border
entities. Batches are fenced by the partition version (an older layout's
batch is dropped once this cell runs a newer one, CELLS.md case 11) and
ordered per source by the source's own tick, never compared with this cell's
tick or another source's (case 3).
A neighbour that stops sending (its node died, or it is no longer a
neighbour) leaves its ghosts frozen where they were for ``stale_after`` of this
cell's ticks, long enough for a dead cell to be restored elsewhere and send
again (they then move on); a neighbour silent for longer loses them.

``claim_wins`` settles two cells holding the same entity as real (case 1):
the higher ownership version, raised by every hand-over, wins.

``Forwards`` remembers, for a while, where this cell handed an entity, so
inputs and actions that still arrive here follow it (cases 5 and 7), at most
``MAX_HOPS`` times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]

# How many times an action may be forwarded after its target before it is refused.
MAX_HOPS: Final = 3
# How many ticks a cell forwards what still arrives for an entity it handed over.
FORWARD_TICKS: Final = 100
# How many of its own ticks a cell keeps a silent neighbour's ghosts (10 s at 20 Hz:
# a node declared dead after 3 s and its cells restored take less).
STALE_AFTER_TICKS: Final = 200

# The columns of a ghost row, and their dtypes (the frame's, plus the ownership version).
GHOST_COLUMNS: Final[dict[str, type[np.generic]]] = {
    "id": np.int64,
    "kind": np.uint8,
    "template": np.int32,
    "x": np.float64,
    "y": np.float64,
    "z": np.float64,
    "o": np.float64,
    "hp": np.int32,
    "max_hp": np.int32,
    "flags": np.uint8,
    "version": np.int64,
}


@dataclass(frozen=True, slots=True)
class GhostRows:
    """Border entities as columns (see ``GHOST_COLUMNS``), one row per entity."""

    cols: dict[str, NDArray[np.generic]]

    @classmethod
    def empty(cls) -> GhostRows:
        return cls({name: np.zeros(0, dtype=dt) for name, dt in GHOST_COLUMNS.items()})

    @classmethod
    def of(cls, **cols: NDArray[np.generic]) -> GhostRows:
        """Rows from columns of equal length, cast to ``GHOST_COLUMNS``' dtypes."""
        if cols.keys() != GHOST_COLUMNS.keys():
            raise ValueError(f"ghost rows need exactly the columns {sorted(GHOST_COLUMNS)}")
        lengths = {len(c) for c in cols.values()}
        if len(lengths) > 1:
            raise ValueError("ghost columns differ in length")
        return cls({n: np.asarray(cols[n], dtype=dt) for n, dt in GHOST_COLUMNS.items()})

    def __len__(self) -> int:
        return len(self.cols["id"])

    @property
    def ids(self) -> IntArray:
        out: IntArray = self.cols["id"].astype(np.int64)
        return out

    def take(self, index: NDArray[np.generic]) -> GhostRows:
        return GhostRows({n: c[index] for n, c in self.cols.items()})

    @classmethod
    def gather(cls, cols: Mapping[str, NDArray[Any]], index: NDArray[np.intp]) -> GhostRows:
        """The rows at ``index`` of columns that include ``GHOST_COLUMNS`` (an entity
        store's), cast to their dtypes: ``of`` without its checks, for every tick."""
        return cls({n: cols[n][index].astype(dt, copy=False) for n, dt in GHOST_COLUMNS.items()})

    @classmethod
    def concat(cls, parts: list[GhostRows]) -> GhostRows:
        if not parts:
            return cls.empty()
        return cls({n: np.concatenate([p.cols[n] for p in parts]) for n in GHOST_COLUMNS})


@dataclass(slots=True)
class _Batch:
    source_tick: int
    received_at: int  # this cell's tick when it arrived
    rows: GhostRows


class Ghosts:
    """The ghosts a cell holds, by the neighbour that owns them."""

    def __init__(self, version: int, stale_after: int = STALE_AFTER_TICKS) -> None:
        self.version = version
        self.stale_after = stale_after
        self._batches: dict[int, _Batch] = {}
        self.dropped = 0  # batches refused (old layout, or older than the one held)

    def relayout(self, version: int) -> None:
        """The partition changed: batches of older layouts are refused from now on.
        Those held stay until their sources send again (or fall silent), so the
        border shows no gap while the cells switch layouts one after the other."""
        self.version = max(self.version, version)

    def receive(
        self, source: int, version: int, source_tick: int, rows: GhostRows, now: int
    ) -> bool:
        """Take a neighbour's batch (it replaces that neighbour's last one); False if
        it is fenced (another layout) or older than the batch held from that source."""
        held = self._batches.get(source)
        # A newer layout's batch is taken: its sender switched first, and this
        # cell will too (cells hear of a change one after the other).
        if version < self.version or (held is not None and source_tick <= held.source_tick):
            self.dropped += 1
            return False
        self._batches[source] = _Batch(source_tick, now, rows)
        return True

    def expire(self, now: int) -> list[int]:
        """Forget sources silent for ``stale_after`` ticks; returns them."""
        gone = [s for s, b in self._batches.items() if now - b.received_at > self.stale_after]
        for source in gone:
            del self._batches[source]
        return gone

    def heard_at(self, source: int) -> int | None:
        """This cell's tick when ``source``'s held batch arrived (None: none held)."""
        batch = self._batches.get(source)
        return None if batch is None else batch.received_at

    def forget(self, source: int) -> None:
        self._batches.pop(source, None)

    def rows(self) -> GhostRows:
        """Every ghost, once, in the order received (sources by id). An id sent by
        two neighbours (a hand-over between them is under way) is taken from the
        higher ownership version; on a tie, from the lower source."""
        parts = [self._batches[source].rows for source in sorted(self._batches)]
        rows = parts[0] if len(parts) == 1 else GhostRows.concat(parts)
        if len(rows) < 2:
            return rows
        # Highest version first per id (a stable sort: the earlier row on a tie),
        # then the first row of each id.
        order = np.lexsort((-rows.cols["version"].astype(np.int64), rows.ids))
        ids = rows.ids[order]
        repeated = ids[1:] == ids[:-1]
        if not repeated.any():
            return rows  # the usual tick: nothing to drop, nothing to copy
        first = np.ones(ids.size, dtype=bool)
        first[1:] = ~repeated
        return rows.take(np.sort(order[first]))

    def owner(self, entity_id: int) -> int | None:
        """The neighbour whose ghost ``entity_id`` is (the higher version's), or None."""
        best: tuple[int, int] | None = None
        for source, batch in self._batches.items():
            hit = np.flatnonzero(batch.rows.ids == entity_id)
            if hit.size:
                version = int(batch.rows.cols["version"][hit[0]])
                if best is None or version > best[0]:
                    best = (version, source)
        return None if best is None else best[1]


def claim_wins(mine: int, theirs: int, my_cell: int, their_cell: int) -> bool:
    """Whether this cell keeps an entity that another cell also holds as real.

    The higher ownership version wins; equal versions (two restores of the
    same state) go to the lower cell id, so both sides reach the same verdict.
    """
    if mine != theirs:
        return mine > theirs
    return my_cell < their_cell


class Incarnations:
    """The latest incarnation heard of each neighbour cell.

    A cell's space is loaded again after its node died (or moved) under a higher
    epoch (``characters.cells.epoch``). A node thought dead may still publish for
    a while before it notices; what it sends under the older epoch is refused,
    so a restored cell and its stale copy never both hand out or ghost the same
    entities."""

    def __init__(self) -> None:
        self._epochs: dict[int, int] = {}
        self.refused = 0

    def renewed(self, source: int, epoch: int) -> bool:
        """Whether ``epoch`` is a newer incarnation of a ``source`` heard before."""
        return epoch > self._epochs.get(source, 0) > 0

    def heard(self, source: int, epoch: int) -> bool:
        """Whether a message of ``source`` under ``epoch`` is taken (0: unknown, taken)."""
        latest = self._epochs.get(source, 0)
        if epoch and epoch < latest:
            self.refused += 1
            return False
        self._epochs[source] = max(latest, epoch)
        return True


class Forwards:
    """Where this cell handed each entity, for ``FORWARD_TICKS`` of its ticks."""

    def __init__(self, keep_ticks: int = FORWARD_TICKS) -> None:
        self.keep_ticks = keep_ticks
        self._to: dict[int, tuple[int, int]] = {}
        # The earliest end of an entry: expire runs every tick, and has nothing to do before it.
        self._next_end: float = math.inf

    def handed(self, entity_id: int, to_cell: int, tick: int) -> None:
        self._to[entity_id] = (to_cell, tick + self.keep_ticks)
        self._next_end = min(self._next_end, tick + self.keep_ticks)

    def taken_back(self, entity_id: int) -> None:
        """The entity is this cell's again: nothing to forward."""
        self._to.pop(entity_id, None)

    def where(self, entity_id: int, tick: int) -> int | None:
        """The cell ``entity_id`` went to, if this cell still forwards for it."""
        hit = self._to.get(entity_id)
        if hit is None or tick > hit[1]:
            return None
        return hit[0]

    def expire(self, tick: int) -> None:
        if tick <= self._next_end:
            return
        self._to = {e: v for e, v in self._to.items() if tick <= v[1]}
        self._next_end = min((end for _, end in self._to.values()), default=math.inf)

    def route(self, entity_id: int, hops: int, tick: int) -> int | None:
        """Where an action for ``entity_id``, already forwarded ``hops`` times, goes
        next; None when it must be refused (not known here, or too many hops)."""
        if hops >= MAX_HOPS:
            return None
        return self.where(entity_id, tick)
