"""The login node's HTTP API (aiohttp): accounts, realms, characters, world tickets.

Routes (JSON in, JSON out; errors ``{"error": {"code", "message"}}``):

    POST   /api/register                          {username, password} -> Session
    POST   /api/login                             {username, password} -> Session
    POST   /api/refresh                           {refresh} -> Session (no password)
    POST   /api/logout                            {refresh} -> 204 (its family revoked)
    GET    /api/realms                            -> [RealmInfo]
    GET    /api/realms/{realm_id}/content         -> RealmContent (public; ETag)
    GET    /api/realms/{realm_id}/characters      -> [CharacterInfo]      (bearer)
    POST   /api/realms/{realm_id}/characters      {name} -> CharacterInfo (bearer)
    DELETE /api/characters/{character_id}         -> 204                  (bearer)
    POST   /api/characters/{character_id}/ticket  -> WorldTicket          (bearer)
    GET    /healthz                               -> {ok, gateways}
    GET    /api                                   -> these routes and the cluster's state
    GET    /                                      the browser client (``static.py``)
    GET    /static/{path}                         its files
    GET    /ops, /api/ops/...                     -> the operations page and API (``ops``)

Failed logins lock an account from one address (5 a minute: its owner
elsewhere still logs in, so nobody can lock a player out from afar) and an
address whatever the accounts at a higher count (30 a minute: spraying one
password over many names); failed refreshes are limited per address, and
registrations too (5 per 10 minutes, 429 with Retry-After, the addresses of
this machine excepted): ``[login]`` settings. Password hashes wait their turn
in a bounded line (``hashing``), off the event loop; a refresh token costs no
hash: it is stored as its SHA-256, used once and rotated
(``store.accounts.RefreshRepo``, migration 0012).
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from realmkit.auth.limits import FailureLimiter
from realmkit.auth.passwords import check_new_credentials, hash_password, verify_password
from realmkit.auth.tickets import SESSION_SECONDS, WORLD_TICKET_SECONDS, Audience, TicketSigner
from realmkit.errors import (
    AlreadyExists,
    BadCredentials,
    Conflict,
    NotFound,
    RateLimited,
    RealmUnavailable,
    TicketInvalid,
    Unavailable,
)
from realmkit.nodes.http import body_as, errors_as_json, int_param, json_response
from realmkit.nodes.keyring import Keyring
from realmkit.nodes.login.content import RealmContents
from realmkit.nodes.login.hashing import HashLine
from realmkit.nodes.login.metrics import LoginMetrics
from realmkit.nodes.login.ops import OPS_ROUTES, OpsApi, WorldReports
from realmkit.nodes.login.static import StaticFiles
from realmkit.protocol.login import (
    CharacterInfo,
    Credentials,
    NewCharacter,
    RealmInfo,
    Refresh,
    Session,
    WorldTicket,
)
from realmkit.routing.gateways import GatewayDirectory
from realmkit.settings import DEFAULT_SETTINGS, LoginSettings, Settings
from realmkit.store.accounts import AccountRepo, RefreshRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Character, RealmStatus

MAX_CHARACTERS_PER_REALM = 10
LOGIN_WINDOW = 60.0  # seconds over which failed logins are counted
DEFAULT_LIMITS = LoginSettings()
# A refresh token: 32 random bytes (URL-safe text), valid 30 days, used once.
REFRESH_BYTES = 32
REFRESH_SECONDS = 30 * 24 * 3600.0
REFRESH_FAILURES = (60, 60.0)
# How long a browser may use a realm's content without asking (a patch shows after).
CONTENT_MAX_AGE = 60

# What ``GET /api`` lists (the README's list too): method, path, what it answers.
ROUTES = (
    ("POST", "/api/register", "{username, password} -> session (201)"),
    ("POST", "/api/login", "{username, password} -> session"),
    ("POST", "/api/refresh", "{refresh} -> session: log in again without the password"),
    ("POST", "/api/logout", "{refresh} -> 204: that refresh token and its successors revoked"),
    ("GET", "/api/realms", "the realm list"),
    (
        "GET",
        "/api/realms/{realm_id}/content",
        "what a client draws the realm's game with: maps, creatures, items, spells",
    ),
    ("GET", "/api/realms/{realm_id}/characters", "your characters there (bearer)"),
    ("POST", "/api/realms/{realm_id}/characters", "{name} -> a new character (bearer)"),
    ("DELETE", "/api/characters/{character_id}", "delete it, 204 (bearer)"),
    ("POST", "/api/characters/{character_id}/ticket", "a world ticket and gateway (bearer)"),
    ("GET", "/healthz", "ready: how many gateways reported lately"),
    ("GET", "/api", "this page: the routes and the cluster's realms, nodes and players"),
    ("GET", "/", "the browser client: play in a web page"),
    *OPS_ROUTES,
)


class CharacterStart(msgspec.Struct, frozen=True):
    """Where and how a new character of a game begins."""

    map_id: int
    x: float
    y: float
    z: float
    orientation: float
    hp: int


StartOf = Callable[[str], Awaitable[CharacterStart]]


class LoginApi:
    def __init__(
        self,
        db: Database,
        signer: TicketSigner,
        keyring: Keyring,
        gateways: GatewayDirectory,
        start_of: StartOf,
        clock: Callable[[], float] = time.time,
        limits: LoginSettings = DEFAULT_LIMITS,
        ops_settings: Settings = DEFAULT_SETTINGS,
        worlds: WorldReports | None = None,
    ) -> None:
        self.accounts = AccountRepo(db)
        self.characters = CharacterRepo(db)
        self.cluster = ClusterRepo(db)
        self.signer = signer
        self.keyring = keyring
        self.gateways = gateways
        self.start_of = start_of
        self.clock = clock
        self.limits = limits
        # Keyed by account and address: a lock where the guesses come from only.
        self.by_account = FailureLimiter(limits.failures_per_account, LOGIN_WINDOW)
        self.by_address = FailureLimiter(limits.failures_per_address, LOGIN_WINDOW)
        self.registrations = FailureLimiter(
            limits.registrations_per_address, limits.registration_window
        )
        self.hashing = HashLine()  # argon2 a few at a time, a wave waits in line
        self.refreshes = RefreshRepo(db)
        # Tokens are 256 random bits: this limit slows a client that keeps presenting
        # stale ones, not a guesser; wide enough for many clients behind one address.
        self.refresh_failures = FailureLimiter(*REFRESH_FAILURES)
        self.contents = RealmContents(db)
        # Operators only: the cluster's state and the CLI's actions (``ops``).
        self.ops = OpsApi(db, self._account_of, ops_settings, worlds or WorldReports(), gateways)

    def app(self, metrics: LoginMetrics | None = None) -> web.Application:
        # Measured outside the errors' translation: the status the client got.
        outer = [] if metrics is None else [metrics.middleware]
        app = web.Application(middlewares=[*outer, errors_as_json], client_max_size=64 * 1024)
        app.add_routes(
            [
                web.post("/api/register", self.register),
                web.post("/api/login", self.login),
                web.post("/api/refresh", self.refresh),
                web.post("/api/logout", self.logout),
                web.get("/api/realms", self.realms),
                web.get("/api/realms/{realm_id}/content", self.content),
                web.get("/api/realms/{realm_id}/characters", self.list_characters),
                web.post("/api/realms/{realm_id}/characters", self.create_character),
                web.delete("/api/characters/{character_id}", self.delete_character),
                web.post("/api/characters/{character_id}/ticket", self.world_ticket),
                web.get("/healthz", self.health),
                web.get("/api", self.index),
                *StaticFiles().routes(),
                *self.ops.routes(),
            ]
        )
        return app

    # --- accounts -----------------------------------------------------------

    async def register(self, request: web.Request) -> web.Response:
        creds = await body_as(request, Credentials)
        check_new_credentials(creds.username, creds.password)
        # A taken name costs no hashing (the unique index still settles races).
        with contextlib.suppress(NotFound):
            await self.accounts.by_name(creds.username)
            raise AlreadyExists("account", creds.username)
        address = request.remote or "unknown"
        if address not in self.limits.registrations_unlimited:
            now = time.monotonic()
            wait = self.registrations.retry_after(address, now)
            if wait > 0:
                raise RateLimited(wait)
            self.registrations.failed(address, now)  # counted before the hash: bursts too
        hashed = await self.hashing.run(hash_password, creds.password, address=address)
        account = await self.accounts.create(creds.username, hashed)
        return json_response(await self._new_session(account.account_id), status=201)

    async def login(self, request: web.Request) -> web.Response:
        creds = await body_as(request, Credentials)
        now = time.monotonic()
        address = request.remote or "unknown"
        account_key = f"{creds.username.lower()}\n{address}"
        wait = max(
            self.by_account.retry_after(account_key, now),
            self.by_address.retry_after(address, now),
        )
        if wait > 0:
            raise RateLimited(wait)
        try:
            account = await self.accounts.by_name(creds.username)
        except NotFound:
            account = None
        try:
            stored = account.password_hash if account else None
            await self.hashing.run(verify_password, stored, creds.password, address=address)
            if account is None or account.status != "active":
                raise BadCredentials()
        except BadCredentials:
            self.by_account.failed(account_key, now)
            self.by_address.failed(address, now)
            raise
        self.by_account.succeeded(account_key)
        return json_response(await self._new_session(account.account_id))

    async def refresh(self, request: web.Request) -> web.Response:
        """Log in again with a refresh token: no password, no hash; the token is used
        up and the session carries the next one."""
        body = await body_as(request, Refresh)
        now = time.monotonic()
        address = request.remote or "unknown"
        wait = self.refresh_failures.retry_after(address, now)
        if wait > 0:
            raise RateLimited(wait)
        following = secrets.token_urlsafe(REFRESH_BYTES)
        try:
            account_id = await self.refreshes.rotate(_digest(body.refresh), _digest(following))
            if account_id is None:  # used before: its family is revoked now
                raise BadCredentials()
        except BadCredentials:
            self.refresh_failures.failed(address, now)
            raise
        return json_response(self._session(account_id, following))

    async def logout(self, request: web.Request) -> web.Response:
        """Revoke a refresh token's family (this device logs in with the password next)."""
        body = await body_as(request, Refresh)
        await self.refreshes.revoke(_digest(body.refresh))
        return web.Response(status=204)

    async def _new_session(self, account_id: int) -> Session:
        """A session after a password check: a new refresh token family with it."""
        refresh = secrets.token_urlsafe(REFRESH_BYTES)
        await self.refreshes.issue(
            account_id, secrets.token_bytes(16), _digest(refresh), REFRESH_SECONDS
        )
        return self._session(account_id, refresh)

    def _session(self, account_id: int, refresh: str) -> Session:
        token = self.signer.issue(Audience.SESSION, account_id=account_id, now=self.clock())
        return Session(
            account_id=account_id,
            token=token,
            expires_in=SESSION_SECONDS,
            refresh=refresh,
            refresh_expires_in=REFRESH_SECONDS,
        )

    async def _account_of(self, request: web.Request) -> int:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise TicketInvalid("missing bearer token")
        claims = await self.keyring.verify(header[7:].strip(), Audience.SESSION, self.clock())
        return claims.account_id

    # --- realms and characters ----------------------------------------------

    async def realms(self, request: web.Request) -> web.Response:
        return json_response(
            [
                RealmInfo(
                    realm_id=r.realm_id,
                    name=r.name,
                    game_id=r.game_id,
                    pool_id=r.pool_id,
                    status=r.status.value,
                    population=r.population,
                    pool=r.pool,
                    patch=r.patch or "",
                )
                for r in await self.cluster.listing()
            ]
        )

    async def content(self, request: web.Request) -> web.Response:
        """The realm's content as its spaces run it now: public, no bearer; a client
        holding the version (``If-None-Match``) gets 304."""
        served = await self.contents.of(int_param(request, "realm_id"))
        headers = {"ETag": served.etag, "Cache-Control": f"public, max-age={CONTENT_MAX_AGE}"}
        if served.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=served.body, content_type="application/json", headers=headers)

    async def list_characters(self, request: web.Request) -> web.Response:
        account_id = await self._account_of(request)
        realm_id = int_param(request, "realm_id")
        found = await self.characters.of_account(account_id, realm_id)
        return json_response([_info(c) for c in found])

    async def create_character(self, request: web.Request) -> web.Response:
        account_id = await self._account_of(request)
        realm = await self.cluster.realm(int_param(request, "realm_id"))
        wanted = await body_as(request, NewCharacter)
        if realm.status is not RealmStatus.ONLINE:
            raise RealmUnavailable(realm.realm_id, realm.name, realm.status.value)
        existing = await self.characters.of_account(account_id, realm.realm_id)
        if len(existing) >= MAX_CHARACTERS_PER_REALM:
            raise Conflict(f"at most {MAX_CHARACTERS_PER_REALM} characters per realm")
        start = await self.start_of(realm.game_id)
        created = await self.characters.create(
            account_id,
            realm.realm_id,
            wanted.name.capitalize(),
            map_id=start.map_id,
            position=(start.x, start.y, start.z),
            orientation=start.orientation,
            hp=start.hp,
        )
        return json_response(_info(created), status=201)

    async def delete_character(self, request: web.Request) -> web.Response:
        account_id = await self._account_of(request)
        await self.characters.delete(int_param(request, "character_id"), account_id)
        return web.Response(status=204)

    async def world_ticket(self, request: web.Request) -> web.Response:
        account_id = await self._account_of(request)
        character = await self.characters.get(int_param(request, "character_id"))
        if character.account_id != account_id:
            raise NotFound("character", character.character_id)  # do not reveal others'
        realm = await self.cluster.realm(character.realm_id)
        if realm.status is not RealmStatus.ONLINE:
            raise RealmUnavailable(realm.realm_id, realm.name, realm.status.value)
        gateway = self.gateways.best(time.monotonic())
        if gateway is None:
            raise Unavailable("no gateway is accepting players")
        ticket = self.signer.issue(
            Audience.WORLD,
            account_id=account_id,
            character_id=character.character_id,
            realm_id=character.realm_id,
            now=self.clock(),
        )
        return json_response(WorldTicket(ticket, gateway.url, WORLD_TICKET_SECONDS))

    async def health(self, request: web.Request) -> web.Response:
        """Ready to hand out tickets: how many gateways reported lately."""
        return json_response({"ok": True, "gateways": self.gateways.fresh(time.monotonic())})

    async def index(self, request: web.Request) -> web.Response:
        """What this address serves and the cluster's state. Nothing secret: no
        hosts, ports, accounts or keys."""
        realms = await self.cluster.listing()
        nodes = await self.cluster.node_rows()
        return json_response(
            {
                "service": "realmkit login API",
                "routes": [{"method": m, "path": p, "answers": a} for m, p, a in ROUTES],
                "players": sum(r.population for r in realms),
                "gateways_ready": self.gateways.fresh(time.monotonic()),
                "realms": [
                    {
                        "name": r.name,
                        "game": r.game_id,
                        "pool": r.pool,
                        "status": r.status,
                        "players": r.population,
                    }
                    for r in realms
                ],
                "nodes": [
                    {
                        "node": n.node_id,
                        "role": n.role,
                        "state": n.seen,
                        "heartbeat_age_s": round(max(0.0, n.heartbeat_age_s), 1),
                    }
                    for n in nodes
                ],
            }
        )


def _info(c: Character) -> CharacterInfo:
    return CharacterInfo(
        character_id=c.character_id,
        realm_id=c.realm_id,
        name=c.name,
        level=c.level,
        map_id=c.map_id,
    )


def _digest(token: str) -> bytes:
    """What the store keeps of a refresh token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()
