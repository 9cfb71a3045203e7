"""Entity storage as a structure of numpy arrays, indexed by slot.

Every entity of a space (players and creatures) owns one slot; each column is
one numpy array, so the per-tick work (creature movement, interest, frames)
runs as whole-array operations rather than Python loops over objects.

Invariants:
- ``kind[slot] == Kind.FREE`` exactly for slots not in use; ``size`` is the
  high-water mark, so ``column[:size]`` covers every live slot.
- ``slot_of[entity_id] == slot`` for every live slot, and nothing else.
- Freed slots are reused lowest first, so the same history gives the same
  slots (determinism and snapshot equality depend on it).
- Columns are private to the sim; ``target`` holds a slot (-1 for none), so a
  freed slot must be cleared from every ``target`` before reuse.
- ``kind`` is GHOST_PLAYER or GHOST_CREATURE for a neighbouring cell's
  entity held here read-only; a ghost's columns are what its owner sent.
- ``spawn`` holds a creature's index in ``World.spawn_keys`` (-1 for players):
  which spawn of the map it belongs to, across content switches.
"""

from __future__ import annotations

import heapq
from enum import IntEnum
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray


class Kind(IntEnum):
    FREE = 0
    PLAYER = 1
    CREATURE = 2
    # Read-only copies of a neighbouring cell's entities (``realmkit.sim.cell``):
    # seen and targeted here, simulated by their owner. ``live(PLAYER)`` and
    # ``live(CREATURE)`` leave them out, so the rules never move or hurt them.
    GHOST_PLAYER = 3
    GHOST_CREATURE = 4


# A ghost kind's real kind is two below it (what clients are shown).
GHOST_OFFSET: Final = 2


# Bits of ``flags``; they are replicated to clients as they are.
FLAG_DEAD: Final = 1
FLAG_COMBAT: Final = 2
FLAG_EVADING: Final = 4

COLUMNS: Final[dict[str, type[np.generic]]] = {
    "id": np.int64,
    "kind": np.int8,
    "template": np.int32,
    "x": np.float64,
    "y": np.float64,
    "z": np.float64,
    "o": np.float64,
    "hp": np.int32,
    "max_hp": np.int32,
    "flags": np.uint8,
    # creature behaviour (unused for players)
    "ai": np.int8,
    "home_x": np.float64,
    "home_y": np.float64,
    "home_z": np.float64,
    "dest_x": np.float64,
    "dest_y": np.float64,
    "speed": np.float64,
    "wander": np.float64,
    "aggro": np.float64,
    "leash": np.float64,
    "damage": np.int32,
    "swing_ticks": np.int32,
    "target": np.int32,
    "next_swing": np.int64,
    "respawn_at": np.int64,
    "tagger": np.int64,
    "spawn": np.int32,
    # ownership version (raised by every hand-over between cells; 0 outside cells)
    "version": np.int64,
    # the tick it came to this cell (a hand-over; 0 for what started here)
    "arrived": np.int64,
}

# Columns whose "nothing" is -1 rather than 0 (a fresh or grown slot starts with it).
EMPTY: Final[dict[str, int]] = {"target": -1, "spawn": -1}


class EntityStore:
    """Columns of entity data; see the module docstring for the invariants."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = max(capacity, 1)
        self.size = 0
        self.cols: dict[str, NDArray[Any]] = {
            name: np.full(self.capacity, EMPTY.get(name, 0), dtype=dt)
            for name, dt in COLUMNS.items()
        }
        self.slot_of: dict[int, int] = {}
        self._free: list[int] = []

    def __getitem__(self, name: str) -> NDArray[Any]:
        """The live part of one column (a view: writes go to the store)."""
        return self.cols[name][: self.size]

    def alloc(self, entity_id: int, kind: Kind) -> int:
        """Take a slot for a new entity; its columns start zeroed (``EMPTY`` ones at -1)."""
        if self._free:
            slot = heapq.heappop(self._free)
        else:
            if self.size == self.capacity:
                self._grow()
            slot = self.size
            self.size += 1
        for name, col in self.cols.items():
            col[slot] = EMPTY.get(name, 0)
        self.cols["id"][slot] = entity_id
        self.cols["kind"][slot] = kind
        self.slot_of[entity_id] = slot
        return slot

    def alloc_many(self, entity_ids: list[int], kind: Kind) -> NDArray[np.int64]:
        """``alloc`` for each of ``entity_ids`` in turn (same slots), in one pass per column."""
        n = len(entity_ids)
        reused = [heapq.heappop(self._free) for _ in range(min(n, len(self._free)))]
        fresh = n - len(reused)
        while self.size + fresh > self.capacity:
            self._grow()
        slots = np.array(reused + list(range(self.size, self.size + fresh)), dtype=np.int64)
        self.size += fresh
        for name, col in self.cols.items():
            col[slots] = EMPTY.get(name, 0)
        self.cols["id"][slots] = entity_ids
        self.cols["kind"][slots] = kind
        self.slot_of.update(zip(entity_ids, slots.tolist(), strict=True))
        return slots

    def release(self, slot: int) -> None:
        """Free a slot and drop every creature target that pointed at it."""
        entity_id = int(self.cols["id"][slot])
        del self.slot_of[entity_id]
        self.cols["kind"][slot] = Kind.FREE
        target = self["target"]
        target[target == slot] = -1
        heapq.heappush(self._free, slot)

    def release_many(self, slots: NDArray[np.int64]) -> None:
        """``release`` for many slots at once (one pass over ``target``)."""
        for entity_id in self.cols["id"][slots].tolist():
            del self.slot_of[entity_id]
        self.cols["kind"][slots] = Kind.FREE
        target = self["target"]
        target[np.isin(target, slots)] = -1
        for slot in slots.tolist():
            heapq.heappush(self._free, slot)

    def live(self, kind: Kind | None = None) -> NDArray[np.intp]:
        """Slots in use (of one kind, if given), ascending."""
        kinds = self["kind"]
        mask = kinds != Kind.FREE if kind is None else kinds == kind
        return np.flatnonzero(mask)

    def _grow(self) -> None:
        self.capacity *= 2
        for name, col in self.cols.items():
            bigger = np.full(self.capacity, EMPTY.get(name, 0), dtype=col.dtype)
            bigger[: col.shape[0]] = col
            self.cols[name] = bigger

    # --- snapshot -----------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything needed to rebuild this store bit for bit."""
        return {
            "size": self.size,
            "free": sorted(self._free),
            "cols": {name: col[: self.size].tobytes() for name, col in self.cols.items()},
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> EntityStore:
        size = int(data["size"])
        store = cls(capacity=max(64, size))
        store.size = size
        for name, dt in COLUMNS.items():
            if name in data["cols"]:
                store.cols[name][:size] = np.frombuffer(data["cols"][name], dtype=dt)
            # else: a column older snapshots lack; it keeps its EMPTY value for the caller
        store._free = list(data["free"])
        heapq.heapify(store._free)
        kinds = store["kind"]
        ids = store["id"]
        store.slot_of = {int(ids[s]): int(s) for s in np.flatnonzero(kinds != Kind.FREE)}
        return store
