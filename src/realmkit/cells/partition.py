"""A continent's partition into cells: a k-d tree of rectangles. No I/O.

The root covers the map's ground bounds. A ``Split`` cuts its rectangle at
``at`` along ``axis``: the low child takes ``[min, at)``, the high child
``[at, max]``. The leaves are the cells, each named by an id that is never
reused within the continent. A ``Partition`` is immutable: every change
returns a new one with ``version + 1``.

Invariants (property-tested in ``tests/unit/cells/test_partition.py``):
- the leaves tile the bounds exactly: no gap, no overlap, areas add up;
- every point of the bounds is in exactly one cell, the one ``cell_at`` names
  (points outside the bounds belong to the nearest cell);
- no cell is narrower than the ``min_size`` it was split or moved with;
- versions only grow, and cell ids are unique and never reused;
- ``near`` is symmetric.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from realmkit.errors import InvalidInput, NotFound

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class Axis(StrEnum):
    X = "x"
    Y = "y"


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle of the ground plane."""

    min_x: float
    min_y: float
    max_x: float
    max_y: float

    @property
    def width(self) -> float:
        return self.max_x - self.min_x

    @property
    def height(self) -> float:
        return self.max_y - self.min_y

    @property
    def area(self) -> float:
        return self.width * self.height

    def low(self, axis: Axis) -> float:
        return self.min_x if axis is Axis.X else self.min_y

    def high(self, axis: Axis) -> float:
        return self.max_x if axis is Axis.X else self.max_y

    def size(self, axis: Axis) -> float:
        return self.high(axis) - self.low(axis)

    def cut(self, axis: Axis, at: float) -> tuple[Rect, Rect]:
        """The low and high parts of this rectangle cut at ``at`` along ``axis``."""
        if axis is Axis.X:
            return replace(self, max_x=at), replace(self, min_x=at)
        return replace(self, max_y=at), replace(self, min_y=at)

    def distance(self, x: float, y: float) -> float:
        """Distance from a point to this rectangle (0 inside or on its edge)."""
        dx = max(self.min_x - x, 0.0, x - self.max_x)
        dy = max(self.min_y - y, 0.0, y - self.max_y)
        return float(np.hypot(dx, dy))

    def distances(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """``distance`` for many points at once."""
        dx = np.maximum(np.maximum(self.min_x - x, 0.0), x - self.max_x)
        dy = np.maximum(np.maximum(self.min_y - y, 0.0), y - self.max_y)
        out: FloatArray = np.hypot(dx, dy)
        return out

    def gap(self, other: Rect) -> float:
        """Distance between the nearest points of two rectangles (0 if they touch)."""
        dx = max(other.min_x - self.max_x, 0.0, self.min_x - other.max_x)
        dy = max(other.min_y - self.max_y, 0.0, self.min_y - other.max_y)
        return float(np.hypot(dx, dy))

    def as_list(self) -> list[float]:
        return [self.min_x, self.min_y, self.max_x, self.max_y]


@dataclass(frozen=True, slots=True)
class Leaf:
    cell: int


@dataclass(frozen=True, slots=True)
class Split:
    axis: Axis
    at: float
    low: Node
    high: Node


Node = Leaf | Split


@dataclass(frozen=True)
class Partition:
    """The cells of one continent and the version of this layout."""

    bounds: Rect
    root: Node
    version: int = 1
    next_cell: int = 2
    _rects: dict[int, Rect] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rects", dict(_leaves(self.root, self.bounds)))

    @classmethod
    def single(cls, bounds: Rect) -> Partition:
        """One cell (id 1) over the whole map: a fresh continent."""
        if bounds.width <= 0 or bounds.height <= 0:
            raise InvalidInput("bounds", "a continent's bounds have a positive area")
        return cls(bounds, Leaf(1))

    # --- reading -----------------------------------------------------------

    @property
    def cells(self) -> dict[int, Rect]:
        """Every cell's rectangle, by cell id, in tree order (low before high)."""
        return dict(self._rects)

    def rect(self, cell: int) -> Rect:
        try:
            return self._rects[cell]
        except KeyError:
            raise NotFound("cell", cell) from None

    def cell_at(self, x: float, y: float) -> int:
        """The cell that owns a point (a point outside the bounds: the nearest cell)."""
        node = self.root
        while isinstance(node, Split):
            v = x if node.axis is Axis.X else y
            node = node.low if v < node.at else node.high
        return node.cell

    def cells_at(self, x: FloatArray, y: FloatArray) -> IntArray:
        """``cell_at`` for many points at once."""
        out = np.zeros(x.shape, dtype=np.int64)
        _descend(self.root, x, y, np.ones(x.shape, dtype=bool), out)
        return out

    def near(self, cell: int, margin: float) -> tuple[int, ...]:
        """Other cells whose rectangle is within ``margin`` of ``cell``'s (corners too)."""
        mine = self.rect(cell)
        return tuple(c for c, r in self._rects.items() if c != cell and mine.gap(r) <= margin)

    def splits(self) -> Iterator[tuple[str, Split, Rect]]:
        """Every split with its path (``""`` the root, then ``l``/``h`` per level) and rectangle."""
        stack: list[tuple[str, Node, Rect]] = [("", self.root, self.bounds)]
        while stack:
            path, node, rect = stack.pop()
            if isinstance(node, Split):
                yield path, node, rect
                low, high = rect.cut(node.axis, node.at)
                stack.append((path + "h", node.high, high))
                stack.append((path + "l", node.low, low))

    # --- changing ----------------------------------------------------------

    def split(self, cell: int, axis: Axis, at: float, min_size: float = 0.0) -> Partition:
        """Cut ``cell`` in two at ``at``: the low part keeps the id, the high part gets
        ``next_cell``. Both parts must be at least ``min_size`` across ``axis``."""
        rect = self.rect(cell)
        if not rect.low(axis) + max(min_size, 0.0) < at < rect.high(axis) - max(min_size, 0.0):
            raise InvalidInput(
                "at",
                f"cell {cell} spans {rect.low(axis):g}-{rect.high(axis):g} along {axis.value}: "
                f"a cut must leave both parts more than {min_size:.1f} wide (cut within "
                f"{rect.low(axis) + min_size:.1f}-{rect.high(axis) - min_size:.1f})",
            )
        new = self.next_cell

        def change(node: Node) -> Node:
            if isinstance(node, Leaf):
                return Split(axis, at, node, Leaf(new)) if node.cell == cell else node
            return Split(node.axis, node.at, change(node.low), change(node.high))

        return Partition(self.bounds, change(self.root), self.version + 1, new + 1)

    def merge(self, cell: int) -> Partition:
        """Join ``cell`` with its sibling, which must be a cell too; the merged cell keeps
        the lower of the two ids, the other id is gone."""

        def change(node: Node) -> Node:
            if isinstance(node, Leaf):
                return node
            low, high = node.low, node.high
            if isinstance(low, Leaf) and isinstance(high, Leaf) and cell in (low.cell, high.cell):
                return Leaf(min(low.cell, high.cell))
            return Split(node.axis, node.at, change(node.low), change(node.high))

        self.rect(cell)
        if isinstance(self.root, Leaf):
            raise InvalidInput("cell", f"cell {cell} is the continent's only cell")
        root = change(self.root)
        if root == self.root:
            raise InvalidInput("cell", f"cell {cell}'s sibling is split: merge that first")
        return Partition(self.bounds, root, self.version + 1, self.next_cell)

    def sibling(self, cell: int) -> int | None:
        """The cell ``merge(cell)`` would join it with, or None (its sibling is split)."""
        for _, split, _ in self.splits():
            if isinstance(split.low, Leaf) and isinstance(split.high, Leaf):
                if split.low.cell == cell:
                    return split.high.cell
                if split.high.cell == cell:
                    return split.low.cell
        return None

    def move(self, path: str, at: float, min_size: float = 0.0) -> Partition:
        """Move the border of the split at ``path`` to ``at``, every cell staying at
        least ``min_size`` wide (the deeper splits on the same axis stay where they are)."""
        found = next((s for s in self.splits() if s[0] == path), None)
        if found is None:
            raise NotFound("split", path)
        _, split, rect = found
        low_room, high_room = _extent(split.low, split.axis), _extent(split.high, split.axis)
        lowest = max(rect.low(split.axis), low_room[1]) + max(min_size, 0.0)
        highest = min(rect.high(split.axis), high_room[0]) - max(min_size, 0.0)
        if not lowest <= at <= highest or not rect.low(split.axis) < at < rect.high(split.axis):
            raise InvalidInput(
                "at", f"the border at {path or 'root'} moves within [{lowest}, {highest}]"
            )

        def change(node: Node, here: str) -> Node:
            if isinstance(node, Leaf):
                return node
            if here == path:
                return Split(node.axis, at, node.low, node.high)
            return Split(
                node.axis, node.at, change(node.low, here + "l"), change(node.high, here + "h")
            )

        return Partition(self.bounds, change(self.root, ""), self.version + 1, self.next_cell)

    # --- storage -----------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """A JSON-able form (``load`` reads it back)."""
        return {
            "bounds": self.bounds.as_list(),
            "root": _dump(self.root),
            "version": self.version,
            "next_cell": self.next_cell,
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Partition:
        """Read ``dump``'s form; ``InvalidInput`` if it is not a partition."""
        try:
            bounds = Rect(*(float(v) for v in data["bounds"]))
            root = _load(data["root"])
            partition = cls(bounds, root, int(data["version"]), int(data["next_cell"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput("partition", f"not a stored partition: {exc}") from None
        ids = list(partition._rects)
        if len(set(ids)) != len(ids) or any(c <= 0 or c >= partition.next_cell for c in ids):
            raise InvalidInput("partition", "cell ids repeat or are not below next_cell")
        for _, split, rect in partition.splits():
            if not rect.low(split.axis) < split.at < rect.high(split.axis):
                raise InvalidInput("partition", f"a split at {split.at} lies outside its cell")
        return partition


def _leaves(node: Node, rect: Rect) -> Iterator[tuple[int, Rect]]:
    if isinstance(node, Leaf):
        yield node.cell, rect
        return
    low, high = rect.cut(node.axis, node.at)
    yield from _leaves(node.low, low)
    yield from _leaves(node.high, high)


def _descend(
    node: Node, x: FloatArray, y: FloatArray, mask: NDArray[np.bool_], out: IntArray
) -> None:
    if isinstance(node, Leaf):
        out[mask] = node.cell
        return
    v = x if node.axis is Axis.X else y
    low = v < node.at
    _descend(node.low, x, y, mask & low, out)
    _descend(node.high, x, y, mask & ~low, out)


def _extent(node: Node, axis: Axis) -> tuple[float, float]:
    """The lowest and highest ``at`` of the splits on ``axis`` under ``node``
    (``(inf, -inf)`` when there is none)."""
    lo, hi = float("inf"), float("-inf")
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Split):
            if n.axis is axis:
                lo, hi = min(lo, n.at), max(hi, n.at)
            stack += [n.low, n.high]
    return lo, hi


def _dump(node: Node) -> Any:
    if isinstance(node, Leaf):
        return node.cell
    return [node.axis.value, node.at, _dump(node.low), _dump(node.high)]


def _load(data: Any) -> Node:
    if isinstance(data, int) and not isinstance(data, bool):
        return Leaf(data)
    axis, at, low, high = data
    return Split(Axis(axis), float(at), _load(low), _load(high))
