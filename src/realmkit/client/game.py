"""Client of a gateway's WebSocket: enter the world, keep an EntityTable, send inputs.

Positions and time: the client reports where it is with its own clock
(``client_time_ms``, milliseconds since connect), as the movement validator
expects; ``walk_towards`` moves at a chosen speed, paced by real time.

Resuming by itself (``GameClient.follow``): told ``reconnect`` by a stopping
gateway, or cut off without being told once in the world (a gateway lost), the
client comes back through the gateway named, else the gateways it was given, with
``resume`` and its latest token: a few tries with a growing pause, its own
position and move numbering kept. ``closed`` is set only when it gives up (or is
closed on purpose, or closed for a reason of its own: replaced, refused).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import aiohttp
import msgspec

from realmkit.content.schema import Bounds
from realmkit.errors import RemoteError
from realmkit.protocol.client import (
    CLOSE_GOING_AWAY,
    CLOSE_MOVED,
    Announcement,
    ErrorFrame,
    Hello,
    KeyframeRequest,
    MatchAccept,
    MatchDecline,
    MatchProposal,
    MatchResult,
    NewWorld,
    PartyAccept,
    PartyDecline,
    PartyInvitation,
    PartyInvite,
    PartyLeave,
    PartyMessage,
    PartyState,
    QueueJoin,
    QueueLeave,
    QueueMessage,
    QueueStatus,
    QueueStatusRequest,
    Reconnect,
    Resume,
    RoleName,
    TransferPending,
)
from realmkit.protocol.events import Corrected, Event
from realmkit.protocol.frames import ClientFrameIn
from realmkit.protocol.inputs import Attack, Cast, ClientInput, Move, Release, Say
from realmkit.protocol.social import (
    WHISPER,
    ChatMessage,
    ChatSend,
    Inventory,
    InventoryRequest,
    Names,
    NamesRequest,
    Presence,
    SocialMessage,
    SocialNews,
    Whisper,
)
from realmkit.replication.client import EntityRow, EntityTable
from realmkit.replication.quantize import POS_SCALE

# Everything a gateway sends but frames.
NOT_FRAMES = (
    NewWorld
    | TransferPending
    | ErrorFrame
    | QueueStatus
    | MatchProposal
    | MatchResult
    | PartyState
    | PartyInvitation
    | Reconnect
    | Announcement
    | Event
    | SocialNews
)
ServerMessage = ClientFrameIn | NOT_FRAMES
QUEUE_REPLY_TIMEOUT = 10.0
# Chat messages a client keeps (the oldest go first).
CHAT_KEPT = 20_000
T = TypeVar("T")
_decoder = msgspec.msgpack.Decoder(ServerMessage)
_encoder = msgspec.msgpack.Encoder()
log = logging.getLogger("realmkit.client")
# Resuming by itself: so many tries, the pause between them doubling up to the cap.
RESUME_TRIES = 8
RESUME_FIRST_PAUSE = 0.2
RESUME_MAX_PAUSE = 2.0
# Close codes after which a following client comes back by itself: told to move,
# the gateway going away, or no close frame at all (1006: the connection lost).
RESUMABLE_CLOSES = frozenset({CLOSE_MOVED, CLOSE_GOING_AWAY, 1006})


def world_position(row: EntityRow) -> tuple[float, float, float]:
    """A row's quantized position back in world units (to 1/8 unit)."""
    return row.x / POS_SCALE, row.y / POS_SCALE, row.z / POS_SCALE


