"""Loot rolls and the item-id pool.

Item ids must be unique across the cluster, so a space never counts them up
from a number of its own: the world node hands it blocks ``[start, end)``
that PostgreSQL reserved, and the space asks for another block (an
``ItemIdsNeeded`` event) when the pool runs low. A grant that finds the pool
empty waits in ``pending`` and is emitted when a block arrives: each granted
item is emitted exactly once, with an id taken exactly once.
"""

from __future__ import annotations

import msgspec
import numpy as np

from realmkit.content.schema import LootTable


class PendingGrant(msgspec.Struct, frozen=True):
    """A rolled item still waiting for an id."""

    character_id: int
    template_id: int
    count: int
    source_id: int


class ItemIdPool(msgspec.Struct):
    """Blocks of reserved item ids, used front to back."""

    blocks: list[tuple[int, int]] = []
    low_water: int = 64
    block_size: int = 1024
    requested: bool = False

    def remaining(self) -> int:
        return sum(end - start for start, end in self.blocks)

    def add_block(self, start: int, end: int) -> None:
        """Accept a reserved block; empty or inverted blocks are ignored."""
        if end > start:
            self.blocks.append((start, end))
        self.requested = False

    def take(self) -> int | None:
        """The next unused id, or None when the pool is empty."""
        while self.blocks:
            start, end = self.blocks[0]
            if start < end:
                self.blocks[0] = (start + 1, end)
                return start
            self.blocks.pop(0)
        return None

    def wants_more(self) -> bool:
        """True once per low-water crossing: the caller then asks for a block."""
        if self.requested or self.remaining() >= self.low_water:
            return False
        self.requested = True
        return True


def roll(table: LootTable, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Roll every entry of ``table`` once: a list of (item template, count)."""
    out: list[tuple[int, int]] = []
    for entry in table.entries:
        if rng.random() < entry.chance:
            count = int(rng.integers(entry.min_count, entry.max_count + 1))
            out.append((entry.item, count))
    return out
