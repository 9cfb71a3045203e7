"""Live migration: a running space moves to another world node, players and all.

``migrate`` for one instance, under its instance lock:
1. READY -> DRAINING: nobody new is routed to it;
2. the old node freezes the space: it stops after its current tick, writes
   every pending save, then the checkpoint, and unloads it;
3. its players are seated again through the hand-over
   (``Handover.seat_moved_space``): every assignment moves to a new epoch
   (same instance), so the old node could not save them any more even if it
   tried; DRAINING -> LOADING on the new node, which restores the checkpoint
   and keeps the players under their new epochs; LOADING -> READY; gateways
   learn the new epochs (``Repoint`` without ``fresh``: the client sees no
   transfer; inputs sent during the move are dropped).
The space continues from the tick after the one it stopped at. If the old
node does not answer at 2, the instance goes UNHEALTHY and is restored
from its last checkpoint like after a crash.

``drain`` migrates every space off a node (rolling upgrades, scaling down).
"""

from __future__ import annotations

import logging
import time

from realmkit.bus import subjects
from realmkit.errors import Conflict, RealmkitError
from realmkit.lifecycle.instance import InstanceEvent, InstanceState
from realmkit.lifecycle.node import NodeEvent
from realmkit.nodes.orchestrator.handover import Handover
from realmkit.nodes.orchestrator.instances import LOAD_TIMEOUT, InstanceRegistry
from realmkit.protocol.cluster import Drained, FreezeSpace, Frozen, Migrated, Occupant
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import InstanceRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.orchestrator")


class Migrations:
    def __init__(self, db: Database, instances: InstanceRegistry, handover: Handover) -> None:
        self.cluster = ClusterRepo(db)
        self.rows = InstanceRepo(db)
        self.instances = instances
        self.handover = handover

    async def drain(self, node_id: str) -> Drained:
        """Move every space off ``node_id``; the node takes no new ones."""
        await self.cluster.move_world_node(node_id, NodeEvent.DRAIN)
        moved = []
        for instance in await self.rows.on_node(node_id):
            if instance.state is not InstanceState.READY:
                continue
            if await self.instances.merged_away(instance):
                # A cell merged away hands out all it holds: stopped, not moved.
                await self.instances.stop(instance)
                continue
            try:
                moved.append(await self.migrate(instance.instance_id))
            except Conflict:
                now = await self.rows.get(instance.instance_id)
                if now.state is InstanceState.READY and now.node_id == node_id:
                    raise
                # Stopped (an empty dungeon) or moved meanwhile: nothing to move.
        log.info("node %s drained: spaces moved: %d", node_id, len(moved))
        return Drained(node_id, moved)

    async def migrate(self, instance_id: int, to_node: str | None = None) -> Migrated:
        ins = self.instances
        started = time.perf_counter()
        async with ins.db.advisory_lock(f"instance:{instance_id}"):
            instance = await ins.rows.get(instance_id)
            if instance.state is not InstanceState.READY or instance.node_id is None:
                raise Conflict(f"instance {instance_id} is {instance.state.value}, not ready")
            target = to_node or await ins.node_for(avoid=instance.node_id)
            if target == instance.node_id:
                raise Conflict(f"no other world node can take instance {instance_id}")
            drained = await ins.rows.move(instance, InstanceEvent.DRAIN)
            try:
                await ins.bus.request(
                    subjects.node_control(instance.node_id),
                    FreezeSpace(instance_id),
                    Frozen,
                    timeout=LOAD_TIMEOUT,
                )
            except RealmkitError:
                await ins.rows.move(drained, InstanceEvent.FAIL)
                raise
            game = await ins.cluster.game(instance.game_id)
            game_map = (await ins.packs.get(game.content_pack)).maps[instance.map_id]

            async def load(keep: list[Occupant]) -> None:
                loading = await ins.rows.move(drained, InstanceEvent.MIGRATE, target)
                await ins.load(loading, keep)
                await ins.rows.move(loading, InstanceEvent.LOADED)

            keep = await self.handover.seat_moved_space(
                instance, load, game_map.tick_rate, game_map.bounds
            )
        seconds = time.perf_counter() - started
        log.info(
            "instance %d moved %s -> %s with %d players in %.3f s",
            instance_id,
            instance.node_id,
            target,
            len(keep),
            seconds,
        )
        return Migrated(instance_id, target, len(keep), seconds)
