"""The bot swarm: many real clients that log in, walk and fight.

Each bot registers (or logs into) ``bot_<tag>_<n>``, takes a character on the
realm (``Bot<tag>`` and letters for ``n``), enters the world through the
gateway the login node names, walks to a home of its own within ``spread``
units of where it entered (players spread over a realm; they do not all stand
on the start point), then walks between random waypoints near that home,
attacking a creature it sees now and then.
With ``queue`` set, each bot also queues for that activity, accepts every
proposal, plays the match (it wanders wherever it lands) and queues again.
With ``party`` above 1, bots form parties of that many consecutive indexes:
the first of each (index a multiple of ``party``) invites the others by name
and queues the party; the others accept its invitation and every proposal.
Input-to-visible latency is measured with the frames' prediction ack: from
sending move ``seq`` to the first frame whose ``ack`` reaches it.

With ``probes`` set, only the first ``probes`` bots of the swarm are full
clients (they apply every frame, as a player's client does); the others are
light (``LightClient``, on picows): they read each frame's header only and
count its bytes, walk from the position they predict and attack nothing, so a
benchmark measures the server rather than its load generator. Bots that queue or
form parties are full clients. Every bot measures latency
from the frames' acks.

With ``social``, every bot is a full client that also joins the realm channels
``general`` and ``trade``, talks there and whispers to other bots of the swarm
now and then, and trades with its neighbour (``social_bots``); the summary
counts messages sent and heard, whispers refused and trades as they ended.

With ``tokens`` (a file), bots log in with the refresh token a previous swarm
left there for their account (no password hash: a returning player), falling
back to the password when it is refused, and the swarm leaves the next tokens
there when it ends (written private to the user).

``SwarmStats.mark`` starts a measuring window and ``end`` ends it: the summary
then covers frames, bytes and latencies between the two only (``realmkit bots``
marks on SIGUSR1 and ends on SIGUSR2).

Two swarms with one tag share accounts and characters: the second entry of a
character takes it from the first bot (whose saves are then refused as stale)
and the acks it sees answer the other bot's moves. So every swarm draws its own
tag unless given one, and an ack that arrived before the move it would answer
was sent is not a sample (it answers another client's, or an earlier, move).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import secrets
import string
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import msgspec
from picows import WSError

from realmkit.client.game import GameClient
from realmkit.client.light import LightClient
from realmkit.client.login import LoginClient
from realmkit.client.pacing import next_item, pause
from realmkit.client.social_bots import Company, Rendezvous, SocialStats, pair_seed, socialise
from realmkit.content.schema import Bounds
from realmkit.errors import RemoteError
from realmkit.procs import write_private
from realmkit.protocol.client import RoleName

STEP_SECONDS = 0.1
# How long a stopping bot lets its queueing and social behaviours finish what they do.
WIND_DOWN_SECONDS = 5.0
MARGIN = 10.0  # bots keep this far inside the map's edges
WANDER = 40.0
SPEED = 6.0
LATENCY_SAMPLES = 20_000
KIND_CREATURE = 2
# A party's leader asks its members this often, a second apart, while they enter;
# then waits this long for the last to accept.
INVITE_ATTEMPTS = 30
PARTY_PATIENCE = 10.0
NOT_THERE_YET = {"NOT_FOUND", "CONFLICT"}


# Character names are 2-12 letters: "Bot", the tag, four letters for the index.
TAG_LETTERS = 3
MAX_TAG = 5


def new_tag() -> str:
    """A fresh swarm tag: three random letters."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(TAG_LETTERS))


def valid_tag(tag: str) -> bool:
    """Letters only, at most five: the tag goes into character names."""
    return tag == "" or (len(tag) <= MAX_TAG and tag.isascii() and tag.isalpha())


def bot_account(index: int, tag: str = "") -> str:
    """Bot ``index``'s account (``bot_<index>`` without a tag)."""
    return f"bot_{tag.lower()}_{index}" if tag else f"bot_{index}"


def bot_password(index: int) -> str:
    """Bot ``index``'s password (bots are load, not secrets)."""
    return f"bot-password-{index}"


def bot_name(index: int, tag: str = "") -> str:
    """Bot character names: letters only, as the realm requires (Botaaaa, Botxyzaaab, ...)."""
    letters = ""
    n = index
    for _ in range(4):
        n, r = divmod(n, 26)
        letters = string.ascii_lowercase[r] + letters
    return "Bot" + tag.lower() + letters


