"""Changing a continent's cells: a split, under the partition's lock.

1. the new layout is written (``PartitionRepo.relayout``: a compare-and-set on
   the version, the new cell's instance created in the same transaction);
2. the new cell's space is loaded on a world node other than the split cell's
   (placed by free room), so the hand-overs it is about to get have a receiver;
3. every cell of the old layout hears the new one (``Relayout``) and, at its
   next tick, hands what the layout gives to another cell to it.

A crash between 1 and 2 leaves the new cell's instance REQUESTED: the next
request for it (or the leader's restore) loads it. A cell that misses the
``Relayout`` keeps its old border until it hears of the layout otherwise;
nothing is doubled meanwhile, since only a hand-over moves an entity.
"""

from __future__ import annotations

import logging

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cells.border import Margins
from realmkit.cells.partition import Axis
from realmkit.errors import InvalidInput, NotFound
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.packs import PackCache
from realmkit.protocol.cells import Relayout
from realmkit.protocol.cluster import CellsChanged, SplitCell
from realmkit.sim.cell import fastest
from realmkit.store.cells import PartitionRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.orchestrator")


class Cells:
    def __init__(
        self, db: Database, bus: NatsBus, packs: PackCache, instances: InstanceRegistry
    ) -> None:
        self.db = db
        self.bus = bus
        self.packs = packs
        self.instances = instances
        self.partitions = PartitionRepo(db)
        self.cluster = ClusterRepo(db)

    async def split(self, request: SplitCell) -> CellsChanged:
        try:
            axis = Axis(request.axis)
        except ValueError:
            raise InvalidInput("axis", "x or y") from None
        async with self.db.advisory_lock(f"partition:{request.realm_id}:{request.map_id}"):
            stored = await self.partitions.live(request.realm_id, request.map_id)
            if stored is None:
                raise NotFound("continent", (request.realm_id, request.map_id))
            realm = await self.cluster.realm(request.realm_id)
            pack = await self.packs.get((await self.cluster.game(realm.game_id)).content_pack)
            margins = Margins.of_map(pack.maps[request.map_id], fastest(pack))
            layout = stored.layout.split(request.cell_id, axis, request.at, margins.min_cell)
            born = layout.next_cell - 1
            named: dict[int, int | None] = {c: r.instance_id for c, r in stored.cells.items()}
            after = await self.partitions.relayout(stored, layout, {**named, born: None})
            split_node = (await self.instances.rows.get(named[request.cell_id] or 0)).node_id
            await self.instances.running(after.cells[born].instance_id, avoid=split_node)
            for cell in stored.cells:
                message = Relayout(after.partition_id, layout.dump())
                await self.bus.publish(subjects.cell_messages(after.partition_id, cell), message)
        log.info(
            "continent %d/%d: cell %d split at %s=%.1f, new cell %d (version %d)",
            request.realm_id,
            request.map_id,
            request.cell_id,
            axis.value,
            request.at,
            born,
            layout.version,
        )
        return CellsChanged(
            after.partition_id, after.version, {c: r.instance_id for c, r in after.cells.items()}
        )
