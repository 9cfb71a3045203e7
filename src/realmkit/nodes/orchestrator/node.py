"""The orchestrator node: serves placement and transfer requests in the NATS
queue group, and takes its turn as the leader of background duties.

Replicas hold no state: everything is read from and written to PostgreSQL,
decisions that must not race run under advisory locks (see ``instances``),
and one replica at a time leads (see ``leader``).
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.subscription import Subscription

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import Endpoints
from realmkit.nodes.orchestrator.instances import Instances
from realmkit.nodes.orchestrator.launcher import Launcher
from realmkit.nodes.orchestrator.leader import Leader
from realmkit.nodes.orchestrator.migration import Migrations
from realmkit.nodes.orchestrator.placement import Placer
from realmkit.nodes.orchestrator.scaler import Scaler
from realmkit.nodes.orchestrator.transfer import Transfers
from realmkit.nodes.packs import PackCache
from realmkit.nodes.presence import Presence
from realmkit.protocol.cluster import (
    Drained,
    DrainNode,
    EnterWorld,
    InstanceInfo,
    MoveToInstance,
    OrchestratorRequest,
    Placement,
    RequestInstance,
    ResumeWorld,
    ReturnHome,
)
from realmkit.settings import InstanceSettings, NodeSpec, ScalingSettings
from realmkit.store.postgres import Database


class OrchestratorNode:
    def __init__(
        self,
        spec: NodeSpec,
        endpoints: Endpoints,
        settings: InstanceSettings,
        launcher: Launcher | None = None,
        scaling: ScalingSettings | None = None,
    ) -> None:
        self.name = spec.name
        self.host = spec.host
        self.endpoints = endpoints
        self.settings = settings
        self.launcher = launcher
        self.scaling = scaling or ScalingSettings()
        self._db: Database | None = None
        self._bus: NatsBus | None = None
        self._sub: Subscription | None = None
        self._leading: asyncio.Task[None] | None = None
        self._presence: Presence | None = None

    async def start(self) -> None:
        self._db = db = await Database.connect(
            self.endpoints.database_url, max_size=20, name=self.name
        )
        self._bus = bus = await NatsBus.connect(self.endpoints.nats_url, name=self.name)
        self._presence = Presence(db, self.name, "orchestrator", self.host)
        await self._presence.start()
        instances = Instances(db, bus, PackCache())
        placer = Placer(instances)
        transfers = Transfers(instances, placer, self.settings)
        migrations = Migrations(instances)

        async def handle(
            request: OrchestratorRequest,
        ) -> Placement | InstanceInfo | Drained:
            if isinstance(request, EnterWorld):
                return await placer.enter_world(request)
            if isinstance(request, ResumeWorld):
                return await placer.resume(request)
            if isinstance(request, MoveToInstance):
                return await transfers.move_request(request)
            if isinstance(request, RequestInstance):
                return await transfers.request_instance(request)
            if isinstance(request, ReturnHome):
                return await transfers.return_home(request)
            if isinstance(request, DrainNode):
                return await migrations.drain(request.node_id)
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
            scaler = Scaler(instances, migrations, self.launcher, self.scaling)
        leader = Leader(self.name, instances, self.settings, scaler)
        self._leading = asyncio.create_task(leader.run())

    async def drain(self) -> None:
        if self._sub is not None and self._bus is not None:
            await self._bus.drain_subscription(self._sub)  # requests taken are answered
        if self._leading is not None:
            self._leading.cancel()  # resigns: another replica leads within a round
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading

    async def stop(self) -> None:
        if self._presence is not None:
            await self._presence.stop()
        if self._bus is not None:
            await self._bus.close()
        if self._db is not None:
            await self._db.close()
