"""Exact fills of small slot vectors, searched oldest first with bitmasks.

A group being built (a battleground's teams, a dungeon group's roles) is a
vector of filled slots, one count per dimension (team or role), each at most
its cap. Every such vector is one bit of a Python int (its mixed-radix
index), so "every fill the chosen tickets can make" is one int, and placing
a ticket is a few shifts and ands however many ways its members can go.

A ticket offers *options*: the vectors it may add (its party in team 1 or in
team 2; the role counts its members can take together). It is placed whole,
as one option, or not at all.

Rules:
- Rule 1: groups fill every slot exactly.
- Rule 2: oldest first: a ticket is left out of a group only if no exact
  fill exists with it and the older tickets already chosen. Hence an old
  ticket nobody can complete never blocks the younger ones behind it.
- Rule 3: cost is linear in the queue per call, plus the span of each group.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

Option = tuple[int, int, int]
"""(index of the added vector, mask of fills it fits on, mask of deficits it covers)."""
Options = tuple[Option, ...]


class SlotSpace:
    """All fill vectors up to ``caps``, as bit positions."""

    def __init__(self, caps: Sequence[int]) -> None:
        self.caps = tuple(caps)
        strides = []
        stride = 1
        for cap in self.caps:
            strides.append(stride)
            stride *= cap + 1
        self.strides = tuple(strides)
        self.full = stride - 1
        """Index (bit) of the vector with every slot filled."""
        self._vectors = [
            tuple(reversed(v)) for v in product(*(range(c + 1) for c in reversed(caps)))
        ]
        self._options: dict[tuple[int, ...], Option] = {}

    def index(self, vector: Sequence[int]) -> int:
        """Bit position of ``vector``."""
        return sum(n * s for n, s in zip(vector, self.strides, strict=True))

    def option(self, vector: Sequence[int]) -> Option:
        """The option of adding ``vector`` (cached)."""
        key = tuple(vector)
        opt = self._options.get(key)
        if opt is None:
            fits = covers = 0
            for bit, x in enumerate(self._vectors):
                if all(a + b <= c for a, b, c in zip(x, key, self.caps, strict=True)):
                    fits |= 1 << bit
                if all(a >= b for a, b in zip(x, key, strict=True)):
                    covers |= 1 << bit
            opt = self._options[key] = (self.index(key), fits, covers)
        return opt

    @staticmethod
    def place(fills: int, options: Options) -> int:
        """Every fill reachable by placing the ticket on one of ``fills``; 0 if it fits none."""
        out = 0
        for shift, fits, _ in options:
            out |= (fills & fits) << shift
        return out

    @staticmethod
    def extend(deficits: int, options: Options) -> int:
        """``deficits`` (bit ``full - x``: the tickets can add exactly ``x``), the ticket
        optional."""
        out = deficits
        for shift, _, covers in options:
            out |= (deficits & covers) >> shift
        return out


def exact_groups(space: SlotSpace, options: Sequence[Options]) -> list[list[int]]:
    """Disjoint groups (indices into ``options``, in queue order) that fill ``space``.

    Each group is the oldest-first one (Rule 2): a ticket is taken when an
    exact fill still exists with it and the younger tickets after it.
    """
    n = len(options)
    free = [True] * n
    # reach[i]: the fills that tickets i.. (the free ones) can complete.
    reach = [0] * (n + 1)
    reach[n] = 1 << space.full

    def recompute(stop: int, start: int) -> None:
        for i in range(stop - 1, start - 1, -1):
            nxt = reach[i + 1]
            reach[i] = space.extend(nxt, options[i]) if free[i] else nxt

    recompute(n, 0)
    full_bit = 1 << space.full
    groups: list[list[int]] = []
    start = 0
    while True:
        while start < n and not free[start]:
            start += 1
        if not reach[start] & 1:
            return groups
        fills = 1
        picked: list[int] = []
        for i in range(start, n):
            if not free[i]:
                continue
            placed = space.place(fills, options[i])
            # Invariant: some fill in ``fills`` is completable by tickets i..
            if placed & reach[i + 1]:
                fills = placed & reach[i + 1]
                picked.append(i)
                if fills & full_bit:
                    break
        assert fills & full_bit, "exact_groups picked an incomplete group"
        for i in picked:
            free[i] = False
        groups.append(picked)
        recompute(picked[-1] + 1, start)
