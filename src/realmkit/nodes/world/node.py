"""The world node: hosts the spaces the orchestrator assigns to it.

Subjects it serves:
- ``node.<id>.control``: ``LoadSpace`` (idempotent; from a checkpoint when
  restoring), answered once the space ticks and takes players;
  ``FreezeSpace`` (live migration: halt, flush, checkpoint, unload) and
  ``StopSpace``;
- ``space.<instance>.control``: ``JoinSpace`` / ``LeaveSpace`` / ``HandOff``;
- ``space.<instance>.in``: the gateways' input batches.
It heartbeats into ``cluster.nodes`` and publishes ``WorldLoad`` every second.

On SIGTERM it asks the orchestrators to move its spaces to other nodes
(live migration) before it stops; spaces that could not move are stopped,
saved, and marked UNHEALTHY for the leader to restore elsewhere.

A node that starts marks the instances the registry still gives it
UNHEALTHY: a previous process of the same name died with them, and the
orchestrator's leader restores them. A node whose heartbeat finds that a
space it runs was given to another node meanwhile (it was thought dead)
abandons that space without writing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from functools import partial

import msgspec

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus, Subscription
from realmkit.cells.border import Margins
from realmkit.cells.partition import Partition
from realmkit.content.schema import ContentPack
from realmkit.engines.embedded import Endpoints
from realmkit.errors import NotFound, RealmkitError, StaleEpoch
from realmkit.lifecycle.node import NodeEvent
from realmkit.nodes.content import Scope, SpaceContent, Version
from realmkit.nodes.metrics import node_registry
from realmkit.nodes.packs import PackCache
from realmkit.nodes.presence import mark_stopped
from realmkit.nodes.world.crossings import Crossings
from realmkit.nodes.world.metrics import WorldMetrics
from realmkit.nodes.world.runner import SpaceRunner
from realmkit.protocol.cells import CellMessage
from realmkit.protocol.cluster import (
    Apart,
    DescribeSpace,
    Distance,
    Drained,
    DrainNode,
    FreezeSpace,
    Frozen,
    HandOff,
    InputBatch,
    Joined,
    JoinSpace,
    LeaveSpace,
    Left,
    LoadSpace,
    Occupant,
    PatchActivated,
    SpaceControl,
    SpaceDescription,
    SpaceLoad,
    SpaceReady,
    WorldControl,
    WorldLoad,
)
from realmkit.settings import NodeSpec
from realmkit.sim.cell import fastest
from realmkit.sim.space import Space
from realmkit.store.cells import FIRST_LOAD_EPOCH, PartitionRepo
from realmkit.store.characters import CharacterRepo, ItemRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.spaces import CheckpointRepo

log = logging.getLogger("realmkit.world")

HEARTBEAT_SECONDS = 1.0
# Every this many heartbeats the active patches are read again from PostgreSQL.
CONTENT_CHECK_BEATS = 5
# How long a stopping node waits for its spaces to be moved to other nodes.
MIGRATE_ON_STOP = 8.0


class WorldNode:
    def __init__(self, spec: NodeSpec, endpoints: Endpoints, time_dilation: float = 1.0) -> None:
        self.name = spec.name
        self.time_dilation = time_dilation
        self.spec = spec
        self.endpoints = endpoints
        self.packs = PackCache()
        self._content: SpaceContent | None = None
        self._refreshing = asyncio.Lock()
        self.runners: dict[int, SpaceRunner] = {}
        self.registry = node_registry("world", spec.name)
        self.metrics = WorldMetrics(self.registry, lambda: self.runners, spec.capacity)
        self._subs: dict[int, list[Subscription]] = {}
        self._loading = asyncio.Lock()
        self._db: Database | None = None
        self._bus: NatsBus | None = None
        self._control: Subscription | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    @property
    def db(self) -> Database:
        assert self._db is not None, "start() first"
        return self._db

    @property
    def bus(self) -> NatsBus:
        assert self._bus is not None, "start() first"
        return self._bus

    async def start(self) -> None:
        self._db = await Database.connect(self.endpoints.database_url, max_size=10, name=self.name)
        self._bus = await NatsBus.connect(self.endpoints.nats_url, name=self.name)
        cluster = ClusterRepo(self.db)
        await cluster.register_node(
            self.name,
            "world",
            self.spec.host,
            self.spec.port,
            self.spec.capacity,
            metrics_port=self.spec.metrics_port,
        )
        lost = await InstanceRepo(self.db).mark_unhealthy_on(self.name)
        if lost:
            log.warning("instances %s died with this node's previous process", lost)
        self._content = SpaceContent(self.db, self.packs)
        self._control = await self.bus.serve(
            subjects.node_control(self.name), WorldControl, self._on_control, concurrent=True
        )
        await self.bus.subscribe(subjects.CONTENT_PATCHES, PatchActivated, self._on_patch)
        await cluster.heartbeat(self.name, NodeEvent.UP, self.spec.capacity)
        self._heartbeat = asyncio.create_task(self._beating(cluster))

    async def drain(self) -> None:
        """Stop taking spaces; hand the spaces to other nodes (live migration, as
        `realmkit drain` does) so a rolling upgrade costs players nothing; stop
        what could not move (saved; restored elsewhere from its checkpoint)."""
        with contextlib.suppress(RealmkitError):
            await ClusterRepo(self.db).heartbeat(self.name, NodeEvent.DRAIN, self.spec.capacity)
        if self.runners:
            try:
                drained = await self.bus.request(
                    subjects.ORCHESTRATOR_REQUESTS,
                    DrainNode(self.name),
                    Drained,
                    timeout=MIGRATE_ON_STOP,
                )
                log.info("spaces moved to other nodes: %d", len(drained.spaces))
            except RealmkitError as exc:
                log.warning("spaces not moved away (%s): stopping them here", exc.message)
        if self._control is not None:
            await self.bus.drain_subscription(self._control)
        left = list(self.runners)
        for instance_id in left:
            await self._unload(instance_id)
        if left:
            with contextlib.suppress(RealmkitError):
                await InstanceRepo(self.db).mark_unhealthy_on(self.name)

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        for instance_id in list(self.runners):
            await self._unload(instance_id)
        if self._db is not None:
            await mark_stopped(ClusterRepo(self._db), self.name, self.spec.capacity)
        if self._bus is not None:
            await self._bus.close()
        if self._db is not None:
            await self._db.close()

    # --- spaces -----------------------------------------------------------------

    async def _on_control(self, request: WorldControl) -> SpaceReady | Frozen:
        if isinstance(request, LoadSpace):
            return await self._load(request)
        runner = self.runners.get(request.instance_id)
        if runner is None:
            raise NotFound("space", request.instance_id)
        if isinstance(request, FreezeSpace):
            tick = await runner.freeze()
        else:
            await runner.stop()
            tick = runner.space.tick
        await self._unload(request.instance_id, runner_stopped=True)
        log.info("space %d stopped at tick %d", request.instance_id, tick)
        return Frozen(request.instance_id, tick)

    @property
    def content(self) -> SpaceContent:
        assert self._content is not None, "start() first"
        return self._content

    async def _space(self, request: LoadSpace, pack: ContentPack) -> tuple[Space, list[Occupant]]:
        """A fresh space, or the instance's checkpoint made ready to continue here."""
        checkpoint = None
        if request.restore:
            checkpoint = await CheckpointRepo(self.db).latest(request.instance_id)
        place = None
        populate = True
        if request.cell is not None:
            margins = Margins.of_map(pack.maps[request.map_id], fastest(pack))
            layout = Partition.load(request.cell.layout)
            place = (layout, request.cell.cell_id, margins)
            # A cell a split just made starts empty: the cell it was cut from hands it
            # the creatures on its side. Loaded again without a checkpoint (its node
            # died first), those died with it, and it spawns its own.
            populate = len(layout.cells) == 1 or request.cell.epoch > FIRST_LOAD_EPOCH
        if checkpoint is None:
            fresh = Space(
                pack,
                request.map_id,
                instance_id=request.instance_id,
                seed=request.seed,
                cell=place,
                partition_id=request.cell.partition_id if request.cell else 0,
                populate=populate,
            )
            if fresh.cell is not None:
                fresh.cell.spawned_fresh = populate
            return fresh, []
        space = await asyncio.to_thread(
            partial(
                Space.restore,
                pack,
                checkpoint.snapshot,
                cell=place,
                partition_id=request.cell.partition_id if request.cell else 0,
            )
        )
        keep = {o.character_id: o for o in request.keep}
        space.resume_elsewhere(set(keep))
        return space, [keep[cid] for cid in space.world.players]

    async def _content_of(self, instance_id: int) -> tuple[Scope, Version, ContentPack]:
        instance = await InstanceRepo(self.db).get(instance_id)
        scope = Scope(instance.game_id, instance.realm_id, instance.pool_id)
        version = await self.content.version(scope)
        return scope, version, await self.content.pack(version)

    async def _on_patch(self, message: PatchActivated) -> None:
        log.info("patch %s activated for %s", message.patch_id, message)
        await self._refresh_content()

    async def _refresh_content(self) -> None:
        """Give every space whose realm (or pool) changed patch its new content."""
        async with self._refreshing:
            versions: dict[Scope, Version] = {}
            for runner in list(self.runners.values()):
                if runner.scope is None:
                    continue
                try:
                    if runner.scope not in versions:
                        versions[runner.scope] = await self.content.version(runner.scope)
                    version = versions[runner.scope]
                    if version != runner.version:
                        runner.use_content(await self.content.pack(version), version)
                except RealmkitError as exc:
                    log.warning("space %d keeps its content: %s", runner.instance_id, exc.message)

    async def _load(self, request: LoadSpace) -> SpaceReady:
        async with self._loading:
            if request.instance_id not in self.runners:
                scope, version, pack = await self._content_of(request.instance_id)
                space, occupants = await self._space(request, pack)
                runner = SpaceRunner(
                    space,
                    request.instance_id,
                    space.world.map.tick_rate,
                    self.bus,
                    CharacterRepo(self.db),
                    ItemRepo(self.db),
                    CheckpointRepo(self.db),
                    self.name,
                    version=version,
                    scope=scope,
                    time_dilation=self.time_dilation,
                    meter=self.metrics.space(scope.realm_id, request.map_id, request.instance_id),
                    crossings=None
                    if request.cell is None
                    else Crossings(
                        AssignmentRepo(self.db),
                        PartitionRepo(self.db),
                        request.instance_id,
                        request.cell.partition_id,
                    ),
                )
                for occupant in occupants:
                    runner.occupants[occupant.character_id] = occupant
                if request.cell is not None:
                    runner.cell_epoch = request.cell.epoch
                self.runners[request.instance_id] = runner
                runner.start()
                self._subs[request.instance_id] = [
                    await self.bus.serve(
                        subjects.space_control(request.instance_id),
                        SpaceControl,
                        partial(self._space_control, runner),
                        concurrent=True,
                    ),
                    await self.bus.subscribe(
                        subjects.space_inputs(request.instance_id),
                        InputBatch,
                        partial(_receive, runner),
                    ),
                ]
                if request.cell is not None:
                    cell = subjects.cell_messages(request.cell.partition_id, request.cell.cell_id)
                    self._subs[request.instance_id].append(
                        await self.bus.subscribe(cell, CellMessage, partial(_from_cell, runner))
                    )
                # Long-lived content and space arrays leave the GC's view, so full
                # collections stop landing on random ticks (bench/README.md).
                gc.collect()
                gc.freeze()
                log.info(
                    "space %d (map %d) %s at tick %d with %d players",
                    request.instance_id,
                    request.map_id,
                    "restored" if space.tick > 0 else "loaded",
                    space.tick,
                    len(occupants),
                )
        return SpaceReady(request.instance_id, self.name)

    async def _unload(self, instance_id: int, *, runner_stopped: bool = False) -> None:
        runner = self.runners.pop(instance_id, None)
        for sub in self._subs.pop(instance_id, []):
            with contextlib.suppress(RealmkitError):
                await sub.unsubscribe()
        if runner is not None:
            self.metrics.forget(runner.meter)
            if not runner_stopped:
                await runner.stop()

    async def _space_control(
        self, runner: SpaceRunner, request: SpaceControl
    ) -> Joined | Left | SpaceDescription | Apart:
        if isinstance(request, JoinSpace):
            return await self._join(runner, request)
        if isinstance(request, Distance):
            return Apart(runner.space.distance(request.a, request.b))
        if isinstance(request, DescribeSpace):
            return SpaceDescription(
                runner.instance_id,
                self.name,
                runner.space.tick,
                len(runner.occupants),
                runner.version.patch_id if runner.version else None,
                runner.space.creature_stats(),
                runner.space.creatures_standing(),
                runner.cell_cost(),
            )
        occupant = runner.occupants.get(request.character_id)
        if occupant is None or occupant.epoch > request.epoch:
            raise NotFound("player in space", request.character_id)
        if occupant.epoch < request.epoch:
            if not runner.continent:
                raise NotFound("player in space", request.character_id)
            # It crossed into this cell and the orchestrator placed it here under a
            # newer epoch, whose answer has not reached the runner yet.
            runner.occupants[request.character_id] = msgspec.structs.replace(
                occupant, epoch=request.epoch
            )
        if isinstance(request, HandOff):
            _, saved = await runner.leave(request.character_id)
            return Left(request.character_id, saved)
        return await self._leave(runner, request)

    async def _join(self, runner: SpaceRunner, request: JoinSpace) -> Joined:
        # Checks the assignment (this space, this epoch), marks it in the world and
        # reads the character: one round trip, as a whole match joins at once.
        c = await AssignmentRepo(self.db).arrive(
            request.character_id, runner.instance_id, request.epoch
        )
        occupant = Occupant(request.character_id, request.epoch, request.gateway_id)
        if request.character_id in runner.occupants and not request.spawn:
            # Reconnected (or re-attached) while still here: the same body goes on
            # under the new epoch and gateway, nothing since the last save is lost.
            runner.occupants[request.character_id] = occupant
            return self._joined(runner, request.character_id)
        if request.character_id in runner.occupants:
            await runner.leave(request.character_id)
        if request.spawn:
            x, y, z, o = runner.space.spawn_point(request.spawn)
            c = msgspec.structs.replace(
                c, map_id=runner.space.map_id, pos_x=x, pos_y=y, pos_z=z, orientation=o
            )
        state = c.player_state()
        team = runner.space.spawn_team(request.spawn) if request.spawn else 0
        runner.join(state, occupant, team)
        if request.spawn:
            runner.save_now(c.character_id)  # a crash now must not send it back through the portal
        return self._joined(runner, c.character_id)

    @staticmethod
    def _joined(runner: SpaceRunner, character_id: int) -> Joined:
        return Joined(
            character_id,
            runner.instance_id,
            runner.space.map_id,
            runner.space.tick,
            runner.tick_rate,
            runner.space.world.map.bounds,
            runner.continent,
        )

    async def _leave(self, runner: SpaceRunner, request: LeaveSpace) -> Left:
        _, saved = await runner.leave(request.character_id)
        if saved:
            with contextlib.suppress(StaleEpoch):
                await AssignmentRepo(self.db).release(
                    request.character_id, expected_epoch=request.epoch
                )
        return Left(request.character_id, saved)

    # --- heartbeat ----------------------------------------------------------------

    async def _beating(self, cluster: ClusterRepo) -> None:
        instances = InstanceRepo(self.db)
        beats = 0
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            beats += 1
            try:
                if beats % CONTENT_CHECK_BEATS == 0:
                    await self._refresh_content()  # in case a PatchActivated was missed
                await cluster.heartbeat(self.name, NodeEvent.UP, self.spec.capacity)
                await self.bus.publish(subjects.node_heartbeat(self.name), self.load())
                if self.runners:
                    mine = {i.instance_id for i in await instances.on_node(self.name)}
                    for instance_id in [i for i in self.runners if i not in mine]:
                        log.warning("space %d was moved away meanwhile: abandoned", instance_id)
                        self.runners[instance_id].abandon()
                        await self._unload(instance_id, runner_stopped=True)
            except RealmkitError as exc:
                log.log(exc.log_level, "heartbeat failed: %s", exc.message)

    def load(self) -> WorldLoad:
        runners = list(self.runners.values())
        return WorldLoad(
            node_id=self.name,
            spaces=len(runners),
            players=sum(len(r.occupants) for r in runners),
            capacity=self.spec.capacity,
            tick_p99_ms=max((r.tick_p99_ms() for r in runners), default=0.0),
            late_ticks=sum(r.late_ticks for r in runners),
            space_loads=[
                SpaceLoad(
                    r.instance_id,
                    len(r.occupants),
                    *r.space.entity_counts(),
                    r.tick_p99_ms(),
                    r.late_ticks,
                )
                for r in runners
            ],
        )


async def _from_cell(runner: SpaceRunner, message: CellMessage) -> None:
    runner.from_cell(message)


async def _receive(runner: SpaceRunner, batch: InputBatch) -> None:
    runner.receive(batch)
