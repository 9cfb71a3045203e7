"""The matchmaker node: serves queue requests; one replica also leads (``leader``).

Run two or more: any replica answers players' queue and party messages (NATS
queue group ``matchmakers``), and the one holding the PostgreSQL lock runs the
matching rounds and the matches. Tickets live in PostgreSQL, so a restart
or failover loses none.
"""

from __future__ import annotations

import asyncio
import logging

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import Endpoints
from realmkit.nodes.matchmaker.leader import MatchLeader
from realmkit.nodes.matchmaker.metrics import MatchmakerMetrics
from realmkit.nodes.matchmaker.parties import PartyService
from realmkit.nodes.matchmaker.service import QueueService
from realmkit.nodes.metrics import kind_of, node_registry
from realmkit.nodes.packs import PackCache
from realmkit.nodes.presence import Presence
from realmkit.nodes.replica import Replica
from realmkit.protocol.matchmaking import MatchmakerReply, MatchmakerRequest, PartyRequest
from realmkit.settings import MatchmakingSettings, NodeSpec
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.matchmaker")


class MatchmakerNode(Replica):
    def __init__(self, spec: NodeSpec, endpoints: Endpoints, settings: MatchmakingSettings) -> None:
        self.name = spec.name
        self.spec = spec
        self.endpoints = endpoints
        self.settings = settings
        self.leader: MatchLeader | None = None
        self.registry = node_registry("matchmaker", spec.name)
        self.metrics = MatchmakerMetrics(self.registry)
        super().__init__()

    async def start(self) -> None:
        self._db = db = await Database.connect(
            self.endpoints.database_url, max_size=10, name=self.name
        )
        self._bus = bus = await NatsBus.connect(self.endpoints.nats_url, name=self.name)
        packs = PackCache()
        queues = QueueService(db, bus, packs)
        parties = PartyService(db, bus, queues)

        async def answer(request: MatchmakerRequest) -> MatchmakerReply:
            with self.metrics.requests.timing(kind_of(type(request))):
                if isinstance(request, PartyRequest):
                    return await parties.handle(request)
                return await queues.handle(request)

        self._sub = await bus.serve(
            subjects.MATCHMAKER_REQUESTS,
            MatchmakerRequest,
            answer,
            queue=subjects.MATCHMAKER_QUEUE,
            concurrent=True,
        )
        self._presence = Presence(
            db, self.name, "matchmaker", self.spec.host, metrics_port=self.spec.metrics_port
        )
        await self._presence.start()
        self.leader = MatchLeader(self.name, db, bus, packs, self.settings, self.metrics)
        self.metrics.leader = self.leader
        self._leading = asyncio.create_task(self.leader.run())
