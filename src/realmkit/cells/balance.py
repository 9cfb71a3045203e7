"""Borders that follow the load: when to split a cell, merge two, or move the border
between two. No I/O.

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
  area;
- otherwise **move the border** between two sibling cells whose load is
  uneven: the busier holds at least ``move_players`` (or more than
  ``split_players``) and more than ``move_ratio`` times the other's players,
  or ticks over half the split threshold and more than ``move_ratio`` times
  slower. The line of the split that made the two moves into the busy one,
  to the median of both cells' players along it (each cell kept at least
  ``min_cell`` wide), so that each takes about half: only when it moves by
  more than ``move_by`` units, towards the busy side, and the players come
  out more even on either side of it than before (no line shares out a
  crowd on one spot). A hot cell whose crowd no split can cut (too narrow,
  or the crowd hugs its border with the sibling) is relieved so.

The thresholds are apart (merge well under split; a move only past twice the
other's load, and it leaves the two about even), and the leader waits
``cooldown`` after a change of a partition before the next, so a crowd at
the threshold does not make the border flap.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from realmkit.cells.partition import Axis, Leaf, Partition, Rect


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
    # A border moves when the busier of two siblings holds at least this many
    # players and more than ``move_ratio`` times the other's (or ticks that much
    # slower), and only by more than ``move_by`` units.
    move_players: int = 50
    move_ratio: float = 2.0
    move_by: float = 16.0


@dataclass(frozen=True)
class SplitAt:
    cell: int
    axis: Axis
    at: float


@dataclass(frozen=True)
class MergeAway:
    """Merge ``cell`` into its sibling (the lower id of the two stays)."""

    cell: int


@dataclass(frozen=True)
class MoveBorder:
    """Move the border between ``cell`` and its sibling (the split at ``path``) to
    ``at``; ``cell`` is the busier of the two, the one that gives up area."""

    cell: int
    path: str
    at: float


Change = SplitAt | MergeAway | MoveBorder


@dataclass(frozen=True)
class Border:
    """The split between two sibling cells: its path (as ``Partition.splits`` names
    it), where it cuts, the rectangle the two share, and the low and high cell."""

    path: str
    axis: Axis
    at: float
    rect: Rect
    low: int
    high: int

    def other(self, cell: int) -> int:
        """The cell on the other side of this border from ``cell``."""
        return self.high if cell == self.low else self.low

    def room(self, min_cell: float) -> tuple[float, float]:
        """Where the line may go: both cells stay at least ``min_cell`` wide."""
        return self.rect.low(self.axis) + min_cell, self.rect.high(self.axis) - min_cell


def border(layout: Partition, cell: int) -> Border | None:
    """The border between ``cell`` and its sibling, None when its sibling is split
    (or ``cell`` is not a cell of ``layout``)."""
    for path, split, rect in layout.splits():
        low, high = split.low, split.high
        if isinstance(low, Leaf) and isinstance(high, Leaf) and cell in (low.cell, high.cell):
            return Border(path, split.axis, split.at, rect, low.cell, high.cell)
    return None


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
    moves = []
    for cell in sorted(layout.cells):
        move = move_of(layout, cell, loads, rules)
        if move is not None:
            moves.append((loads[move.cell].players, loads[move.cell].tick_p99_ms, move))
    if moves:
        return max(moves, key=lambda m: (m[0], m[1], m[2].cell))[2]
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


def uneven(busy: CellLoad, other: CellLoad, rules: Rules) -> bool:
    """Whether ``busy`` carries so much more than its sibling ``other`` that their
    border should move (the dead band: twice the other's load, and enough of it)."""
    enough = min(rules.move_players, rules.split_players + 1)  # a hot cell always is
    crowded = busy.players >= enough and busy.players > rules.move_ratio * other.players
    slow = (
        busy.tick_p99_ms > rules.split_tick_ms / 2
        and busy.tick_p99_ms > rules.move_ratio * other.tick_p99_ms
    )
    return crowded or slow


def move_of(
    layout: Partition, cell: int, loads: dict[int, CellLoad], rules: Rules
) -> MoveBorder | None:
    """Where the border between a busy ``cell`` and its sibling would go for these
    loads; None when the two are even enough, or no line would share them better."""
    found = border(layout, cell)
    if found is None:
        return None
    sibling = found.other(cell)
    if cell not in loads or sibling not in loads:
        return None
    if not uneven(loads[cell], loads[sibling], rules):
        return None
    axis, old = found.axis, found.at
    spots = [
        v for c in (found.low, found.high) for v in (loads[c].xs if axis is Axis.X else loads[c].ys)
    ]
    if not spots:
        return None
    lowest, highest = found.room(rules.min_cell)
    # Strictly inside, as for a split.
    lowest, highest = lowest + 1.0, highest - 1.0
    if lowest >= highest:
        return None
    at = min(max(statistics.median(spots), lowest), highest)
    towards_busy = at < old if cell == found.low else at > old
    if not towards_busy or abs(at - old) <= rules.move_by:
        return None
    if imbalance(spots, at) >= imbalance(spots, old):
        return None  # a crowd on one spot: no line shares it out
    return MoveBorder(cell, found.path, at)


def imbalance(spots: list[float], at: float) -> int:
    """How many more players stand on one side of a line at ``at`` than on the other
    (a player on the line is on its high side, as ``Partition.cell_at`` has it)."""
    below = sum(1 for v in spots if v < at)
    return abs(2 * below - len(spots))


class Cooldowns:
    """One change per partition per ``cooldown`` seconds, counted from any change: the
    leader's own, an operator's (``realmkit cells``), or one made before this leader
    took over (the store's age of the partition, at the first look). No clock: the
    caller passes the time."""

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self._changed_at: dict[int, float] = {}
        self._versions: dict[int, int] = {}

    def ready(self, partition_id: int, version: int, age: float, now: float) -> bool:
        """Whether the partition, seen under ``version`` (changed ``age`` seconds ago
        by the store's clock), may change now."""
        seen = self._versions.get(partition_id)
        if seen is None:  # the first look: it changed when the store says
            self._changed_at.setdefault(partition_id, now - age)
        elif seen != version:  # changed since the last look: the cooldown runs from now
            self._changed_at[partition_id] = max(now, self._changed_at.get(partition_id, now))
        self._versions[partition_id] = version
        return now - self._changed_at[partition_id] >= self.cooldown

    def changed(self, partition_id: int, now: float) -> None:
        """This leader changed it (or tried and failed): not again before the cooldown."""
        self._changed_at[partition_id] = now
