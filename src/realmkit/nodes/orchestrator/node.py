"""The orchestrator node: serves placement and transfer requests in the NATS
queue group, and takes its turn as the leader of background duties.

Replicas hold no state: everything is read from and written to PostgreSQL,
decisions that must not race run under advisory locks (see ``instances``),
every player is seated in a space one way (see ``handover``),
and one replica at a time leads (see ``leader``).
"""

from __future__ import annotations

import asyncio

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import Endpoints
from realmkit.nodes.metrics import kind_of, node_registry
from realmkit.nodes.orchestrator.cells import Balancer, Cells
from realmkit.nodes.orchestrator.handover import Handover
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.orchestrator.launcher import Launcher
from realmkit.nodes.orchestrator.leader import Leader
from realmkit.nodes.orchestrator.metrics import OrchestratorMetrics
from realmkit.nodes.orchestrator.migration import Migrations
from realmkit.nodes.orchestrator.placement import Placer
from realmkit.nodes.orchestrator.postman import Postman
from realmkit.nodes.orchestrator.restarts import Restarts
from realmkit.nodes.orchestrator.scaler import Scaler
from realmkit.nodes.orchestrator.transfer import Transfers
from realmkit.nodes.packs import PackCache
from realmkit.nodes.presence import Presence
from realmkit.nodes.replica import Replica
from realmkit.protocol.cluster import (
    CellsChanged,
    CrossCell,
    Crossed,
    Drained,
    DrainNode,
    EnterWorld,
    InstanceInfo,
    MergeCell,
    MoveCellBorder,
    MoveToInstance,
    OrchestratorRequest,
    Placement,
    RequestInstance,
    ResumeWorld,
    ReturnHome,
    SpaceLoad,
    SplitCell,
    WorldLoad,
)
from realmkit.settings import (
    CellSettings,
    InstanceSettings,
    NodeSpec,
    RestartSettings,
    ScalingSettings,
    SocialSettings,
)
from realmkit.store.postgres import Database


class OrchestratorNode(Replica):
    def __init__(
        self,
        spec: NodeSpec,
        endpoints: Endpoints,
        settings: InstanceSettings,
        launcher: Launcher | None = None,
        scaling: ScalingSettings | None = None,
        cells: CellSettings | None = None,
        restarts: RestartSettings | None = None,
        social: SocialSettings | None = None,
    ) -> None:
        self.name = spec.name
        self.host = spec.host
        self.endpoints = endpoints
        self.settings = settings
        self.launcher = launcher
        self.scaling = scaling or ScalingSettings()
        self.cell_settings = cells or CellSettings()
        self.restart_settings = restarts or RestartSettings()
        self.social_settings = social or SocialSettings()
        self._restarts: Restarts | None = None
        # What each world node reported last of its spaces (the leader's view of
        # cells' load); a node's report replaces its previous one whole.
        self.world_loads: dict[str, list[SpaceLoad]] = {}
        self._handover: Handover | None = None
        self.metrics_port = spec.metrics_port
        self.registry = node_registry("orchestrator", spec.name)
        self.metrics = OrchestratorMetrics(self.registry)
        super().__init__()

    async def stop(self) -> None:
        if self._restarts is not None:
            await self._restarts.close()
        if self._handover is not None:
            await self._handover.close()
        await super().stop()

    async def _on_world_load(self, load: WorldLoad) -> None:
        self.world_loads[load.node_id] = load.space_loads

    def space_loads(self) -> dict[int, SpaceLoad]:
        return {s.instance_id: s for loads in self.world_loads.values() for s in loads}

    async def start(self) -> None:
        self._db = db = await Database.connect(
            self.endpoints.database_url, max_size=20, name=self.name
        )
        self._bus = bus = await NatsBus.connect(self.endpoints.nats_url, name=self.name)
        self._presence = Presence(
            db, self.name, "orchestrator", self.host, metrics_port=self.metrics_port
        )
        await self._presence.start()
        self._handover = handover = Handover(db, bus)
        packs = PackCache()
        instances = InstanceRegistry(db, bus, packs, handover)
        placer = Placer(db, packs, instances, handover)
        transfers = Transfers(db, packs, instances, handover, placer, self.settings)
        migrations = Migrations(db, instances, handover)
        cells = Cells(db, bus, packs, instances)

        async def handle(
            request: OrchestratorRequest,
        ) -> Placement | InstanceInfo | Drained | CellsChanged | Crossed:
            with self.metrics.requests.timing(kind_of(type(request))):
                return await serve(request)

        async def serve(
            request: OrchestratorRequest,
        ) -> Placement | InstanceInfo | Drained | CellsChanged | Crossed:
            if isinstance(request, EnterWorld):
                return await placer.enter_world(request)
            if isinstance(request, ResumeWorld):
                return await placer.resume(request)
            if isinstance(request, MoveToInstance):
                return await transfers.move_request(request)
            if isinstance(request, RequestInstance):
                return await instances.request_instance(request)
            if isinstance(request, ReturnHome):
                return await transfers.return_home(request)
            if isinstance(request, DrainNode):
                return await migrations.drain(request.node_id)
            if isinstance(request, SplitCell):
                return await cells.split(request)
            if isinstance(request, MergeCell):
                return await cells.merge(request)
            if isinstance(request, MoveCellBorder):
                return await cells.move(request)
            if isinstance(request, CrossCell):
                return await handover.cross(request)
            return await transfers.portal(request)

        self._sub = await bus.serve(
            subjects.ORCHESTRATOR_REQUESTS,
            OrchestratorRequest,
            handle,
            queue=subjects.ORCHESTRATOR_QUEUE,
            concurrent=True,
        )
        scaler = None
        if self.launcher is not None:
            scaler = Scaler(db, instances, migrations, self.launcher, self.scaling)
        await bus.subscribe(subjects.WORLD_LOADS, WorldLoad, self._on_world_load)
        balancer = Balancer(cells, self.cell_settings)
        self._restarts = Restarts(db, bus, instances, handover, self.restart_settings)
        leader = Leader(
            self.name,
            db,
            instances,
            handover,
            self.settings,
            scaler,
            balancer=lambda now: balancer.round(now, self.space_loads()),
            restarts=self._restarts,
            postman=Postman(db, bus, self.social_settings),
        )
        self.metrics.leader = leader
        self._leading = asyncio.create_task(leader.run())
