"""The login node's lifecycle: database, bus, signing key, HTTP server."""

from __future__ import annotations

import logging
import time

import msgspec
from aiohttp import web

from realmkit.auth.tickets import SESSION_SECONDS, TicketSigner, public_key_bytes
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import Endpoints
from realmkit.nodes.http import runner
from realmkit.nodes.keyring import Keyring
from realmkit.nodes.login.api import DEFAULT_LIMITS, LoginApi, StartOf
from realmkit.nodes.login.metrics import LoginMetrics
from realmkit.nodes.login.ops import WorldReports
from realmkit.nodes.login.starts import Starts
from realmkit.nodes.metrics import node_registry
from realmkit.nodes.presence import Presence
from realmkit.protocol.cluster import GatewayLoad, WorldLoad
from realmkit.routing.gateways import GatewayDirectory
from realmkit.settings import DEFAULT_SETTINGS, EngineSettings, LoginSettings, NodeSpec
from realmkit.store.cluster import ClusterRepo
from realmkit.store.keys import SigningKeyRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.login")

# Keys outlive the longest ticket they can have signed, plus clock skew.
KEY_LIFETIME = SESSION_SECONDS + 600


class LoginNode:
    def __init__(
        self,
        spec: NodeSpec,
        endpoints: Endpoints,
        start_of: StartOf | None = None,
        limits: LoginSettings = DEFAULT_LIMITS,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.endpoints = endpoints
        self.start_of = start_of
        self.limits = limits
        self.gateways = GatewayDirectory()
        self.worlds = WorldReports()  # world nodes' loads, for the operations page
        self.port = spec.port
        self._db: Database | None = None
        self._bus: NatsBus | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._presence: Presence | None = None
        self.registry = node_registry("login", spec.name)
        self.metrics = LoginMetrics(self.registry)

    async def start(self) -> None:
        self._db = db = await Database.connect(
            self.endpoints.database_url, max_size=10, name=self.name
        )
        self._bus = bus = await NatsBus.connect(self.endpoints.nats_url, name=self.name)
        signer = TicketSigner()
        keys = SigningKeyRepo(db)
        await keys.publish(
            signer.key_id, public_key_bytes(signer.public_key), self.name, KEY_LIFETIME
        )
        keyring = Keyring(keys)
        keyring.add(signer.key_id, signer.public_key)

        async def on_load(load: GatewayLoad) -> None:
            self.gateways.report(load, time.monotonic())

        async def on_world_load(load: WorldLoad) -> None:
            self.worlds.report(load, time.monotonic())

        await bus.subscribe(subjects.GATEWAY_LOADS, GatewayLoad, on_load)
        await bus.subscribe(subjects.WORLD_LOADS, WorldLoad, on_world_load)
        start_of = self.start_of or Starts(ClusterRepo(db)).of
        # The operations page's actions are the CLI's, reaching this node's engines.
        engines = EngineSettings(
            nats_url=self.endpoints.nats_url, database_url=self.endpoints.database_url
        )
        ops_settings = msgspec.structs.replace(DEFAULT_SETTINGS, engines=engines)
        api = LoginApi(
            db,
            signer,
            keyring,
            self.gateways,
            start_of,
            limits=self.limits,
            ops_settings=ops_settings,
            worlds=self.worlds,
        )
        self.metrics.hashing = lambda: api.hashing
        self._runner = runner(api.app(self.metrics))
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.spec.host, self.spec.port)
        await self._site.start()
        self.port = int(self._runner.addresses[0][1])  # the real one when spec.port is 0
        log.info("login API on http://%s:%d", self.spec.host, self.port)
        self._presence = Presence(
            db, self.name, "login", self.spec.host, self.port, metrics_port=self.spec.metrics_port
        )
        await self._presence.start()

    async def drain(self) -> None:
        if self._site is not None:
            await self._site.stop()  # no new connections; requests in flight finish

    async def stop(self) -> None:
        if self._presence is not None:
            await self._presence.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._bus is not None:
            await self._bus.close()
        if self._db is not None:
            await self._db.close()
