"""What a cell decides about the players it handed to a neighbour, until the
orchestrator placed them there (CELLS.md cases 1 and 5). No I/O, no clock: the
world node (``nodes/world/crossings.py``) reads the store and passes what it
found and the time.

A cell that hands a player over keeps watching the crossing (``Crossing``)
until the player's assignment has left this cell under the epoch it was handed
with (``placed``: the neighbour's ``CrossCell`` was placed), and
``FORWARD_SECONDS`` after that, while the player's inputs may still reach this
cell (its gateway re-pointed a little later) and are forwarded. An input that
still comes keeps the crossing that long again: a gateway that did not hear of
the crossing (its re-point is being asked again) keeps its player playable.

If the assignment has not moved after a while, the crossing was lost: the
neighbour's node died before it asked (the hand-over went into the void, or
the neighbour was restored from a checkpoint without the player), or its
hand-over was never received. ``lost`` says when to give up on the neighbour:
at once if its cell is gone or its instance is not READY (its node was
declared dead) or it moved node since the first look (restored elsewhere,
without this player); after ``give_up`` seconds in any case. The cell then
takes the player back under a higher ownership version and asks for the
crossing itself. A neighbour that was merely slow and asks later loses the
compare-and-set of the crossings (the higher ownership wins); the loser drops
its body when its own crossing is refused, or, if its crossing was placed just
before the take-back, when its next save is refused (``settle``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# A crossing is placed within milliseconds; one still open after this is looked at.
FIRST_LOOK_SECONDS = 0.5
# Past this, a crossing the neighbour never asked for is taken back whatever its
# instance row says: longer than a crossing waits for the orchestrators (20 s), so a
# neighbour that is alive but kept waiting by an orchestrator outage asks first.
GIVE_UP_SECONDS = 25.0
# Inputs still reaching this cell are forwarded this long after the crossing was
# placed (the gateway may hear of the new cell a little after the database).
FORWARD_SECONDS = 5.0
# A creature handed over is sent again to its new owner's next incarnation this long
# after: longer than a node is declared dead and its cells restored.
RESEND_SECONDS = 30.0


@dataclass(frozen=True)
class Seat:
    """Where a character's assignment stands: its space (None: none) and epoch."""

    instance_id: int | None
    epoch: int


@dataclass(frozen=True)
class Host:
    """The neighbour cell's instance as stored: READY or not, and on which node."""

    ready: bool
    node: str | None


@dataclass
class Crossing:
    """One player handed to a neighbour under ``epoch``, as its old cell watches it."""

    epoch: int
    sent_at: float
    # The neighbour's node at the first look: a different one later means it was
    # restored elsewhere meanwhile (without this player).
    node: str | None = None
    looked: bool = False
    placed_at: float | None = None  # when this cell saw the crossing placed
    forwarded_at: float | None = None  # when an input for the player came last

    def due(self, now: float) -> bool:
        """Not seen placed yet, and old enough to look at the store."""
        return self.placed_at is None and now - self.sent_at >= FIRST_LOOK_SECONDS

    def forward(self, now: float) -> None:
        """An input for the player came here and goes on to the neighbour."""
        self.forwarded_at = now

    def forgotten(self, now: float) -> bool:
        """Placed, and no input came for it for FORWARD_SECONDS since then."""
        if self.placed_at is None:
            return False
        last = max(self.placed_at, self.forwarded_at or self.placed_at)
        return now - last >= FORWARD_SECONDS

    def placed(self, seat: Seat | None, here: int) -> bool:
        """Whether the assignment (``seat``; None: gone offline) left this cell's
        space ``here`` or the epoch the player was handed under."""
        return seat is None or seat.instance_id != here or seat.epoch != self.epoch

    def lost(self, now: float, give_up: float, host: Host | None) -> bool:
        """Whether to give up on the neighbour (``host`` None: its cell is gone,
        merged away meanwhile). The first look only remembers its node."""
        if now - self.sent_at >= give_up or host is None or not host.ready:
            return True
        if not self.looked:
            self.looked, self.node = True, host.node
            return False
        return host.node != self.node


def settle(
    mine: Mapping[int, int], seats: Mapping[int, Seat], here: int
) -> tuple[dict[int, int], list[int]]:
    """Players whose saves were refused, with the epochs this cell plays them under
    (``mine``), and their assignments (``seats``): (newer epochs to adopt, bodies to
    drop). An assignment naming this cell's space under a newer epoch was placed
    here (a crossing or a seat whose answer is on its way): adopt it. One naming
    another space, or none, means someone else plays the character now, or nobody:
    this body is stale."""
    adopt, drop = {}, []
    for cid, epoch in mine.items():
        seat = seats.get(cid)
        if seat is not None and seat.instance_id == here:
            if seat.epoch > epoch:
                adopt[cid] = seat.epoch
        else:
            drop.append(cid)
    return adopt, drop


class Resends(Generic[T]):
    """The creatures a cell handed over (``T``: the hand-over), kept ``keep`` seconds.

    The cell that took a creature may be loaded again from a checkpoint written
    before it took it (its node died, or it moved live and the hand-over came
    after its snapshot): the creature would be lost. Its neighbours hear the new
    incarnation (a higher cell epoch, ``ghosts.Incarnations``) and send it again
    what they handed it meanwhile; it takes only what it does not hold already
    (``sim/cell.take_in``). Players need none of this: their crossing is watched
    until it is placed, and taken back (``Crossing``).
    """

    def __init__(self, keep: float = RESEND_SECONDS) -> None:
        self.keep = keep
        self._sent: dict[int, tuple[float, int, T]] = {}

    def sent(self, entity_id: int, to_cell: int, handoff: T, now: float) -> None:
        self._sent[entity_id] = (now, to_cell, handoff)

    def back(self, entity_id: int) -> None:
        """The creature is this cell's again: nothing to send for it."""
        self._sent.pop(entity_id, None)

    def renewed(self, cell: int, now: float) -> list[T]:
        """``cell`` runs a new incarnation: what was handed to it within ``keep``."""
        for entity_id in [e for e, (at, _, _) in self._sent.items() if now - at > self.keep]:
            del self._sent[entity_id]
        return [h for _, to_cell, h in self._sent.values() if to_cell == cell]

    def __len__(self) -> int:
        return len(self._sent)