def latency_samples(sent: dict[int, float], acks: deque[tuple[int, float]]) -> list[float]:
    """Seconds from each move sent to the first frame acknowledging it, taking the
    answered moves out of ``sent`` and draining ``acks``. An ack that arrived
    before its move was sent answers someone else's move: no sample, never a
    negative one."""
    samples = []
    while acks:
        ack, arrived = acks.popleft()
        for seq in [s for s in sent if s <= ack]:
            took = arrived - sent.pop(seq)
            if took >= 0:
                samples.append(took)
    return samples


class SwarmOptions(msgspec.Struct, frozen=True):
    """How ``realmkit bots`` runs its swarm (see ``run_swarm``)."""

    realm_id: int | None = None
    duration: float | None = None
    first: int = 0
    spread: float = 300.0
    ramp_per_second: float = 50.0
    queue: str | None = None
    party: int = 1
    tag: str = ""
    probes: int | None = None
    tokens: str | None = None
    social: bool = False


class SwarmStats:
    def __init__(self) -> None:
        self.connected = 0
        self.entered = 0
        self.frames = 0
        self.bytes = 0
        self.errors = 0
        self.last_error = ""
        self.latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.started = time.monotonic()
        # Queueing bots: tickets taken, proposals received, matches played to the end.
        self.queued = 0
        self.proposals = 0
        self.matches = 0
        # Bots in a party of more than one (leaders with their members' acceptance).
        self.in_parties = 0
        self.queue_waits: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        self.refreshed = 0  # logins with a refresh token (no password hash)
        # Bots that came back by themselves through another gateway (a gateway stopped
        # or was lost under them).
        self.resumes = 0
        # The full clients' latencies apart (``probes``).
        self.probe_latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)
        # The measuring window: since ``mark`` (None: since the start).
        self.marked_at: float | None = None
        self.ended: tuple[float, int, int] | None = None  # (when, frames, bytes)
        self.at_mark = 0  # bots in the world when the window started
        self._frames_at_mark = 0
        self._bytes_at_mark = 0
        self.social = SocialStats()  # chat and trades (``social``)

    def mark(self) -> None:
        """Start the measuring window now: counts and latencies from here on."""
        self.marked_at = time.monotonic()
        self._frames_at_mark, self._bytes_at_mark = self.frames, self.bytes
        self.at_mark = self.connected
        self.latencies.clear()
        self.probe_latencies.clear()

    def end(self) -> None:
        """End the measuring window now: the summary counts nothing after this."""
        if self.ended is None:
            self.ended = (time.monotonic(), self.frames, self.bytes)

    def window(self) -> tuple[float, int, int]:
        """(seconds, frames, bytes) of the measuring window."""
        since = self.started if self.marked_at is None else self.marked_at
        until, frames, sent = self.ended or (time.monotonic(), self.frames, self.bytes)
        return (
            max(1e-9, until - since),
            frames - self._frames_at_mark,
            sent - self._bytes_at_mark,
        )

    def percentile(self, q: float, samples: deque[float] | None = None) -> float:
        pool = self.latencies if samples is None else samples
        if not pool:
            return 0.0
        ordered = sorted(pool)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    def fail(self, exc: BaseException) -> None:
        self.errors += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]

    def cut_off(self, close_code: int | None) -> None:
        """The gateway closed a bot's connection before the swarm stopped."""
        self.errors += 1
        self.last_error = f"connection closed by the gateway (code {close_code})"


class SwarmSummary(msgspec.Struct, frozen=True):
    bots: int
    entered: int
    connected: int
    seconds: float
    frames: int
    frames_per_second: float
    bytes_per_second_per_bot: float
    latency_p50_ms: float
    latency_p99_ms: float
    errors: int
    last_error: str
    queued: int = 0
    proposals: int = 0
    matches: int = 0
    queue_wait_p50_s: float = 0.0
    in_parties: int = 0
    # The full clients' latency (when only ``probes`` bots are), and whether the
    # figures cover a measuring window (``SwarmStats.mark``) or the whole run.
    probe_latency_p99_ms: float = 0.0
    windowed: bool = False
    refreshed: int = 0
    in_window: int = 0  # bots in the world when the window started
    resumes: int = 0  # bots that resumed through another gateway by themselves
    # Social bots: messages sent and heard from others, whispers refused by code,
    # trades as they ended.
    chat_sent: int = 0
    chat_received: int = 0
    whispers_refused: dict[str, int] = {}
    trades_committed: int = 0
    trades_cancelled: int = 0


