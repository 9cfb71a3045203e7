"""The operations API and page on the login node: ``/api/ops/...`` and ``/ops``.

Every API route takes the bearer token of an operator (``auth.accounts.role``,
migration 0021; ``realmkit operator add``): no token is 401, a player's token
403, both with the API's error body. The role is read on every request, so
``realmkit operator remove`` takes effect at once.

``GET /api/ops/state`` is the cluster in one document: what ``realmkit status``
reads from PostgreSQL (``realmkit.status``), the pools and the matchmaking
queues, and what the world nodes last reported on NATS (tick p99 per space).
The page polls it every 2 s, and so may several operators: a state younger
than ``STATE_SECONDS`` is answered again instead of asked anew.

Actions (``protocol.ops``) call the functions the CLI's commands call
(``realmkit.realms``), and answer what their ``--json`` prints. Each is logged
with the operator's account name.

The page is three static files shipped in the package
(``realmkit/web/static/ops/``), served with no-cache and a Content-Security-Policy
that allows this origin only; any other name is 404.
"""

from __future__ import annotations

import importlib.resources
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from realmkit import realms
from realmkit.errors import Conflict, Forbidden, NotFound, RemoteError
from realmkit.nodes.http import body_as, json_response
from realmkit.protocol.cluster import GatewayLoad, WorldLoad
from realmkit.protocol.ops import (
    ActionDone,
    AnnounceAction,
    DrainAction,
    PatchActivateAction,
    PatchRollbackAction,
    RealmStatusAction,
)
from realmkit.routing.gateways import GatewayDirectory
from realmkit.settings import Settings
from realmkit.status import cluster_status
from realmkit.store.accounts import AccountRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.matchmaking import QueueCount, TicketRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Account, AccountRole, BackupSummary, RealmListing, RealmStatus
from realmkit.store.restarts import RealmRestart

log = logging.getLogger("realmkit.login.ops")

STATE_SECONDS = 1.0  # a state this young is answered again
REPORT_SECONDS = 10.0  # a world node's load report older than this is not shown

# What ``GET /`` lists of these routes.
OPS_ROUTES = (
    ("GET", "/ops", "the operations page (operators log in there)"),
    ("GET", "/api/ops/state", "the cluster in one document (operator)"),
    ("POST", "/api/ops/drain", "{node}: realmkit drain (operator)"),
    ("POST", "/api/ops/realm-status", "{realm, status}: realmkit realm set-status (operator)"),
    ("POST", "/api/ops/patch/activate", "{patch, realm|pool}: realmkit patch activate (operator)"),
    ("POST", "/api/ops/patch/rollback", "{realm|pool}: realmkit patch rollback (operator)"),
    ("POST", "/api/ops/announce", "{realm, text}: realmkit realm announce (operator)"),
)

# The page's files: nothing else under /ops is served.
PAGE_FILES = {
    "index.html": "text/html",
    "ops.js": "text/javascript",
    "ops.css": "text/css",
}
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class PoolView(msgspec.Struct, frozen=True):
    pool_id: int
    name: str
    game_id: str
    active_patch_id: int | None
    patch: str | None
    realms: int
    population: int


class NodeView(msgspec.Struct, frozen=True):
    node_id: str
    role: str
    # What the row means now (``lifecycle.node.seen``); ``stored``: what it wrote.
    state: str
    stored: str
    heartbeat_age_s: float
    spaces: int
    # Its process's CPU (percent of one core) and resident memory at its last
    # heartbeat; None until it reported them.
    cpu_percent: float | None
    memory_bytes: int | None
    # From its last load report on NATS (world nodes; None without a fresh one).
    players: int | None = None
    capacity: int | None = None
    tick_p99_ms: float | None = None


class InstanceView(msgspec.Struct, frozen=True):
    instance_id: int
    realm_id: int | None
    realm: str
    map_id: int
    map: str
    kind: str
    state: str
    node_id: str | None
    players: int
    tick_p99_ms: float | None  # from its node's last load report


class CellView(msgspec.Struct, frozen=True):
    """A cell of a live continent: its rectangle, its space and how it runs."""

    realm: str
    map_id: int
    map: str
    version: int
    cell_id: int
    min_x: float
    min_y: float
    max_x: float
    max_y: float
    instance_id: int
    node_id: str | None
    state: str
    players: int
    tick_p99_ms: float | None


