"""A cell's players in flight over its borders, until the orchestrator placed them:
the store's side of ``realmkit.cells.handover`` (what is decided, and why, is
there). ``review`` reads where the crossings' assignments stand and the
neighbours' instances, and returns the hand-overs to take back; ``settle``
reads the assignments of players whose saves were refused.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from realmkit.cells import handover
from realmkit.cells.handover import GIVE_UP_SECONDS, Crossing, Host, Seat
from realmkit.lifecycle.instance import InstanceState
from realmkit.protocol.cells import Handoff
from realmkit.protocol.cluster import Occupant
from realmkit.store.cells import PartitionRepo
from realmkit.store.placement import AssignmentRepo


@dataclass
class Handed:
    handoff: Handoff
    watch: Crossing


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
        self.handed[handoff.entity_id] = Handed(handoff, Crossing(handoff.epoch, at))

    def arrived(self, character_id: int) -> None:
        """The player is this cell's again (handed back, or taken back)."""
        self.handed.pop(character_id, None)

    def forward_to(
        self, character_id: int, gateway_id: str, now: float | None = None
    ) -> int | None:
        """The cell an input for a player handed from here goes to, while its crossing
        is open and the input comes from the player's gateway; else None."""
        h = self.handed.get(character_id)
        if h is None or h.handoff.gateway_id != gateway_id:
            return None
        h.watch.forward(time.monotonic() if now is None else now)
        return h.handoff.to_cell

    async def review(self, now: float | None = None) -> list[Handoff]:
        """Forget the crossings that were placed; the hand-overs to take back."""
        at = time.monotonic() if now is None else now
        for cid in [cid for cid, h in self.handed.items() if h.watch.forgotten(at)]:
            del self.handed[cid]
        due = [cid for cid, h in self.handed.items() if h.watch.due(at)]
        if not due:
            return []
        placed = await self.assignments.of_characters(due)
        back = []
        for cid in due:
            h = self.handed[cid]
            a = placed.get(cid)
            if h.watch.placed(
                None if a is None else Seat(a.instance_id, a.epoch), self.instance_id
            ):
                h.watch.placed_at = at  # placed elsewhere (or gone offline): done
                continue
            if h.watch.lost(at, self.give_up, await self._host(h.handoff.to_cell)):
                del self.handed[cid]
                self.taken_back += 1
                back.append(h.handoff)
        return back

    async def _host(self, cell: int) -> Host | None:
        host = await self.partitions.host(self.partition_id, cell)
        if host is None:
            return None
        _, state, node = host
        return Host(state == InstanceState.READY.value, node)

    async def settle(
        self, refused: list[int], occupants: Mapping[int, Occupant]
    ) -> tuple[dict[int, int], list[int]]:
        """Saves of these players were refused: (newer epochs to adopt, bodies to drop)
        (``realmkit.cells.handover.settle``)."""
        held = {cid: occupants[cid].epoch for cid in refused if cid in occupants}
        if not held:
            return {}, []
        found = await self.assignments.of_characters(list(held))
        seats = {cid: Seat(a.instance_id, a.epoch) for cid, a in found.items()}
        return handover.settle(held, seats, self.instance_id)
