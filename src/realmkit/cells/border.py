"""What a cell shares with its neighbours, and when an entity changes owner. No I/O.

Ghost margin: a player owned by cell A may stand up to ``cross`` outside A's
rectangle (it has not crossed yet) and sees ``view`` around it; an entity
owned by B moves at most ``travel`` while its ghost is on its way. So B
publishes to A every entity within ``ghost = view + cross + travel`` of A's
rectangle, and nothing a player of A may see is missing.

Crossing (hysteresis, CELLS.md case 2): an entity changes owner only once it
is more than ``cross`` outside its owner's rectangle, so the band where it
keeps its owner is ``2 * cross`` wide around every border; and not before it
has stayed ``min_stay`` ticks with its owner, so being knocked back and forth
over a border does not hand it over each tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from realmkit.cells.partition import Partition
from realmkit.content.schema import MapDef

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# The bus's delay a ghost may take on top of a tick, in seconds (measured
# under load on one machine: p99 of a frame's trip well below this).
BUS_DELAY_S = 0.1
# How far past a border an entity goes before it changes owner.
CROSS_MARGIN = 4.0
# How long an entity stays with an owner before it may leave it again.
MIN_STAY_S = 1.0


@dataclass(frozen=True, slots=True)
class Margins:
    view: float  # view radius + view hysteresis
    cross: float  # how far past a border an entity goes before it changes owner
    travel: float  # how far the fastest entity moves while its ghost travels
    min_stay: int  # ticks an entity stays with an owner before it may leave it

    @property
    def ghost(self) -> float:
        """How far from a cell's rectangle its neighbours' entities are ghosted to it."""
        return self.view + self.cross + self.travel

    @property
    def min_cell(self) -> float:
        """The narrowest a cell may be (CELLS.md case 13): twice the ghost margin,
        so no entity is a ghost on both sides of a cell."""
        return 2.0 * self.ghost

    @classmethod
    def of_map(cls, map_def: MapDef, fastest: float) -> Margins:
        """The margins of a map whose fastest entity moves ``fastest`` units a second."""
        tick_s = 1.0 / map_def.tick_rate
        return cls(
            view=map_def.view_radius + map_def.view_hysteresis,
            cross=CROSS_MARGIN,
            travel=fastest * (tick_s + BUS_DELAY_S),
            min_stay=max(1, round(MIN_STAY_S * map_def.tick_rate)),
        )


def ghost_targets(
    partition: Partition, cell: int, margins: Margins, x: FloatArray, y: FloatArray
) -> dict[int, IntArray]:
    """For each other cell near ``cell``, the indices (into ``x``/``y``) of the
    entities within the ghost margin of that cell's rectangle."""
    out: dict[int, IntArray] = {}
    for other in partition.near(cell, margins.ghost):
        mask = partition.rect(other).distances(x, y) <= margins.ghost
        out[other] = np.flatnonzero(mask).astype(np.int64)
    return out


def crossings(
    partition: Partition,
    cell: int,
    margins: Margins,
    x: FloatArray,
    y: FloatArray,
    owned: NDArray[np.bool_],
    arrived: IntArray,
    tick: int,
) -> tuple[IntArray, IntArray]:
    """(indices, new owner cells) of the entities that leave ``cell`` this tick.

    ``owned`` marks the entities the cell owns (the others, its ghosts, never
    leave it); ``arrived`` holds, per entity, the tick at which it came to this
    cell (its spawn, or its hand-over here). An owned entity leaves once it is
    more than ``margins.cross`` outside the cell and has stayed
    ``margins.min_stay`` ticks.
    """
    outside = partition.rect(cell).distances(x, y) > margins.cross
    settled = (tick - arrived) >= margins.min_stay
    index = np.flatnonzero(owned & outside & settled).astype(np.int64)
    if index.size == 0:
        return index, index  # the usual tick: no one leaves
    return index, partition.cells_at(x[index], y[index])