class OpsState(msgspec.Struct, frozen=True):
    """``GET /api/ops/state``."""

    operator: str
    players: int
    leader: str | None
    matchmaker: str | None
    realms: list[RealmListing]
    pools: list[PoolView]
    nodes: list[NodeView]
    gateways: list[GatewayLoad]
    instances: list[InstanceView]
    cells: list[CellView]
    queues: list[QueueCount]
    backups: list[BackupSummary]
    restarts: list[RealmRestart]


class WorldReports:
    """The last load report of each world node (``WORLD_LOADS``), while fresh."""

    def __init__(self, fresh_seconds: float = REPORT_SECONDS) -> None:
        self.fresh_seconds = fresh_seconds
        self._last: dict[str, tuple[float, WorldLoad]] = {}

    def report(self, load: WorldLoad, now: float) -> None:
        self._last[load.node_id] = (now, load)

    def fresh(self, now: float) -> dict[str, WorldLoad]:
        for node_id in [n for n, (at, _) in self._last.items() if now - at > self.fresh_seconds]:
            del self._last[node_id]
        return {node_id: load for node_id, (_, load) in self._last.items()}


AccountOf = Callable[[web.Request], Awaitable[int]]


class OpsApi:
    def __init__(
        self,
        db: Database,
        account_of: AccountOf,
        settings: Settings,
        worlds: WorldReports,
        gateways: GatewayDirectory,
    ) -> None:
        self.db = db
        self.accounts = AccountRepo(db)
        self.account_of = account_of
        self.settings = settings
        self.worlds = worlds
        self.gateways = gateways
        self._state: tuple[float, OpsState] | None = None
        self._page = _page_files()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/ops", self.page),
            web.get("/ops/", self.page),
            web.get("/ops/{file}", self.page_file),
            web.get("/api/ops/state", self.state),
            web.post("/api/ops/drain", self.drain),
            web.post("/api/ops/realm-status", self.realm_status),
            web.post("/api/ops/patch/activate", self.patch_activate),
            web.post("/api/ops/patch/rollback", self.patch_rollback),
            web.post("/api/ops/announce", self.announce),
        ]

    async def _operator(self, request: web.Request) -> Account:
        """The caller's account: ``TicketInvalid`` (401) without a valid bearer token,
        ``Forbidden`` (403) unless it is an active operator."""
        account = await self.accounts.get(await self.account_of(request))
        if account.role is not AccountRole.OPERATOR or account.status != "active":
            raise Forbidden("the operations API is for operators")
        return account

    # --- the page ------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def page_file(self, request: web.Request) -> web.Response:
        return self._file(request.match_info["file"])

    def _file(self, name: str) -> web.Response:
        if name not in self._page:
            raise NotFound("file", name)
        return web.Response(
            body=self._page[name],
            content_type=PAGE_FILES[name],
            charset="utf-8",
            headers=PAGE_HEADERS,
        )

    # --- the state -----------------------------------------------------------------

    async def state(self, request: web.Request) -> web.Response:
        account = await self._operator(request)
        now = time.monotonic()
        if self._state is None or now - self._state[0] > STATE_SECONDS:
            self._state = (now, await self._read_state(now))
        return json_response(msgspec.structs.replace(self._state[1], operator=account.username))

    async def _read_state(self, now: float) -> OpsState:
        status = await cluster_status(self.db)
        pools = await ClusterRepo(self.db).pool_listing()
        queues = await TicketRepo(self.db).queues()
        worlds = self.worlds.fresh(now)
        tick = {s.instance_id: s.tick_p99_ms for w in worlds.values() for s in w.space_loads}
        maps = {(i.realm, i.map_id): i.map for i in status.instances}
        population: dict[int, int] = {}
        for realm in status.realms:
            population[realm.pool_id] = population.get(realm.pool_id, 0) + realm.population
        return OpsState(
            operator="",
            players=status.players,
            leader=status.leader,
            matchmaker=status.matchmaker,
            realms=status.realms,
            pools=[
                PoolView(
                    p.pool_id,
                    p.name,
                    p.game_id,
                    p.active_patch_id,
                    p.patch,
                    p.realms,
                    population.get(p.pool_id, 0),
                )
                for p in pools
            ],
            nodes=[
                NodeView(
                    node_id=n.node_id,
                    role=n.role,
                    state=n.seen or n.state,
                    stored=n.state,
                    heartbeat_age_s=round(max(0.0, n.heartbeat_age_s), 1),
                    spaces=n.spaces,
                    cpu_percent=n.cpu_percent,
                    memory_bytes=n.memory_bytes,
                    players=worlds[n.node_id].players if n.node_id in worlds else None,
                    capacity=worlds[n.node_id].capacity if n.node_id in worlds else None,
                    tick_p99_ms=worlds[n.node_id].tick_p99_ms if n.node_id in worlds else None,
                )
                for n in status.nodes
            ],
            gateways=sorted(self.gateways.loads(now), key=lambda g: g.gateway_id),
            instances=[
                InstanceView(
                    i.instance_id,
                    i.realm_id,
                    i.realm,
                    i.map_id,
                    i.map,
                    i.kind,
                    i.state,
                    i.node_id,
                    i.players,
                    tick.get(i.instance_id),
                )
                for i in status.instances
            ],
            cells=[
                CellView(
                    c.realm,
                    c.map_id,
                    maps.get((c.realm, c.map_id), ""),
                    c.version,
                    c.cell_id,
                    c.min_x,
                    c.min_y,
                    c.max_x,
                    c.max_y,
                    c.instance_id,
                    c.node_id,
                    c.state,
                    c.players,
                    tick.get(c.instance_id),
                )
                for c in status.cells
            ],
            queues=queues,
            backups=status.backups,
            restarts=status.restarts,
        )

    # --- actions: the CLI's functions --------------------------------------------

    async def drain(self, request: web.Request) -> web.Response:
        account = await self._operator(request)
        body = await body_as(request, DrainAction)
        _logged(account, "drain", body)
        try:
            drained = await realms.drain_node(self.settings, body.node)
        except RemoteError as exc:  # the orchestrator refused: the operator's mistake
            if exc.remote_code == NotFound.code:
                raise NotFound("world node", body.node) from exc
            if exc.remote_code in ("INVALID_INPUT", "ILLEGAL_TRANSITION", "CONFLICT"):
                raise Conflict(exc.remote_message, node=body.node) from exc
            raise
        return self._done("drain", drained)

    async def realm_status(self, request: web.Request) -> web.Response:
        account = await self._operator(request)
        body = await body_as(request, RealmStatusAction)
        _logged(account, "realm-status", body)
        realm = await realms.set_status(self.db, body.realm, RealmStatus(body.status))
        return self._done("realm-status", {"realm": realm})

    async def patch_activate(self, request: web.Request) -> web.Response:
        account = await self._operator(request)
        body = await body_as(request, PatchActivateAction)
        _logged(account, "patch-activate", body)
        target = realms.PatchTarget(realm=body.realm, pool=body.pool)
        state = await realms.activate(self.settings, self.db, target, body.patch)
        return self._done("patch-activate", state)

    async def patch_rollback(self, request: web.Request) -> web.Response:
        account = await self._operator(request)
        body = await body_as(request, PatchRollbackAction)
        _logged(account, "patch-rollback", body)
        target = realms.PatchTarget(realm=body.realm, pool=body.pool)
        state = await realms.rollback(self.settings, self.db, target)
        return self._done("patch-rollback", state)

    async def announce(self, request: web.Request) -> web.Response:
        account = await self._operator(request)
        body = await body_as(request, AnnounceAction)
        _logged(account, "announce", body)
        told = await realms.announce(self.settings, self.db, body.realm, body.text)
        return self._done("announce", {"told": told})

    def _done(self, action: str, result: Any) -> web.Response:
        self._state = None  # the next poll shows what the action changed
        return json_response(ActionDone(action, result))


def _logged(account: Account, action: str, body: msgspec.Struct) -> None:
    """One line per action, before it runs: who (the account's name), what, with what."""
    log.info(
        "ops %s by %s (account %d): %s",
        action,
        account.username,
        account.account_id,
        msgspec.json.encode(body).decode(),
    )


def _page_files() -> dict[str, bytes]:
    """The page's files, read once from the package."""
    folder = importlib.resources.files("realmkit.web").joinpath("static", "ops")
    return {name: folder.joinpath(name).read_bytes() for name in PAGE_FILES}