class Walker:
    """A client's own position and moves: the world it is in, the sequence it numbers
    its moves with, its clock (``client_time_ms``), and walking at a speed paced by
    real time. ``send`` is the client's; it sets ``frame_arrived`` on each frame."""

    def __init__(self) -> None:
        self.seq = 0
        self.started = time.monotonic()
        self.position: tuple[float, float, float, float] | None = None
        self.world: NewWorld | None = None
        self.frame_arrived = asyncio.Event()

    @property
    def character_id(self) -> int:
        assert self.world is not None
        return self.world.character_id

    @property
    def world_bounds(self) -> Bounds:
        """The playable area of the map the character is in."""
        assert self.world is not None
        return self.world.bounds

    async def wait_frame(self) -> None:
        self.frame_arrived.clear()
        await self.frame_arrived.wait()

    async def send(self, message: ClientInput | KeyframeRequest) -> None:
        raise NotImplementedError

    async def move(self, x: float, y: float, z: float, o: float) -> None:
        self.seq += 1
        now_ms = int((time.monotonic() - self.started) * 1000)
        self.position = (x, y, z, o)
        await self.send(Move(x, y, z, o, client_time_ms=now_ms, seq=self.seq))

    async def walk_towards(self, x: float, y: float, speed: float, step_seconds: float) -> bool:
        """One step of at most ``speed * step_seconds`` towards (x, y); True when there."""
        assert self.position is not None, "wait for the first frame"
        px, py, pz, _ = self.position
        dx, dy = x - px, y - py
        dist = math.hypot(dx, dy)
        reach = speed * step_seconds
        if dist <= reach:
            await self.move(x, y, pz, math.atan2(dy, dx) % math.tau if dist else 0.0)
            return True
        f = reach / dist
        await self.move(px + dx * f, py + dy * f, pz, math.atan2(dy, dx) % math.tau)
        return False


