"""Borders that follow the load: when to split a cell, when to merge two. No I/O.

The orchestrators' leader looks at every live partition each few seconds with
what it knows of each cell (players placed in it, where they stand, its tick
p99 from its world node's report) and asks ``decide`` for at most one change:

- **split** the busiest cell whose players exceed ``split_players`` or whose
  tick p99 exceeds ``split_tick_ms``: across its longer side, at the median
  of its players' positions, kept at least ``min_cell`` from either edge. A
  cell too small for that is left as it is, and so is a cell whose cut would
  leave either half less than a quarter of its players (a crowd on one spot:
  no border shares it out);
- otherwise **merge** two sibling cells (the two halves of one split) that
  together hold at most ``merge_players`` and whose tick p99s add up to at
  most half the split threshold: the higher cell id goes, the lower takes its
  area.

The thresholds are apart (merge well under split), and the leader waits
``cooldown`` after a change of a partition before the next, so a crowd at
the threshold does not make the border flap.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from realmkit.cells.partition import Axis, Partition


@dataclass(frozen=True)
class CellLoad:
    """What the leader knows of one cell."""

    players: int
    tick_p99_ms: float
    # Where its players stand (their last saves).
    xs: tuple[float, ...] = ()
    ys: tuple[float, ...] = ()


@dataclass(frozen=True)
class Rules:
    split_players: int
    merge_players: int
    split_tick_ms: float
    min_cell: float


@dataclass(frozen=True)
class SplitAt:
    cell: int
    axis: Axis
    at: float


@dataclass(frozen=True)
class MergeAway:
    """Merge ``cell`` into its sibling (the lower id of the two stays)."""

    cell: int


Change = SplitAt | MergeAway


def decide(layout: Partition, loads: dict[int, CellLoad], rules: Rules) -> Change | None:
    """At most one change of ``layout`` for these loads (cells without a load are
    left alone); None when it is fine as it is."""
    hot = [
        (load.players, load.tick_p99_ms, cell)
        for cell, load in loads.items()
        if cell in layout.cells
        and (load.players > rules.split_players or load.tick_p99_ms > rules.split_tick_ms)
    ]
    for _, _, cell in sorted(hot, reverse=True):
        split = split_of(layout, cell, loads[cell], rules.min_cell)
        if split is not None:
            return split
    for cell in sorted(layout.cells, reverse=True):
        sibling = layout.sibling(cell)
        if sibling is None or sibling > cell or cell not in loads or sibling not in loads:
            continue
        pair = (loads[cell], loads[sibling])
        # Merged, the two would tick about as slowly as both together: well under
        # the split threshold, or the border would come back at once.
        if (
            sum(p.players for p in pair) <= rules.merge_players
            and sum(p.tick_p99_ms for p in pair) <= rules.split_tick_ms / 2
        ):
            return MergeAway(cell)
    return None


def split_of(layout: Partition, cell: int, load: CellLoad, min_cell: float) -> SplitAt | None:
    """Where ``cell`` would be cut for ``load``; None when no cut would help."""
    rect = layout.rect(cell)
    axis = Axis.X if rect.width >= rect.height else Axis.Y
    spots = load.xs if axis is Axis.X else load.ys
    # Strictly inside: both halves more than ``min_cell`` wide.
    low, high = rect.low(axis) + min_cell + 1.0, rect.high(axis) - min_cell - 1.0
    if low >= high:
        return None
    at = statistics.median(spots) if spots else (rect.low(axis) + rect.high(axis)) / 2
    at = min(max(at, low), high)
    below = sum(1 for v in spots if v < at)
    if spots and min(below, len(spots) - below) < len(spots) // 4:
        return None  # a crowd on one spot (or at an edge): no cut would share it out
    return SplitAt(cell, axis, at)
