"""The orchestrator node: serves placement requests in the NATS queue group.

Replicas hold no state: everything is read from and written to PostgreSQL,
and decisions that must not race run under advisory locks (see placement).
"""

from __future__ import annotations

from nats.aio.subscription import Subscription

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.engines import Endpoints
from realmkit.nodes.orchestrator.placement import Placer
from realmkit.nodes.packs import PackCache
from realmkit.protocol.cluster import OrchestratorRequest, Placement
from realmkit.settings import NodeSpec
from realmkit.store.postgres import Database


class OrchestratorNode:
    def __init__(self, spec: NodeSpec, endpoints: Endpoints) -> None:
        self.name = spec.name
        self.endpoints = endpoints
        self._db: Database | None = None
        self._bus: NatsBus | None = None
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._db = db = await Database.connect(self.endpoints.database_url, max_size=10)
        self._bus = bus = await NatsBus.connect(self.endpoints.nats_url, name=self.name)
        placer = Placer(db, bus, PackCache())

        async def handle(request: OrchestratorRequest) -> Placement:
            return await placer.enter_world(request)

        self._sub = await bus.serve(
            subjects.ORCHESTRATOR_REQUESTS,
            OrchestratorRequest,
            handle,
            queue=subjects.ORCHESTRATOR_QUEUE,
        )

    async def drain(self) -> None:
        if self._sub is not None and self._bus is not None:
            await self._bus.drain_subscription(self._sub)  # requests taken are answered

    async def stop(self) -> None:
        if self._bus is not None:
            await self._bus.close()
        if self._db is not None:
            await self._db.close()