class GameClient(Walker):
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__()
        self.ws = ws
        self.table = EntityTable()
        self.events: asyncio.Queue[Event | ErrorFrame] = asyncio.Queue()
        self.frames = 0
        self.bytes = 0
        self.frame_bytes = 0  # of those, the frames'
        # (ack, arrival time) of frames whose ack moved forward: input-to-visible latency.
        self.acks: deque[tuple[int, float]] = deque(maxlen=256)
        self._reader: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        # Transfers: how many new_world messages followed the first, and whether
        # one is under way (inputs are dropped by the gateway meanwhile).
        self.transfers = 0
        self.transferring = False
        self.pending_notices = 0  # transfer_pending messages received
        self.pending_reasons: collections.deque[str] = collections.deque(maxlen=100)
        # What the realm told its players (a restart's countdown), in order; kept
        # across a resume, bounded.
        self.announcements: collections.deque[Announcement] = collections.deque(maxlen=100)
        self.moved = asyncio.Event()
        # Frames skipped because one was missing (each asked for a keyframe), and
        # a callback run after every frame applied (tests watch every frame).
        self.gaps = 0
        self.on_frame: Callable[[], None] | None = None
        # The token that resumes this character through another gateway, and how
        # many times it did.
        self.resume_token = ""
        self.resumes = 0
        # Resuming by itself (``follow``): the session and gateways to come back
        # through, where the last ``reconnect`` said to go, and whether it was closed
        # on purpose.
        self._session: aiohttp.ClientSession | None = None
        self.gateways: list[str] = []
        self.moved_to = ""
        self._closing = False
        self._resuming: asyncio.Task[None] | None = None
        self.resume_failures = 0
        self.reconnects = 0  # reconnect messages received (a gateway stopping)
        # Matchmaking: proposals and results as they come, the last status per
        # activity; one queue request at a time waits for its reply.
        self.proposals: asyncio.Queue[MatchProposal] = asyncio.Queue()
        self.results: asyncio.Queue[MatchResult] = asyncio.Queue()
        self.queue: dict[str, QueueStatus] = {}
        # Parties: invitations as they come, and the party as it is now.
        self.invitations: asyncio.Queue[PartyInvitation] = asyncio.Queue()
        self.party = PartyState()
        self.party_changed = asyncio.Event()
        # Social: chat as it came (in id order; ``chat_after`` on a resume asks for
        # what was missed since the last), presence changes, and the latest of each
        # state the gateway sends (friends, guild, mailbox, trade, channels).
        self.chat: collections.deque[ChatMessage] = collections.deque(maxlen=CHAT_KEPT)
        self.last_chat_id = 0
        self.chat_arrived = asyncio.Event()
        self.presence: collections.deque[Presence] = collections.deque(maxlen=1000)
        self.social: dict[str, SocialNews] = {}
        self.social_news: asyncio.Queue[SocialNews] = asyncio.Queue(maxsize=10_000)
        self._asking = asyncio.Lock()
        self._reply: asyncio.Future[Any] | None = None
        self._expect: Callable[[object], bool] = _never
        self._follow = False

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, url: str, ticket: str, timeout: float = 10.0
    ) -> GameClient:
        """Open the socket, say hello and wait for ``new_world`` (``RemoteError`` if refused)."""
        ws = await session.ws_connect(url, max_msg_size=0)
        client = cls(ws)
        client._session = session
        client.gateways = [url]
        client._entered(await _greet(ws, url, Hello(ticket), timeout))
        return client

    def follow(self, gateways: Sequence[str] = ()) -> None:
        """Come back by itself after a ``reconnect`` or a lost gateway, through the
        gateway named or one of ``gateways`` (added to the one it entered by)."""
        assert self._session is not None, "connect() or resumed() first"
        self.gateways = list(dict.fromkeys([*self.gateways, *gateways]))
        self._follow = True

    @classmethod
    async def resumed(
        cls, session: aiohttp.ClientSession, url: str, token: str, timeout: float = 10.0
    ) -> GameClient:
        """A new client for the character a resume token stands for (``RemoteError``
        if refused)."""
        ws = await session.ws_connect(url, max_msg_size=0)
        client = cls(ws)
        client._session = session
        client.gateways = [url]
        client._entered(await _greet(ws, url, Resume(token), timeout))
        return client

    async def resume(self, session: aiohttp.ClientSession, url: str, timeout: float = 10.0) -> None:
        """After the gateway died (``closed`` is set): come back through the gateway at
        ``url`` with the resume token; the character is where it was. ``RemoteError``
        if refused (the token was used, or the resume grace period is over)."""
        if self._reader is not None and not self._reader.done():
            await self.close()
        self._closing = False
        ws = await session.ws_connect(url, max_msg_size=0)
        world = await _greet(ws, url, self._resume_message(), timeout)
        self.ws = ws
        self.table = EntityTable()
        self.position = None
        self.closed = asyncio.Event()
        self.resumes += 1
        self._entered(world)

    async def _come_back(self) -> None:
        """Resume through the gateway ``reconnect`` named, else those known, in turn,
        pausing longer after each failure; ``closed`` is set when it gives up."""
        assert self._session is not None
        urls = list(dict.fromkeys([u for u in (self.moved_to, *self.gateways) if u]))
        pause = RESUME_FIRST_PAUSE
        try:
            for attempt in range(RESUME_TRIES):
                url = urls[attempt % len(urls)]
                try:
                    ws = await self._session.ws_connect(url, max_msg_size=0)
                except (aiohttp.ClientError, OSError) as exc:
                    log.info("resume through %s: %s", url, exc)
                else:
                    try:
                        world = await _greet(ws, url, self._resume_message(), 10.0)
                    except RemoteError as exc:
                        await ws.close()
                        if exc.remote_code != "CLOSED":
                            raise  # refused: the token is used or its grace is over
                    except (TimeoutError, aiohttp.ClientError, OSError):
                        await ws.close()
                    else:
                        # Where it stood and its move numbering are kept: its moves go on.
                        self.ws = ws
                        self.table = EntityTable()
                        self.transferring = False  # the resume seats it where it is
                        self.moved_to = ""
                        self.resumes += 1
                        self._entered(world)
                        return
                await asyncio.sleep(pause)  # a pause between tries, not a condition
                pause = min(pause * 2, RESUME_MAX_PAUSE)
            self.resume_failures += 1
        except RemoteError as exc:
            self.resume_failures += 1
            log.warning("resume refused: %s", exc)
        self.closed.set()

    def _resume_message(self) -> Resume:
        """``resume`` with the token held, asking for the chat missed since the last."""
        return Resume(self.resume_token, chat_after=self.last_chat_id)

    def _should_come_back(self) -> bool:
        """Following, not closed on purpose, and cut off by a gateway stopping or lost
        (not replaced, refused or cut off for misbehaving)."""
        code = self.ws.close_code
        return (
            self._follow
            and not self._closing
            and bool(self.resume_token)
            and (code is None or code in RESUMABLE_CLOSES)
        )

    def _entered(self, world: NewWorld) -> None:
        self.world = world
        self.resume_token = world.resume or self.resume_token
        self._reader = asyncio.create_task(self._read())

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    def me(self) -> EntityRow | None:
        return self.table.rows.get(self.character_id)

    def visible(self) -> dict[int, EntityRow]:
        return dict(self.table.rows)

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    continue
                self.bytes += len(msg.data)
                message = _decoder.decode(msg.data)
                if isinstance(message, ClientFrameIn):
                    self.frame_bytes += len(msg.data)
                    if not self.table.apply(msg.data):
                        self.gaps += 1
                        await self.send(KeyframeRequest())
                        continue
                    self.frames += 1
                    if self.on_frame is not None:
                        self.on_frame()
                    if not self.acks or self.table.ack > self.acks[-1][0]:
                        self.acks.append((self.table.ack, time.monotonic()))
                    me = self.me()
                    if me is not None and self.position is None:
                        self.position = (*world_position(me), 0.0)
                    self.frame_arrived.set()
                elif isinstance(message, NewWorld):
                    # A new space: a new entity table; our position comes with its frames.
                    self.world = message
                    self.resume_token = message.resume or self.resume_token
                    self.table = EntityTable()
                    self.position = None
                    self.transfers += 1
                    self.transferring = False
                    self.moved.set()
                elif isinstance(message, Reconnect):
                    self.moved_to = message.url or self.moved_to
                    self.reconnects += 1
                elif isinstance(message, TransferPending):
                    self.transferring = True
                    self.pending_notices += 1
                    self.pending_reasons.append(message.reason)
                elif isinstance(message, Announcement):
                    self.announcements.append(message)
                elif isinstance(message, ChatMessage):
                    self.chat.append(message)
                    self.last_chat_id = max(self.last_chat_id, message.id)
                    self.chat_arrived.set()
                    self._answered(message)
                elif isinstance(message, SocialNews):
                    if isinstance(message, Presence):
                        self.presence.append(message)
                    self.social[message.__struct_config__.tag] = message  # type: ignore[index]
                    with contextlib.suppress(asyncio.QueueFull):
                        self.social_news.put_nowait(message)
                    self._answered(message)
                elif isinstance(message, QueueStatus):
                    self.queue[message.activity] = message
                    self._answered(message)
                elif isinstance(message, PartyState):
                    self.party = message
                    self.party_changed.set()
                    self._answered(message)
                elif isinstance(message, PartyInvitation):
                    await self.invitations.put(message)
                elif isinstance(message, MatchProposal):
                    await self.proposals.put(message)
                elif isinstance(message, MatchResult):
                    await self.results.put(message)
                elif isinstance(message, Corrected):
                    # The server moved us (a refused move, a respawn): walk on from there.
                    self.position = (message.x, message.y, message.z, message.o)
                    await self.events.put(message)
                elif (
                    isinstance(message, ErrorFrame)
                    and self._reply is not None
                    and not self._reply.done()
                ):
                    self._reply.set_exception(RemoteError("gateway", message.code, message.message))
                else:
                    await self.events.put(message)
        finally:
            if self._should_come_back():
                self._resuming = asyncio.create_task(self._come_back())
            else:
                self.closed.set()

    def _answered(self, message: object) -> None:
        """The reply to the request waiting, if it is what that request waits for."""
        if self._reply is not None and not self._reply.done() and self._expect(message):
            self._reply.set_result(message)

    async def send(self, message: ClientInput | KeyframeRequest) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(_encoder.encode(message))

    async def attack(self, target: int) -> None:
        await self.send(Attack(target))

    async def cast(self, spell: int, target: int = 0) -> None:
        await self.send(Cast(spell, target))

    async def release(self) -> None:
        await self.send(Release())

    async def say(self, text: str, yell: bool = False) -> None:
        await self.send(Say(text, yell))

    # --- matchmaking ------------------------------------------------------------

    async def queue_join(self, activity: str, roles: tuple[RoleName, ...] = ()) -> QueueStatus:
        """Queue for ``activity``, with your party if you lead one (``RemoteError``:
        e.g. ``ALREADY_QUEUED``, ``REALM_UNAVAILABLE``, ``NOT_PARTY_LEADER``)."""
        return await self._ask_queue(QueueJoin(activity, list(roles)))

    async def queue_leave(self, activity: str) -> QueueStatus:
        return await self._ask_queue(QueueLeave(activity))

    async def queue_status(self, activity: str) -> QueueStatus:
        return await self._ask_queue(QueueStatusRequest(activity))

    async def accept(self, match_id: int) -> QueueStatus:
        return await self._ask_queue(MatchAccept(match_id))

    async def decline(self, match_id: int) -> QueueStatus:
        return await self._ask_queue(MatchDecline(match_id))

    async def party_invite(self, name: str) -> PartyState:
        """Invite a character of your realm by name (``RemoteError``: e.g.
        ``ALREADY_IN_PARTY``, ``PARTY_FULL``, ``NOT_PARTY_LEADER``, ``NOT_FOUND``)."""
        return await self._ask_party(PartyInvite(name))

    async def party_accept(self, party_id: int) -> PartyState:
        return await self._ask_party(PartyAccept(party_id))

    async def party_decline(self, party_id: int) -> PartyState:
        return await self._ask_party(PartyDecline(party_id))

    async def party_leave(self) -> PartyState:
        return await self._ask_party(PartyLeave())

    async def _ask_queue(self, message: QueueMessage) -> QueueStatus:
        reply = await self._ask(message, QueueStatus)
        assert isinstance(reply, QueueStatus)
        return reply

    async def _ask_party(self, message: PartyMessage) -> PartyState:
        reply = await self._ask(message, PartyState)
        assert isinstance(reply, PartyState)
        return reply

    async def _ask(
        self,
        message: QueueMessage | PartyMessage | SocialMessage,
        expect: type[Any] | Callable[[object], bool],
    ) -> Any:
        """Send a request and wait for its reply: a message of type ``expect``, or one
        ``expect`` says is the reply (an ``error`` frame raises)."""
        async with self._asking:
            self._reply = asyncio.get_running_loop().create_future()
            self._expect = (lambda m: type(m) is expect) if isinstance(expect, type) else expect
            try:
                await self.ws.send_bytes(_encoder.encode(message))
                async with asyncio.timeout(QUEUE_REPLY_TIMEOUT):
                    return await self._reply
            finally:
                self._reply = None

    # --- social ---------------------------------------------------------------------

    async def whisper(self, to: str, text: str) -> ChatMessage:
        """Whisper to ``Name`` or ``Name-Realm``; the copy that came back to you
        (``RemoteError``: ``OFFLINE``, ``IGNORED``, ``NOT_FOUND``, ``MUTED``,
        ``CHAT_RATE_LIMITED``...)."""
        reply: ChatMessage = await self._ask(Whisper(to, text), _own_chat(WHISPER, text))
        return reply

    async def chat_send(self, channel: str, text: str) -> ChatMessage:
        """Say ``text`` in ``party``, ``guild`` or a realm channel you joined; your own
        message as every member got it."""
        reply: ChatMessage = await self._ask(ChatSend(channel, text), _own_chat(channel, text))
        return reply

    async def social_ask(
        self, message: SocialMessage, expect: type[T], match: Callable[[T], bool] | None = None
    ) -> T:
        """Any other social message and its reply of type ``expect`` (``friends``,
        ``guild``, ``mailbox``, ``trade``, ``channels``, ``who_result``, ``names``,
        ``inventory``). The gateway also sends some of those types unasked (another
        player's change of a guild or a trade): ``match`` tells the reply from them
        when news may cross it."""

        def answers(m: object) -> bool:
            return type(m) is expect and (match is None or match(m))

        reply: T = await self._ask(message, answers)
        return reply

    async def names(self, ids: Sequence[int]) -> Names:
        """The names and levels of the characters among these entity ids (1 to 64;
        creatures' ids and unknown ones are left out of the reply)."""
        return await self.social_ask(NamesRequest(list(ids)), Names)

    async def inventory(self) -> Inventory:
        """Your character's money and the items it owns."""
        return await self.social_ask(InventoryRequest(), Inventory)

    def chat_in(self, channel: str) -> list[ChatMessage]:
        return [m for m in self.chat if m.channel == channel]

    async def close(self) -> None:
        self._closing = True
        if self._resuming is not None and not self._resuming.done():
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resuming
        await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self.closed.set()


def _never(_message: object) -> bool:
    return False


def _own_chat(channel: str, text: str) -> Callable[[object], bool]:
    """Whether a message is our own ``text`` in ``channel``, back from the cluster."""

    def mine(message: object) -> bool:
        return (
            isinstance(message, ChatMessage)
            and message.channel == channel
            and message.text == text
            and (channel != WHISPER or bool(message.to))
        )

    return mine


async def _greet(
    ws: aiohttp.ClientWebSocketResponse, url: str, first: Hello | Resume, timeout: float
) -> NewWorld:
    """Send the first message and wait for ``new_world`` (``RemoteError`` if refused)."""
    await ws.send_bytes(_encoder.encode(first))
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.BINARY:
                raise RemoteError(url, "CLOSED", f"closed before new_world: {msg.extra}")
            message = _decoder.decode(msg.data)
            if isinstance(message, ErrorFrame):
                await ws.close()
                raise RemoteError(url, message.code, message.message)
            if isinstance(message, NewWorld):
                return message
