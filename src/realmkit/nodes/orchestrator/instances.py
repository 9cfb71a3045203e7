"""The instance registry: bringing instances up, back, and down.

Every move of an instance row runs under the advisory lock ``instance:<id>``
(re-reading the row inside it), so replicas that race, or a replica that
takes over from one that died half-way, agree on one outcome:

- REQUESTED or LOADING: (re)send ``LoadSpace`` to its node; loading is
  idempotent on the node, so a crashed replica's half-done load completes.
- UNHEALTHY (its node died): load it on another node from its latest
  checkpoint, then seat its players again from their last fenced save
  (``Handover.reseat_all``); their clients see ``transfer_pending`` then
  ``new_world``.
- READY: nothing to do. DRAINING or STOPPING: "not now" (``Unavailable``);
  callers retry.

Instances other services ask for (a match's battleground or arena) are
created here too (``request_instance``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cells.partition import Rect
from realmkit.errors import Conflict, NotFound, RealmkitError, Unavailable
from realmkit.lifecycle.instance import InstanceEvent, InstanceState
from realmkit.nodes.orchestrator.handover import Handover
from realmkit.nodes.packs import PackCache
from realmkit.protocol.cluster import (
    CellPlace,
    Frozen,
    InstanceInfo,
    LoadSpace,
    Occupant,
    RequestInstance,
    SpaceReady,
    StopSpace,
)
from realmkit.routing.world_nodes import pick_world_node
from realmkit.store.cells import PartitionRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Instance, MapKind

log = logging.getLogger("realmkit.orchestrator")

FRESH_HEARTBEAT = 3.0
LOAD_TIMEOUT = 10.0
PARALLEL_REATTACH = 32


class InstanceRegistry:
    def __init__(self, db: Database, bus: NatsBus, packs: PackCache, handover: Handover) -> None:
        self.db = db
        self.bus = bus
        self.packs = packs
        self.handover = handover
        self.cluster = ClusterRepo(db)
        self.rows = InstanceRepo(db)
        self.assignments = AssignmentRepo(db)
        self.partitions = PartitionRepo(db)
        # A restore (or a realm restart) holds its lock's connection while it
        # re-attaches players, each of whom needs one too: only a quarter of the pool
        # restores at a time, so those always find a connection (however many
        # instances broke at once).
        self.restoring = asyncio.Semaphore(max(1, db.pool.get_max_size() // 4))

    async def node_for(self, avoid: str | None = None) -> str:
        return pick_world_node(await self.cluster.world_candidates(FRESH_HEARTBEAT), avoid)

    async def create(
        self, game_id: str, map_id: int, kind: MapKind, pool_id: int, realm_id: int | None
    ) -> Instance:
        """A new instance of a map, loaded and READY."""
        pack = await self.packs.get((await self.cluster.game(game_id)).content_pack)
        if map_id not in pack.maps or pack.maps[map_id].kind != kind.value:
            raise NotFound(f"{kind.value} map", map_id)
        game_map = pack.maps[map_id]
        b = game_map.bounds
        created = await self.rows.create(
            game_id=game_id,
            map_id=map_id,
            kind=kind,
            pool_id=pool_id,
            realm_id=realm_id,
            capacity=game_map.max_players,
            bounds=Rect(b.min_x, b.min_y, b.max_x, b.max_y) if kind is MapKind.CONTINENT else None,
        )
        return await self.running(created.instance_id)

    async def running(self, instance_id: int, *, avoid: str | None = None) -> Instance:
        """The instance, READY (loaded or restored first when needed; on a node other
        than ``avoid`` when one has room)."""
        instance = await self.rows.get(instance_id)
        if instance.state is InstanceState.READY:
            return instance  # the common case needs no lock
        first_load = instance.state is InstanceState.REQUESTED  # nobody to re-attach
        gate = contextlib.nullcontext() if first_load else self.restoring
        async with gate, self.db.advisory_lock(f"instance:{instance_id}"):
            instance = await self.rows.get(instance_id)
            state = instance.state
            if state is InstanceState.READY:
                return instance
            if state in (InstanceState.DRAINING, InstanceState.STOPPING):
                raise Unavailable(f"instance {instance_id} is {state.value}; try again")
            if state is InstanceState.GONE:
                raise Conflict(f"instance {instance_id} is gone", instance_id=instance_id)
            if await self.merged_away(instance):
                # Its area is another cell's now: the leader gives it up, never restores it.
                raise Conflict(f"instance {instance_id} was a cell merged away")
            if state is not InstanceState.LOADING or instance.node_id is None:
                node_id = await self.node_for(avoid=instance.node_id or avoid)
                first = state is InstanceState.REQUESTED  # else UNHEALTHY, restored
                event = InstanceEvent.LOAD if first else InstanceEvent.RESTORE
                instance = await self.rows.move(instance, event, node_id)
            await self.load(instance)
            ready = await self.rows.move(instance, InstanceEvent.LOADED)
            if state is not InstanceState.REQUESTED:
                await self.handover.reseat_all(ready, "recovery", PARALLEL_REATTACH)
            log.info(
                "instance %d (map %d) %s on %s",
                instance_id,
                ready.map_id,
                "ready" if state is InstanceState.REQUESTED else f"{state.value} -> ready",
                ready.node_id,
            )
            return ready

    async def merged_away(self, instance: Instance) -> bool:
        """A continent instance that no live partition names as a cell, while its map
        has a live partition: a cell merged away."""
        if instance.kind != MapKind.CONTINENT.value or instance.realm_id is None:
            return False
        if await self.partitions.of_instance(instance.instance_id) is not None:
            return False
        return await self.partitions.live(instance.realm_id, instance.map_id) is not None

    async def load(
        self, instance: Instance, keep: list[Occupant] | None = None, *, fresh: bool = False
    ) -> None:
        """Have its node load it: from its checkpoint when there is one, else (or
        ``fresh``: a realm restart) from its content."""
        assert instance.node_id is not None
        game = await self.cluster.game(instance.game_id)
        place = None
        if instance.kind == MapKind.CONTINENT.value:
            assert instance.realm_id is not None  # the schema's: continents have a realm
            b = (await self.packs.get(game.content_pack)).maps[instance.map_id].bounds
            cell = await self.partitions.ensure(
                instance_id=instance.instance_id,
                realm_id=instance.realm_id,
                map_id=instance.map_id,
                zone_group=instance.zone_group,
                bounds=Rect(b.min_x, b.min_y, b.max_x, b.max_y),
            )
            stored = await self.partitions.get(cell.partition_id)
            epoch = await self.partitions.next_epoch(instance.instance_id)
            place = CellPlace(cell.partition_id, cell.cell_id, stored.layout.dump(), epoch)
        load = LoadSpace(
            instance.instance_id,
            game.content_pack,
            instance.map_id,
            secrets.randbits(62),
            restore=not fresh,
            keep=keep or [],
            cell=place,
        )
        try:
            await self.bus.request(
                subjects.node_control(instance.node_id), load, SpaceReady, timeout=LOAD_TIMEOUT
            )
        except Unavailable:
            # That node cannot host it now; another will be picked next time.
            await self.rows.move(instance, InstanceEvent.FAIL)
            raise

    async def stop(self, instance: Instance) -> bool:
        """Stop an instance that is still empty: DRAINING, saved and unloaded, GONE."""
        async with self.db.advisory_lock(f"instance:{instance.instance_id}"):
            current = await self.rows.get(instance.instance_id)
            if current.state is not InstanceState.READY:
                return False
            if await self.assignments.in_instance(instance.instance_id):
                return False  # somebody came in meanwhile
            drained = await self.rows.move(current, InstanceEvent.DRAIN)
        assert current.node_id is not None
        try:
            await self.bus.request(
                subjects.node_control(current.node_id),
                StopSpace(current.instance_id),
                Frozen,
                timeout=LOAD_TIMEOUT,
            )
        except RealmkitError as exc:
            log.warning("stopping instance %d: %s", instance.instance_id, exc.message)
            failed = await self.rows.move(drained, InstanceEvent.FAIL)
            await self.rows.move(failed, InstanceEvent.GIVE_UP)
            return True
        stopping = await self.rows.move(drained, InstanceEvent.STOP)
        await self.rows.move(stopping, InstanceEvent.STOPPED)
        log.info("instance %d (map %d) stopped: empty", instance.instance_id, instance.map_id)
        return True

    async def request_instance(self, request: RequestInstance) -> InstanceInfo:
        """A new instance for another service (matchmaking): battleground, arena, dungeon."""
        game = await self.cluster.game(request.game_id)
        pack = await self.packs.get(game.content_pack)
        found = pack.maps.get(request.map_id)
        if found is None or found.kind == MapKind.CONTINENT.value:
            raise NotFound("instanced map", request.map_id)
        instance = await self.create(
            request.game_id, request.map_id, MapKind(found.kind), request.pool_id, request.realm_id
        )
        assert instance.node_id is not None
        return InstanceInfo(
            instance.instance_id, instance.node_id, instance.map_id, instance.capacity
        )