def summary(stats: SwarmStats, bots: int) -> SwarmSummary:
    elapsed, frames, sent = stats.window()
    # Per bot in the world over the window: those there when it started (a summary
    # is made after the bots left), else every bot that entered.
    players = max(1, stats.at_mark if stats.marked_at is not None else stats.entered)
    return SwarmSummary(
        bots=bots,
        entered=stats.entered,
        connected=stats.connected,
        seconds=round(elapsed, 1),
        frames=frames,
        frames_per_second=round(frames / elapsed, 1),
        bytes_per_second_per_bot=round(sent / elapsed / players, 1),
        latency_p50_ms=round(1000 * max(0.0, stats.percentile(0.50)), 1),
        latency_p99_ms=round(1000 * max(0.0, stats.percentile(0.99)), 1),
        probe_latency_p99_ms=round(
            1000 * max(0.0, stats.percentile(0.99, stats.probe_latencies)), 1
        ),
        windowed=stats.marked_at is not None,
        refreshed=stats.refreshed,
        resumes=stats.resumes,
        in_window=stats.at_mark,
        errors=stats.errors,
        last_error=stats.last_error,
        queued=stats.queued,
        proposals=stats.proposals,
        matches=stats.matches,
        in_parties=stats.in_parties,
        queue_wait_p50_s=round(sorted(stats.queue_waits)[len(stats.queue_waits) // 2], 1)
        if stats.queue_waits
        else 0.0,
        chat_sent=stats.social.chat_sent,
        chat_received=stats.social.chat_received,
        whispers_refused=dict(sorted(stats.social.whispers_refused.items())),
        trades_committed=stats.social.trades_committed,
        trades_cancelled=stats.social.trades_cancelled,
    )


def bot_roles(index: int) -> tuple[RoleName, ...]:
    """Dungeon finder roles of bot ``index``: one in five tanks, one in five heals."""
    return (("tank",), ("healer",), ("damage",), ("damage",), ("damage",))[index % 5]


async def form_party(
    client: GameClient,
    index: int,
    size: int,
    stats: SwarmStats,
    stop: asyncio.Event,
    tag: str = "",
) -> bool:
    """Bot ``index``'s part in its party of ``size``: True if it leads (and queues)."""
    leader = index - index % size
    if index != leader:
        invitation = await next_item(client.invitations, stop)
        if invitation is not None:
            try:
                await client.party_accept(invitation.party_id)
                stats.in_parties += 1
            except RemoteError as exc:
                stats.fail(exc)
        return False
    for member in range(leader + 1, leader + size):
        for _ in range(INVITE_ATTEMPTS):
            if stop.is_set():
                return True
            try:
                await client.party_invite(bot_name(member, tag))
                break
            except RemoteError as exc:
                if exc.remote_code not in NOT_THERE_YET:
                    stats.fail(exc)
                    break
                await pause(stop, 1.0)  # it has not entered the world yet
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(PARTY_PATIENCE):  # then it queues with who came
            while len(client.party.members) < size and not stop.is_set():
                client.party_changed.clear()
                await client.party_changed.wait()
    if len(client.party.members) > 1:
        stats.in_parties += 1
    return True


async def queueing(
    client: GameClient,
    activity: str,
    roles: tuple[RoleName, ...],
    stats: SwarmStats,
    stop: asyncio.Event,
    leads: bool = True,
) -> None:
    """Queue for ``activity`` (if it ``leads``: a party member is queued by its
    leader), accept every proposal, play the match, queue again."""
    while not stop.is_set() and not client.closed.is_set():
        queued_at = time.monotonic()
        try:
            if leads:
                await client.queue_join(activity, roles)
                stats.queued += 1
        except RemoteError as exc:
            if exc.remote_code != "ALREADY_QUEUED":  # a requeue after a called-off match
                stats.fail(exc)
                await pause(stop, 2.0)
                continue
        proposal = await next_item(client.proposals, stop)
        if proposal is None:
            return
        stats.proposals += 1
        stats.queue_waits.append(time.monotonic() - queued_at)
        with contextlib.suppress(RemoteError):
            await client.accept(proposal.match_id)
        result = await next_item(client.results, stop)
        if result is not None and result.outcome != "cancelled":
            stats.matches += 1


async def run_bot(
    index: int,
    login_url: str,
    realm_id: int | None,
    http: aiohttp.ClientSession,
    stats: SwarmStats,
    stop: asyncio.Event,
    spread: float = 0.0,
    queue: str | None = None,
    party: int = 1,
    tag: str = "",
    light: bool = False,
    tokens: dict[str, str] | None = None,
    social: range | None = None,
) -> None:
    """Bot ``index``: enter, wander and fight until ``stop``; with ``queue`` and
    ``party`` play matches too, and with ``social`` (the swarm's indexes) chat,
    whisper and trade with the others (``social_bots``)."""
    rng = random.Random(index)  # noqa: S311 - wandering, not secrets
    # A trading pair shares a home, so its meetings are short walks.
    home_rng = rng if social is None else random.Random(pair_seed(index, social))  # noqa: S311
    api = LoginClient(login_url, http)
    account = bot_account(index, tag)

    async def log_in() -> None:
        held = tokens.get(account) if tokens is not None else None
        if held:
            # Refused (used up, revoked, a stale file) or limited: the password then.
            with contextlib.suppress(RemoteError):
                await api.refresh(held)
                stats.refreshed += 1
                return
        await api.register_or_login(account, bot_password(index))

    async def enter() -> GameClient | LightClient:
        await log_in()
        if tokens is not None:
            tokens[account] = api.refresh_token
        realm = realm_id if realm_id is not None else (await api.realms())[0].realm_id
        character = await api.character(realm, bot_name(index, tag))
        ticket = await api.ticket(character.character_id)
        if light:
            client: GameClient | LightClient = await LightClient.connect(
                ticket.gateway_url, ticket.ticket
            )
        else:
            client = await GameClient.connect(http, ticket.gateway_url, ticket.ticket)
        client.follow()  # through a gateway's restart or loss: resumed, not stopped
        return client

    light = light and queue is None and party < 2 and social is None
    client = await _retrying(enter, stop)
    stats.connected += 1
    stats.entered += 1
    sent: dict[int, float] = {}
    frames_seen = 0
    bytes_seen = 0
    resumes_seen = 0
    queueing_task = None
    if isinstance(client, GameClient) and (queue is not None or party > 1):
        full = client

        async def play_together() -> None:
            leads = party < 2 or await form_party(full, index, party, stats, stop, tag)
            if queue is not None:
                await queueing(full, queue, bot_roles(index), stats, stop, leads)

        queueing_task = asyncio.create_task(play_together())
    meet: Rendezvous | None = None
    social_task = None
    if isinstance(client, GameClient) and social is not None:
        meet = Rendezvous()
        company = Company(index, social, lambda i: bot_name(i, tag))
        social_task = asyncio.create_task(
            socialise(client, company, meet, stats.social, stop, stats.fail)
        )
    try:
        async with asyncio.timeout(10):
            while client.position is None:
                await client.wait_frame()
        start = client.position
        angle, radius = home_rng.uniform(0, math.tau), spread * math.sqrt(home_rng.random())
        home = inside(
            client.world_bounds,
            start[0] + radius * math.cos(angle),
            start[1] + radius * math.sin(angle),
        )
        target = home
        transfers = client.transfers
        while not stop.is_set() and not client.closed.is_set():
            if client.transfers != transfers or client.position is None:
                # Transferred: wander around where it landed, inside the new map.
                async with asyncio.timeout(10):
                    while client.position is None:
                        await client.wait_frame()
                transfers = client.transfers
                home = target = inside(client.world_bounds, *client.position[:2])
            # Between transfer_pending and new_world a bot stands still.
            if not client.transferring:
                # Taken before sending: a frame may answer while the send awaits.
                sending_at = time.monotonic()
                meeting = meet.point if meet is not None else None
                goal = target if meeting is None else inside(client.world_bounds, *meeting)
                arrived = await client.walk_towards(*goal, speed=SPEED, step_seconds=STEP_SECONDS)
                if meet is not None and meeting is not None:
                    if arrived:  # and stands there until the meeting is over
                        meet.arrived()
                elif arrived:
                    angle = rng.uniform(0, math.tau)
                    radius = rng.uniform(0, WANDER)
                    target = inside(
                        client.world_bounds,
                        home[0] + radius * math.cos(angle),
                        home[1] + radius * math.sin(angle),
                    )
                sent[client.seq] = sending_at
            if isinstance(client, GameClient) and rng.random() < 0.02:
                creatures = [i for i, r in client.visible().items() if r.kind == KIND_CREATURE]
                if creatures:
                    await client.attack(rng.choice(creatures))
            samples = latency_samples(sent, client.acks)
            stats.latencies.extend(samples)
            if isinstance(client, GameClient):
                stats.probe_latencies.extend(samples)
            now = time.monotonic()
            while sent:  # oldest first: moves never acknowledged (rejected or dropped)
                oldest = next(iter(sent))
                if now - sent[oldest] <= 5.0:
                    break
                del sent[oldest]
            stats.frames += client.frames - frames_seen
            stats.bytes += client.bytes - bytes_seen
            frames_seen, bytes_seen = client.frames, client.bytes
            stats.resumes += client.resumes - resumes_seen
            resumes_seen = client.resumes
            # A plain sleep (the loop checks ``stop``): a timeout around stop.wait()
            # cost a bench's bots a tenth of their CPU.
            await asyncio.sleep(STEP_SECONDS)
        if not stop.is_set():
            stats.cut_off(client.close_code)
    finally:
        stats.resumes += client.resumes - resumes_seen
        stats.connected -= 1
        behaviours = [t for t in (queueing_task, social_task) if t is not None]
        if behaviours and stop.is_set():
            # Told to stop, they end what they are doing (a trade is seen to its end
            # or called off, and counted); those still busy after a moment are cut short.
            await asyncio.wait(behaviours, timeout=WIND_DOWN_SECONDS)
        for task in behaviours:
            task.cancel()
        # Their last counts (what the social bots heard) made before the summary.
        await asyncio.gather(*behaviours, return_exceptions=True)
        await client.close()


def inside(bounds: Bounds, x: float, y: float) -> tuple[float, float]:
    """The nearest point to (x, y) at least ``MARGIN`` inside the map (its middle
    on a map narrower than that)."""

    def clamp(v: float, low: float, high: float) -> float:
        if high - low < 2 * MARGIN:
            return (low + high) / 2
        return min(max(v, low + MARGIN), high - MARGIN)

    return clamp(x, bounds.min_x, bounds.max_x), clamp(y, bounds.min_y, bounds.max_y)


TRANSIENT = {"UNAVAILABLE", "RATE_LIMITED", "HTTP_502", "HTTP_503", "NO_RESPONDERS", "BUS_TIMEOUT"}


async def _retrying(
    enter: Callable[[], Awaitable[GameClient | LightClient]], stop: asyncio.Event
) -> GameClient | LightClient:
    """Enter the world, retrying what a busy cluster answers (as a real client would)."""
    for attempt in range(6):
        try:
            return await enter()
        except (TimeoutError, OSError, aiohttp.ClientConnectionError, WSError, RemoteError) as exc:
            transient = not isinstance(exc, RemoteError) or exc.remote_code in TRANSIENT
            if not transient or attempt == 5 or stop.is_set():
                raise
            await asyncio.sleep(min(10.0, 0.5 * 2**attempt))  # back off, then try again
    raise AssertionError("unreachable")


async def run_swarm(
    count: int,
    login_url: str,
    *,
    realm_id: int | None = None,
    duration: float | None = None,
    stop: asyncio.Event | None = None,
    ramp_per_second: float = 50.0,
    stats: SwarmStats | None = None,
    first: int = 0,
    spread: float = 300.0,
    queue: str | None = None,
    party: int = 1,
    tag: str = "",
    probes: int | None = None,
    tokens: Path | None = None,
    social: bool = False,
) -> SwarmSummary:
    """Run bots ``first`` .. ``first + count - 1`` until ``duration`` passes or ``stop`` is set.

    ``tag`` names their accounts and characters (``bot_<tag>_<n>``): swarms
    running at once need different tags (the CLI draws one per swarm). With
    ``probes``, the bots after the first ``probes`` are light clients. With
    ``social``, every bot is a full client that also chats, whispers and trades
    with the others of the swarm."""
    stop = stop or asyncio.Event()
    stats = stats or SwarmStats()
    held = read_tokens(tokens) if tokens is not None else None
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as http:
        await LoginClient(login_url, http).reachable()  # a clear error, not N failed bots

        async def one(index: int) -> None:
            await asyncio.sleep(index / ramp_per_second)  # ramp up: not all at once
            try:
                await run_bot(
                    first + index,
                    login_url,
                    realm_id,
                    http,
                    stats,
                    stop,
                    spread,
                    queue,
                    party,
                    tag,
                    light=probes is not None and index >= probes,
                    tokens=held,
                    social=range(first, first + count) if social else None,
                )
            except Exception as exc:  # a bot's failure of any kind is counted and shown
                stats.fail(exc)

        tasks = [asyncio.create_task(one(i)) for i in range(count)]
        if duration is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(duration):
                    await stop.wait()
            stop.set()
        else:
            await stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
    if tokens is not None and held is not None:
        write_private(tokens, msgspec.json.encode(held).decode())
    return summary(stats, count)


def read_tokens(path: Path) -> dict[str, str]:
    """Account -> refresh token, as a swarm left them (none yet: empty)."""
    try:
        return msgspec.json.decode(path.read_bytes(), type=dict[str, str])
    except FileNotFoundError:
        return {}
    except msgspec.DecodeError:
        return {}  # not ours, or cut short: log in with passwords
