"""A cell's players in flight over its borders, until the orchestrator placed them.

A cell that hands a player to a neighbour keeps the hand-over it sent until
the player's assignment has left this cell (the neighbour's ``CrossCell`` was
placed), and ``FORWARD_SECONDS`` after that. Meanwhile the player's inputs
may still reach this cell (its gateway re-pointed a little later), which
forwards them. If the assignment has not moved after a while, the crossing was lost:
the neighbour's node died before it asked (the hand-over went into the
void, or the neighbour was restored from a checkpoint without the player),
or its hand-over was never received. Then this cell takes the player back
from the hand-over it kept, under a higher ownership version, and asks for
the crossing itself: the player plays on from where it was handed, instead
of freezing in a cell that no longer has it.

When to give up on the neighbour: at once if its instance is not READY (its
node was declared dead) or moved node since the first look; after
``GIVE_UP_SECONDS`` in any case. If the neighbour was merely slow and asks
later, the compare-and-set of the crossings settles it (the higher ownership
wins): the loser drops its body when its own crossing is refused, or, if its
crossing was placed just before the take-back, when its next save is refused
(``settle``, within a save interval).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

from realmkit.lifecycle.instance import InstanceState
from realmkit.protocol.cells import Handoff
from realmkit.protocol.cluster import Occupant
from realmkit.store.cells import PartitionRepo
from realmkit.store.placement import AssignmentRepo

log = logging.getLogger("realmkit.world")

# A crossing is placed within milliseconds; one still open after this is looked at.
FIRST_LOOK_SECONDS = 0.5
# Past this, a crossing the neighbour never asked for is taken back whatever its
# instance row says: longer than a crossing waits for the orchestrators (20 s), so a
# neighbour that is alive but kept waiting by an orchestrator outage asks first.
GIVE_UP_SECONDS = 25.0
# Inputs still reaching this cell are forwarded this long after the crossing was
# placed (the gateway may hear of the new cell a little after the database).
FORWARD_SECONDS = 5.0


@dataclass
class Handed:
    handoff: Handoff
    sent_at: float
    # The neighbour's node at the first look: a different one later means it was
    # restored elsewhere meanwhile (without this player).
    node: str | None = None
    looked: bool = False
    placed_at: float | None = None  # when this cell saw the crossing placed


class Crossings:
    def __init__(
        self,
        assignments: AssignmentRepo,
        partitions: PartitionRepo,
        instance_id: int,
        partition_id: int,
        give_up: float = GIVE_UP_SECONDS,
    ) -> None:
        self.give_up = give_up
        self.assignments = assignments
        self.partitions = partitions
        self.instance_id = instance_id
        self.partition_id = partition_id
        self.handed: dict[int, Handed] = {}
        self.taken_back = 0

    def sent(self, handoff: Handoff, now: float | None = None) -> None:
        """A player was handed to a neighbour (with its epoch and gateway set)."""
        at = time.monotonic() if now is None else now
        self.handed[handoff.entity_id] = Handed(handoff, at)

    def arrived(self, character_id: int) -> None:
        """The player is this cell's again (handed back, or taken back)."""
        self.handed.pop(character_id, None)

    def forward_to(self, character_id: int, gateway_id: str) -> int | None:
        """The cell an input for a player handed from here goes to, while its crossing
        is open and the input comes from the player's gateway; else None."""
        h = self.handed.get(character_id)
        if h is None or h.handoff.gateway_id != gateway_id:
            return None
        return h.handoff.to_cell

    async def review(self, now: float | None = None) -> list[Handoff]:
        """Forget the crossings that were placed; the hand-overs to take back."""
        at = time.monotonic() if now is None else now
        for cid in [
            cid
            for cid, h in self.handed.items()
            if h.placed_at is not None and at - h.placed_at >= FORWARD_SECONDS
        ]:
            del self.handed[cid]
        due = [
            cid
            for cid, h in self.handed.items()
            if h.placed_at is None and at - h.sent_at >= FIRST_LOOK_SECONDS
        ]
        if not due:
            return []
        placed = await self.assignments.of_characters(due)
        back = []
        for cid in due:
            h = self.handed[cid]
            a = placed.get(cid)
            if a is None or a.instance_id != self.instance_id or a.epoch != h.handoff.epoch:
                h.placed_at = at  # placed elsewhere (or gone offline): done
                continue
            if await self._lost(h, at):
                del self.handed[cid]
                self.taken_back += 1
                back.append(h.handoff)
        return back

    async def _lost(self, h: Handed, now: float) -> bool:
        if now - h.sent_at >= self.give_up:
            return True
        host = await self.partitions.host(self.partition_id, h.handoff.to_cell)
        if host is None:
            return True  # that cell is gone (merged away meanwhile)
        _, state, node = host
        if state != InstanceState.READY.value:
            return True
        if not h.looked:
            h.looked, h.node = True, node
            return False
        return node != h.node

    async def settle(
        self, refused: list[int], occupants: Mapping[int, Occupant]
    ) -> tuple[dict[int, int], list[int]]:
        """Saves of these players were refused: (newer epochs to adopt, bodies to drop).

        The assignment names this cell under a newer epoch: a crossing or a seat
        placed it here and its answer is on its way (adopt it). It names another
        space: someone else plays the character now, and this body is stale."""
        held = [cid for cid in refused if cid in occupants]
        if not held:
            return {}, []
        found = await self.assignments.of_characters(held)
        adopt, drop = {}, []
        for cid in held:
            a = found.get(cid)
            if a is not None and a.instance_id == self.instance_id:
                if a.epoch > occupants[cid].epoch:
                    adopt[cid] = a.epoch
            else:
                drop.append(cid)
        return adopt, drop
