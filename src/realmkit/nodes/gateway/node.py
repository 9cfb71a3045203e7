"""The gateway node: players' WebSockets in, replicated frames out.

Per connection (a picows socket, ``sockets``: each message reaches it in a
callback, not through a task) it only feeds the session core
(``realmkit.session``) and carries out what it answers.
Transfers: the orchestrator tells the gateway (``gateway.<id>.control``) when
a player starts moving (``transfer_pending`` to the client, inputs dropped)
and where it landed (``new_world``, or nothing when only the space's node
changed). The socket stays open throughout.

Entering the world: the ticket is verified with the login replica's public
key, its nonce claimed once cluster-wide (NATS KV ``create``), the
orchestrator seats the character (placed under a new epoch, joined to its
space: the one hand-over every seat takes), and only then the client gets
``new_world`` and frames. ``new_world``
carries a fresh resume token: if this gateway dies, the client says
``resume`` with it to any gateway and finds its character where it was (the
space kept it; the orchestrator finds it by the token's hash, the only form
that leaves the gateway). Each token resumes once. A connection lost with no
close frame from either side (the player's network, a browser killed) is not a
logout either: the seat is held (``held``) for the resume grace, for the client
to resume with its token here or elsewhere; a close frame is a goodbye.

Queue and party messages (``queue_join``, ``match_accept``, ``party_invite``...)
go to the matchmakers as requests for the character this socket
authenticated; the matchmakers reach players through
``gateway.<id>.deliver`` (proposals, results, invitations, party changes).

Per space it keeps one ``Replicator`` for its players there (``fanout``),
and one per continent for all its cells together (a player crossing a cell
border is only re-pointed, quietly): each space frame becomes per-player
bytes, written by the sender (``sending``) in slices a few milliseconds apart,
with the spaces' events, in order. Inputs are batched per space: those that
arrive within ``INPUT_BATCH_SECONDS`` go out in one message. Every second it
publishes its load for the login nodes' choice; every few seconds it logs
out the characters seated in the world under its name with no player here
(``_log_out_orphans``).

Draining (SIGTERM: a rolling restart) hands the players to the other gateways
instead of logging them out: each client in the world is told ``reconnect``
with the URL of the least loaded other gateway (from their load reports) and
its socket is closed with ``CLOSE_MOVED``; no leave goes to its space, so the
character stays seated exactly as when a gateway dies, and the client's
resume token (its hash held by the orchestrator) resumes it elsewhere within
the resume grace. A player who never comes back is logged out by the
orchestrators' leader once the grace has passed since this gateway's last
heartbeat (its row ``stopped``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import secrets
import time
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

import msgspec
from picows import (
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from realmkit.auth.tickets import Audience
from realmkit.bus import subjects
from realmkit.bus.nats import KeyValue, NatsBus
from realmkit.engines.embedded import Endpoints
from realmkit.errors import Conflict, NotFound, RealmkitError, RemoteError, TicketReplayed
from realmkit.lifecycle.node import NodeEvent
from realmkit.nodes.gateway import metrics as gateway_metrics
from realmkit.nodes.gateway.desk import Desk
from realmkit.nodes.gateway.sending import Sender
from realmkit.nodes.gateway.social import Member, Social
from realmkit.nodes.gateway.sockets import PlayerSocket, Tally
from realmkit.nodes.keyring import Keyring
from realmkit.nodes.metrics import node_registry
from realmkit.nodes.presence import mark_stopped
from realmkit.protocol.client import (
    CLOSE_GOING_AWAY,
    CLOSE_MOVED,
    CLOSE_POLICY,
    CLOSE_REPLACED,
    CLOSE_TRY_LATER,
    CLOSE_UNAUTHENTICATED,
    ErrorFrame,
    NewWorld,
    Reconnect,
    TransferPending,
)
from realmkit.protocol.cluster import (
    Ack,
    EnterWorld,
    GatewayControl,
    GatewayEvents,
    GatewayLoad,
    GatewayTraffic,
    InputBatch,
    LeaveSpace,
    Left,
    Placement,
    PlayerInput,
    Replaced,
    Repoint,
    ResumeWorld,
    TransferStarted,
)
from realmkit.protocol.events import concerned
from realmkit.protocol.frames import SpaceFrame, replica_key
from realmkit.protocol.matchmaking import MatchmakerReply, MatchmakerRequest, ToPlayers
from realmkit.protocol.social import ChatSend, SocialMessage, SocialNews, Whisper
from realmkit.replication.fanout import Fanout
from realmkit.session.connection import (
    HELLO_TIMEOUT,
    Action,
    AskMatchmaker,
    AskSocial,
    Authenticate,
    Close,
    Connection,
    Forward,
    Reply,
    StopReplicating,
    WantKeyframe,
)
from realmkit.session.connection import (
    LeaveSpace as LeaveSpaceAction,
)
from realmkit.session.lobby import Lobby
from realmkit.settings import InstanceSettings, NodeSpec, SocialSettings
from realmkit.store.cluster import ClusterRepo
from realmkit.store.keys import SigningKeyRepo
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.gateway")

MAX_MESSAGE = 4096
LOAD_SECONDS = 1.0
REQUEST_TIMEOUT = 10.0
# How long entering waits for a placement while orchestrators are down or busy.
PLACEMENT_PATIENCE = 20.0
TICKETS_BUCKET = "tickets_used"
# A seat in the world under this gateway's name, with no player here, that has not
# changed for this long is logged out (``_log_out_orphans``): the answer to any
# seat this gateway asked for comes well within it (``PLACEMENT_PATIENCE``).
ORPHAN_SECONDS = 30.0
ORPHAN_CHECK_EVERY = 5  # load reports
# Bytes a player's socket may hold unsent (it stopped reading) before it is cut off:
# about three seconds of frames at a full byte budget.
MAX_UNSENT = 32 * 1024
# How long an input waits at most for the others that go with it to its space (a
# tick is 33-50 ms: it is taken at the space's next tick either way).
INPUT_BATCH_SECONDS = 0.005
# An idle socket is pinged after PING_SECONDS and dropped when the pong takes longer
# than PONG_SECONDS.
PING_SECONDS = 20.0
PONG_SECONDS = 10.0
# How long draining waits for the players' sockets to close and their leaves to go.
DRAIN_SECONDS = 10.0
# Container objects a gateway allocates before the collector's youngest generation
# runs (Python's default: 700). Every input and every send makes a few short-lived
# ones (messages, futures); at 700 the collector took 13% of a gateway's samples at
# 1,000 players, most of it scanning objects that die by refcount soon after
# (bench/gateway_core.py: about 4% of a gateway's CPU back).
GC_YOUNG = 20_000
RESUME_TOKEN_BYTES = 32
# The default of ``[instances] resume_grace``: how long a dropped player's seat waits.
RESUME_GRACE = InstanceSettings().resume_grace
# A gateway whose load report is older than this is not offered to a client moved
# away from a draining gateway.
LOAD_FRESH_SECONDS = 5.0


class Player:
    """A connected player once it is in the world: its socket and its session."""

    def __init__(self, sock: PlayerSocket, conn: Connection) -> None:
        self.sock = sock
        self.conn = conn
        # Counts the player's changes of world told to its client (transfer_pending,
        # new_world): a message from a space queued before one is not sent after it.
        self.generation = 0
        self.chat: Member | None = None  # what it hears (``Social``), once seated

    @property
    def character_id(self) -> int:
        return self.conn.character_id

    @property
    def instance_id(self) -> int:
        return self.conn.instance_id

    @property
    def epoch(self) -> int:
        return self.conn.epoch


class GatewayNode:
    def __init__(
        self,
        spec: NodeSpec,
        endpoints: Endpoints,
        social: SocialSettings | None = None,
        resume_grace: float = RESUME_GRACE,
    ) -> None:
        self.name = spec.name
        # How long the seat of a player whose connection dropped is kept for its resume.
        self.resume_grace = resume_grace
        self.held: dict[int, float] = {}  # such seats: character id -> kept until (monotonic)
        self.dropped = 0  # connections lost with no goodbye while in the world
        self.social_settings = social or SocialSettings()
        self.spec = spec
        self.endpoints = endpoints
        self.port = spec.port
        self.players: dict[int, Player] = {}
        self.fanout = Fanout()
        self.sender: Sender[tuple[Player, int]] = Sender(self._write_to)
        self.pending: dict[int, list[PlayerInput]] = {}
        self._sockets: set[PlayerSocket] = set()
        # Per socket: its session, its entry under way, and its player once in the world.
        self._conns: dict[PlayerSocket, Connection] = {}
        self._entries: dict[PlayerSocket, asyncio.Task[None]] = {}
        self._seated: dict[PlayerSocket, list[Player]] = {}
        self._watchdogs: dict[PlayerSocket, asyncio.TimerHandle] = {}
        # Sockets still waiting for their hello: so many at most, from one address too.
        self.lobby: Lobby[PlayerSocket] = Lobby()
        self._all_gone = asyncio.Event()
        self._draining = False
        self._tasks: list[asyncio.Task[None]] = []
        self._flushes: set[asyncio.Task[object]] = set()
        # Characters whose entry is under way here, and how long a seat here with no
        # player behind it is left before it is logged out.
        self.entering: set[int] = set()
        self.leaving: set[int] = set()  # a leave of theirs is on its way to the space
        self.orphan_after = ORPHAN_SECONDS
        self.orphan_check_every = ORPHAN_CHECK_EVERY
        self.orphan_sweeps = 0
        self._started_at: datetime | None = None
        self._flushing = asyncio.Lock()
        self._db: Database | None = None
        self._bus: NatsBus | None = None
        self._keyring: Keyring | None = None
        self._social: Social | None = None
        self._desk: Desk | None = None
        self._tickets: KeyValue[int] | None = None
        self._server: asyncio.Server | None = None
        # For its metrics: what its sockets wrote and its closes, and its seats.
        self.tally = Tally()
        self.space_messages = 0
        self.entered = 0
        self.resumed = 0
        self.refused = 0
        # The other gateways' last load reports (and when they came): where a draining
        # gateway sends its players. Sockets handed off: closed without a leave.
        self.loads: dict[str, tuple[GatewayLoad, float]] = {}
        self._handed_off: set[PlayerSocket] = set()
        self.handed_off = 0
        self.registry = node_registry("gateway", spec.name)
        gateway_metrics.watch(self.registry, self)

    def connections(self) -> int:
        return len(self._sockets)

    @property
    def bus(self) -> NatsBus:
        assert self._bus is not None, "start() first"
        return self._bus

    @property
    def social(self) -> Social:
        assert self._social is not None, "start() first"
        return self._social

    @property
    def desk(self) -> Desk:
        assert self._desk is not None, "start() first"
        return self._desk

    @property
    def db(self) -> Database:
        assert self._db is not None, "start() first"
        return self._db

    @property
    def url(self) -> str:
        return self.spec.public_url or f"ws://{self.spec.host}:{self.port}/ws"

    # --- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        tune_gc()
        # One connection of the pool listens for presence (``social``).
        self._db = await Database.connect(self.endpoints.database_url, max_size=6, name=self.name)
        self._bus = await NatsBus.connect(self.endpoints.nats_url, name=self.name)
        self._keyring = Keyring(SigningKeyRepo(self._db))
        registered = await ClusterRepo(self._db).register_node(
            self.name,
            "gateway",
            self.spec.host,
            self.spec.port,
            self.spec.capacity,
            metrics_port=self.spec.metrics_port,
        )
        self._started_at = registered.started_at
        self._tickets = await self.bus.key_value(TICKETS_BUCKET, int, ttl=300.0)
        await self.bus.subscribe(
            subjects.gateway_frames(self.name), GatewayTraffic, self._on_traffic
        )
        await self.bus.serve(
            subjects.gateway_control(self.name), GatewayControl, self._on_control, concurrent=True
        )
        await self.bus.subscribe(subjects.gateway_deliver(self.name), ToPlayers, self._on_deliver)
        await self.bus.subscribe(subjects.GATEWAY_LOADS, GatewayLoad, self._on_load)
        self._social = Social(self.bus, self.db, self._tell)
        await self._social.start()
        self._desk = Desk(self.bus, self.db, self._social, self.social_settings)
        await self.listen()
        self._tasks = [
            asyncio.create_task(self._reporting()),
            asyncio.create_task(self.sender.run()),
        ]
        log.info("gateway on %s", self.url)

    async def listen(self) -> None:
        """Take players' sockets at ``/ws`` (and answer ``/healthz``) on the node's port."""
        self._server = await ws_create_server(
            self._route,
            self.spec.host,
            self.spec.port,
            max_frame_size=MAX_MESSAGE,
            enable_auto_ping=True,
            auto_ping_idle_timeout=PING_SECONDS,
            auto_ping_reply_timeout=PONG_SECONDS,
            websocket_handshake_timeout=HELLO_TIMEOUT,
        )
        # picows logs every bad frame a stranger sends, at ERROR: its logger keeps to
        # what is worse than that (the socket is closed all the same).
        logging.getLogger("picows").setLevel(logging.CRITICAL)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def drain(self) -> None:
        """Stop accepting; players in the world are told to ``reconnect`` elsewhere and
        closed with ``CLOSE_MOVED``, their characters left seated for their resume
        (no leave); other sockets are closed as going away. A socket that does not
        answer its close within ``DRAIN_SECONDS`` is dropped."""
        self._draining = True
        if self._server is not None:
            self._server.close()
        moved = msgspec.msgpack.encode(Reconnect(self.elsewhere(time.monotonic())))
        for sock in list(self._sockets):
            if self._seated.get(sock):
                self._handed_off.add(sock)
                self.handed_off += 1
                sock.send(moved)
                sock.close(CLOSE_MOVED, b"moved")
            else:
                sock.close(CLOSE_GOING_AWAY, b"gateway stopping")
        await self._all_closed(DRAIN_SECONDS)

    def elsewhere(self, now: float) -> str:
        """The URL of the least loaded other gateway that reported lately and has
        room (empty when none: the client tries the gateways it knows)."""
        fresh = [
            load
            for name, (load, at) in self.loads.items()
            if name != self.name
            and now - at <= LOAD_FRESH_SECONDS
            and load.players < load.capacity
            and load.url != self.url
        ]
        if not fresh:
            return ""
        return min(fresh, key=lambda load: (load.players / max(load.capacity, 1), load.url)).url

    async def _on_load(self, load: GatewayLoad) -> None:
        self.loads[load.gateway_id] = (load, time.monotonic())

    async def _all_closed(self, patience: float) -> None:
        """Wait for every socket to be gone and the work it left (its player's leave)
        to be done; then drop what is still open, and wait for that once more."""
        for attempt in range(2):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(patience):
                    while self._sockets:
                        self._all_gone.clear()
                        await self._all_gone.wait()
                    while self._flushes:  # the leaves of the players just gone, among them
                        await asyncio.gather(*list(self._flushes), return_exceptions=True)
            if not self._sockets or attempt:
                return
            for sock in list(self._sockets):
                sock.abort()  # a client that takes nothing: no goodbye waits for it

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._draining = True
        if self._server is not None:
            self._server.close()
        for sock in list(self._sockets):
            sock.abort()
        await self._all_closed(DRAIN_SECONDS)
        if self._social is not None:
            await self._social.stop()
        if self._db is not None:
            await mark_stopped(ClusterRepo(self._db), self.name, self.spec.capacity)
        if self._bus is not None:
            await self._bus.close()
        if self._db is not None:
            await self._db.close()

    def _route(
        self, request: WSUpgradeRequest
    ) -> PlayerSocket | WSUpgradeResponseWithListener | None:
        path = request.path.partition(b"?")[0]
        if self._draining and path == b"/ws":
            # Accepted before the listener closed, upgraded after: told to go elsewhere.
            unavailable = WSUpgradeResponse.create_error_response(503, b"gateway stopping")
            return WSUpgradeResponseWithListener(unavailable, None)
        if path == b"/ws" and self.lobby.full():
            # Refused before the handshake: a flood of silent sockets costs no more.
            busy = WSUpgradeResponse.create_error_response(
                503, b"too many connections waiting for hello", {"Retry-After": "5"}
            )
            return WSUpgradeResponseWithListener(busy, None)
        if path == b"/ws":
            return PlayerSocket(self._opened, self._received, self._gone, MAX_MESSAGE, self.tally)
        if path == b"/healthz":
            body = msgspec.json.encode({"ok": True, "players": len(self.players)})
            ok = WSUpgradeResponse.create_ok_response(body, {"Content-Type": "application/json"})
            return WSUpgradeResponseWithListener(ok, None)
        return None  # 404

    # --- one connection -------------------------------------------------------

    def _opened(self, sock: PlayerSocket) -> None:
        self._sockets.add(sock)
        if not self.lobby.admit(sock, sock.address):
            sock.close(CLOSE_TRY_LATER, b"too many connections waiting for hello from you")
            return
        now = time.monotonic()
        conn = Connection(now)
        self._conns[sock] = conn
        self._seated[sock] = []
        self._watch(sock, conn, now)

    def _received(self, sock: PlayerSocket, data: bytes | str) -> None:
        conn = self._conns.get(sock)
        if conn is None:
            return
        player = self._seated[sock]
        for action in conn.receive(data, time.monotonic()):
            if isinstance(action, Authenticate):
                self.lobby.left(sock)
                self._entries[sock] = asyncio.create_task(self._enter(sock, conn, action, player))
            else:
                self._carry_out(sock, action, player)

    def _gone(self, sock: PlayerSocket) -> None:
        self._sockets.discard(sock)
        self.lobby.left(sock)
        if not self._sockets:
            self._all_gone.set()
        self._conns.pop(sock, None)
        watchdog = self._watchdogs.pop(sock, None)
        if watchdog is not None:
            watchdog.cancel()
        entering = self._entries.pop(sock, None)
        if entering is not None and not entering.done():
            entering.cancel()
        player = self._seated.pop(sock, [])
        handed_off = sock in self._handed_off
        self._handed_off.discard(sock)
        if handed_off or (sock.dropped and not self._draining):
            # Moved to another gateway, or cut off with no goodbye (its network, a
            # client killed): the character stays seated for its resume, here or
            # through another gateway. Not back within the grace: logged out by the
            # sweeps (``_log_out_orphans``).
            if player and self.players.get(player[0].character_id) is player[0]:
                p = player[0]
                del self.players[p.character_id]
                self.fanout.left(p.conn.replica, p.character_id)
                self.social.left(p.character_id, p.chat)
                if not handed_off:
                    self.held[p.character_id] = time.monotonic() + self.resume_grace
                    self.dropped += 1
                    # Nobody to see its trade window: the trade is called off now (a
                    # resume would cancel it anyway), never completed in its absence.
                    self._later(self.desk.left(p.character_id, "connection lost"))
            return
        if player:
            self._later(self._leave(player[0]))

    def _watch(self, sock: PlayerSocket, conn: Connection, now: float) -> None:
        """Look at ``conn`` again when its hello is due."""
        due = conn.hello_deadline()
        if due is not None:
            self._watchdogs[sock] = asyncio.get_running_loop().call_later(
                max(due - now, 0.001), self._hello_timeout, sock
            )

    def _hello_timeout(self, sock: PlayerSocket) -> None:
        self._watchdogs.pop(sock, None)
        conn = self._conns.get(sock)
        if conn is not None:
            now = time.monotonic()
            for action in conn.timed_out(now):
                self._carry_out(sock, action, [])
            # A timer may fire a little early (uvloop's clock is cached, in ms): a
            # session not closed yet is looked at again when it is due, not forgotten.
            self._watch(sock, conn, now)

    def _carry_out(self, sock: PlayerSocket, action: Action, player: list[Player]) -> None:
        if isinstance(action, Forward) and player:
            p = player[0]
            if not self.pending:
                # Inputs travel to their spaces in batches, every INPUT_BATCH_SECONDS:
                # one message per space instead of one per input (each is a write,
                # and a message for NATS and the world node to handle).
                asyncio.get_running_loop().call_later(INPUT_BATCH_SECONDS, self._schedule_flush)
            self.pending.setdefault(p.instance_id, []).append(
                PlayerInput(p.character_id, action.input)
            )
        elif isinstance(action, AskMatchmaker) and player:
            self._later(self._ask_matchmaker(sock, action.request))
        elif isinstance(action, AskSocial) and player:
            self._later(self._ask_social(player[0], action.message))
        elif isinstance(action, WantKeyframe) and player:
            self.fanout.keyframe(player[0].conn.replica, player[0].character_id)
        elif isinstance(action, StopReplicating) and player:
            self.fanout.left(action.replica, player[0].character_id)
        elif isinstance(action, LeaveSpaceAction) and player:
            self._later(self._leave_space(action.instance_id, player[0].character_id, action.epoch))
        elif isinstance(action, Reply):
            if player and isinstance(action.message, NewWorld | TransferPending):
                player[0].generation += 1
            sock.send(msgspec.msgpack.encode(action.message))
        elif isinstance(action, Close):
            sock.close(action.code, action.reason.encode()[:120])

    async def _enter(
        self, sock: PlayerSocket, conn: Connection, auth: Authenticate, player: list[Player]
    ) -> None:
        assert self._keyring is not None
        assert self._tickets is not None
        # A fresh resume token for this entry; only its hash leaves the gateway.
        token = secrets.token_urlsafe(RESUME_TOKEN_BYTES)
        entering: int | None = None
        try:
            if auth.resume:
                request: EnterWorld | ResumeWorld = ResumeWorld(
                    _digest(auth.resume), self.name, _digest(token)
                )
            else:
                claims = await self._keyring.verify(auth.ticket, Audience.WORLD, time.time())
                try:
                    await self._tickets.create(claims.nonce, claims.character_id)
                except Conflict as exc:
                    raise TicketReplayed() from exc
                request = EnterWorld(claims.character_id, self.name, _digest(token))
                entering = claims.character_id
                self.entering.add(entering)
            # The orchestrator seats the character in its space before it answers.
            placement = await self.bus.request_patiently(
                subjects.ORCHESTRATOR_REQUESTS,
                request,
                Placement,
                within=PLACEMENT_PATIENCE,
                # A seat waits for the space's join too: a busy world node is slow,
                # not gone, and asking again would seat it twice over.
                attempt_timeout=REQUEST_TIMEOUT,
            )
        except RealmkitError as exc:
            # A seat that completes after this gave up is an orphan: logged out later.
            self.refused += 1
            frame = _error_frame(exc)
            sock.send(msgspec.msgpack.encode(frame))
            for action in conn.close(CLOSE_UNAUTHENTICATED, frame.code):
                self._carry_out(sock, action, player)
            return
        finally:
            if entering is not None:
                self.entering.discard(entering)
        if auth.resume:
            self.resumed += 1
        else:
            self.entered += 1
        old = self.players.get(placement.character_id)
        if old is not None:  # the same character from a second socket
            old.sock.close(CLOSE_REPLACED, b"connected elsewhere")
        conn.seated(
            placement.character_id,
            placement.instance_id,
            placement.epoch,
            placement.bounds,
            placement.continent,
        )
        p = Player(sock, conn)
        try:
            # Whom it hears, held from now on: nothing said to it is lost before
            # new_world, nor sent before it.
            p.chat = await self.social.seating(p.character_id)
        except RealmkitError as exc:
            # In the world all the same; it hears no chat until it comes again.
            log.warning("character %d: chat not joined: %s", p.character_id, exc.message)
        if sock.closed:
            self.social.left(p.character_id, p.chat)
            await self._leave(p)
            return
        player.append(p)
        self.players[p.character_id] = p
        self.held.pop(p.character_id, None)
        # new_world is sent before any frame of the space (frames need the player registered).
        sock.send(
            msgspec.msgpack.encode(
                NewWorld(
                    p.character_id,
                    placement.instance_id,
                    placement.map_id,
                    placement.tick_rate,
                    placement.bounds,
                    token,
                )
            ),
        )
        try:
            await self.social.seated(p.character_id, auth.chat_after)
            await self.desk.seated(p.character_id)
        except RealmkitError as exc:
            # In the world all the same; it hears no chat until it comes again.
            log.warning("character %d: chat not joined: %s", p.character_id, exc.message)

    async def _leave(self, p: Player) -> None:
        cid = p.character_id
        self.leaving.add(cid)  # never an orphan while its own leave is under way
        try:
            if self.players.get(cid) is p:
                del self.players[cid]
                self.fanout.left(p.conn.replica, cid)
                self.social.left(cid, p.chat)
                await self.desk.left(cid, "logged out")
            await self._leave_space(p.instance_id, cid, p.epoch)
        finally:
            self.leaving.discard(cid)

    async def _leave_space(
        self, instance_id: int, character_id: int, epoch: int, *, release: bool = False
    ) -> None:
        """Take the character out of its space (saved, offline). A leave that fails
        leaves the seat in the world: ``_log_out_orphans`` tries again later; with
        ``release``, a space that says it does not hold the character (at that epoch)
        has the seat released in the store instead (its last save stands)."""
        try:
            await self.bus.request(
                subjects.space_control(instance_id),
                LeaveSpace(character_id, epoch),
                Left,
                timeout=REQUEST_TIMEOUT,
            )
        except RemoteError as exc:
            if release and exc.remote_code == NotFound.code:
                with contextlib.suppress(RealmkitError):
                    await AssignmentRepo(self.db).release(character_id, expected_epoch=epoch)
        except RealmkitError:
            pass

    # --- queues (the matchmakers) ---------------------------------------------------

    async def _ask_matchmaker(self, sock: PlayerSocket, request: MatchmakerRequest) -> None:
        """A queue or party request, for the character this socket authenticated."""
        try:
            reply: MatchmakerReply = await self.bus.request(
                subjects.MATCHMAKER_REQUESTS,
                request,
                MatchmakerReply,  # type: ignore[arg-type]  # a union of tagged Structs
                timeout=REQUEST_TIMEOUT,
            )
        except RealmkitError as exc:
            sock.send(msgspec.msgpack.encode(_error_frame(exc)))
            return
        self.social.heard(request.character_id, reply)  # its party, for party chat
        sock.send(msgspec.msgpack.encode(reply))

    async def _on_deliver(self, message: ToPlayers) -> None:
        news = message.message
        for character_id in message.character_ids:
            if self.social.heard(character_id, news):
                self._later(self._reload(character_id))
        data = msgspec.msgpack.encode(news)
        for character_id in message.character_ids:
            p = self.players.get(character_id)
            if p is not None:
                p.sock.send(data)

    # --- social (chat, friends, guilds, mail, trades) --------------------------------

    async def _ask_social(self, p: Player, message: SocialMessage) -> None:
        if isinstance(message, Whisper | ChatSend):
            reply: ErrorFrame | SocialNews | None = await self.social.say(p.character_id, message)
        else:
            reply = await self.desk.ask(p.character_id, message)
        if reply is not None:
            self._write_to((p, p.generation), msgspec.msgpack.encode(reply))

    async def _reload(self, character_id: int) -> None:
        try:
            await self.social.reload(character_id)
        except RealmkitError as exc:
            log.log(
                exc.log_level, "character %d: chat not read again: %s", character_id, exc.message
            )

    def _tell(self, character_id: int, data: bytes) -> None:
        p = self.players.get(character_id)
        if p is not None:
            self._write_to((p, p.generation), data)

    # --- transfers (the orchestrator moves a player) ------------------------------

    async def _on_control(self, message: TransferStarted | Repoint | Replaced) -> Ack:
        p = self.players.get(message.character_id)
        if isinstance(message, Replaced):
            if p is None or p.epoch >= message.epoch:
                return Ack(False)  # not here, or here since (it came back)
            for action in p.conn.close(CLOSE_REPLACED, "connected elsewhere"):
                self._carry_out(p.sock, action, [p])
            return Ack(True)
        if p is None:
            if isinstance(message, Repoint):
                # Nobody plays it any more: take it out of the space it was just put in.
                self._later(
                    self._leave_space(message.instance_id, message.character_id, message.epoch)
                )
            return Ack(False)
        if isinstance(message, TransferStarted):
            ok, actions = p.conn.transfer_started(message.reason)
            self._later(self.desk.left(p.character_id, "moved away"))
        else:
            ok, actions = p.conn.repointed(message, socket_open=not p.sock.closed)
        for action in actions:
            self._carry_out(p.sock, action, [p])
        return Ack(ok)

    def _write_to(self, to: tuple[Player, int], data: bytes) -> None:
        """A message from a space to its player; a player whose socket holds more than
        ``MAX_UNSENT`` bytes it has not taken (it stopped reading) is cut off, so it
        never makes the others wait for its socket to drain."""
        p = to[0]
        if p.sock.unsent() > MAX_UNSENT:
            if not p.sock.closed:
                log.warning("character %d does not read its socket: cut off", p.character_id)
                p.sock.close(CLOSE_POLICY, b"too slow to read")
            return
        p.sock.send(data)

    def _later(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(work)
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    # --- traffic from the spaces ------------------------------------------------

    async def _on_traffic(self, message: SpaceFrame | GatewayEvents) -> None:
        """A space's frame or events, to the players of that world (through the
        sender: a frame's messages spread over a few milliseconds, in order)."""
        self.space_messages += 1
        replica = (
            message.replica
            if isinstance(message, SpaceFrame)
            else replica_key(message.instance_id, message.continent)
        )

        def still(to: tuple[Player, int]) -> bool:
            p, generation = to
            return (
                self.players.get(p.character_id) is p
                and p.generation == generation
                and p.conn.replica == replica
            )

        if isinstance(message, SpaceFrame):

            def deliverable(character_id: int) -> bool:
                p = self.players.get(character_id)
                return p is not None and p.conn.replica == replica

            out = self.fanout.frame(message, deliverable)
            batch = []
            for cid, data in out:
                p = self.players[cid]
                batch.append(((p, p.generation), data))
            self.sender.put(batch, still)
            return
        batch = []
        for event in message.events:
            data = msgspec.msgpack.encode(event)
            for character_id in concerned(event):
                told = self.players.get(character_id)
                if told is not None and told.conn.replica == replica:
                    batch.append(((told, told.generation), data))
        self.sender.put(batch, still)

    def _schedule_flush(self) -> None:
        self._later(self._flush())

    async def _flush(self) -> None:
        # One flush at a time: a later batch never overtakes an earlier one (the
        # space drops moves older than one it took).
        async with self._flushing:
            batches, self.pending = self.pending, {}
            for instance_id, inputs in batches.items():
                with contextlib.suppress(RealmkitError):
                    await self.bus.publish(
                        subjects.space_inputs(instance_id), InputBatch(self.name, inputs)
                    )

    async def _reporting(self) -> None:
        """Every second: the load on NATS (for the login nodes) and a heartbeat in
        ``cluster.nodes`` (for the leader: players of a gateway gone silent are
        released once the resume grace has passed)."""
        cluster = ClusterRepo(self.db)
        beats = 0
        while True:
            load = GatewayLoad(
                self.name,
                self.url,
                len(self.players),
                self.spec.capacity,
                send_p99_ms=round(self.sender.p99_ms(), 1),
            )
            with contextlib.suppress(RealmkitError):
                await self.bus.publish(subjects.gateway_load(self.name), load)
            try:
                await cluster.heartbeat(self.name, NodeEvent.UP, self.spec.capacity)
            except RealmkitError as exc:
                log.log(exc.log_level, "heartbeat failed: %s", exc.message)
            beats += 1
            if beats % self.orphan_check_every == 0:
                try:
                    await self._log_out_orphans()
                except RealmkitError as exc:
                    log.log(exc.log_level, "seats without a player not looked at: %s", exc.message)
            await asyncio.sleep(LOAD_SECONDS)

    async def _log_out_orphans(self) -> None:
        """Characters in the world under this gateway's name with no player here: a
        seat that completed after its entry gave up, a leave that did not reach its
        space (it timed out, or went to the cell the player had just left). Logged out
        as a leave from what the store says (space, epoch); a space that does not hold
        the character at that epoch leaves the seat to the store's release. Only seats
        made since this gateway started: those of a run of it that died are the
        leader's, after their resume grace (their players may come back)."""
        if self._started_at is None:
            return
        now = time.monotonic()
        for cid in [c for c, until in self.held.items() if until <= now]:
            del self.held[cid]  # not back in time: its seat is an orphan now
        here = [*self.players, *self.entering, *self.leaving, *self.held]
        found = await AssignmentRepo(self.db).seated_without(
            self.name, here, self.orphan_after, since=self._started_at
        )
        self.orphan_sweeps += 1
        for a in found:
            assert a.instance_id is not None
            log.warning(
                "character %d is in the world with no player here: logged out", a.character_id
            )
            self._later(self._leave_space(a.instance_id, a.character_id, a.epoch, release=True))
            self._later(self.desk.left(a.character_id, "logged out"))


def tune_gc() -> None:
    """The collector's youngest generation at ``GC_YOUNG`` objects (a gateway's process)."""
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG, older, oldest)


def _error_frame(exc: RealmkitError) -> ErrorFrame:
    """What a client is told of a failure: a node's answer as that node gave it (no
    internal subject names), else our own error."""
    if isinstance(exc, RemoteError):
        return ErrorFrame(exc.remote_code, exc.remote_message)
    return ErrorFrame(exc.code, exc.message)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
