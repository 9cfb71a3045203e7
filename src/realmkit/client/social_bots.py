"""What bots do with ``realmkit bots --social``: chat, whisper and trade among themselves.

Each such bot (a full client) joins the realm channels ``general`` and ``trade``,
says something in one of them every few seconds and whispers to another bot of
its swarm by name now and then, far within the chat limits (2 messages a second
per player, 1 per channel). Bots pair up by index within the swarm (the first,
third... with the one after it): the pair share a home to wander around, and
every few seconds the first of the pair stops, whispers the second where it
stands, and waits there while the second walks up (``Rendezvous``); it opens a
trade as soon as the space says they are near enough. Each side offers once (a coin if
it has money, else nothing: an empty trade is a trade) and accepts every version
of the trade it sees until the trade is committed or cancelled; the first of the
pair counts how it ended.

The rules a bot follows are plain functions (``trade_partner``, ``trade_step``,
``meeting_point``...); the coroutines only wait, ask and count.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from realmkit.client.game import GameClient
from realmkit.client.pacing import next_item, pause, until_set
from realmkit.errors import RemoteError
from realmkit.protocol.social import (
    WHISPER,
    ChannelJoin,
    Channels,
    ChatMessage,
    Mailbox,
    MailList,
    TradeAccept,
    TradeCancel,
    TradeOffer,
    TradeOpen,
    TradeWindow,
)

CHANNELS = ("general", "trade")
# Seconds between a bot's channel messages, its whispers, and its pair's trades.
CHAT_EVERY = (4.0, 8.0)
WHISPER_EVERY = (6.0, 12.0)
TRADE_EVERY = (4.0, 8.0)
FIRST_TRADE = (2.0, 4.0)
# Walking to the meeting point; trying to open (a second apart) while the partner
# comes; offering and accepting once open.
MEET_PATIENCE = 20.0
OPEN_ATTEMPTS = 20
OPEN_PAUSE = 1.0
TRADE_PATIENCE = 10.0
# How long a trade over already is waited for its last news (committed or cancelled).
FINAL_NEWS_PATIENCE = 3.0
# The second of a pair stands this far from the first (a trade needs 10 or less).
BESIDE = 3.0
# Joining a channel right after entering: its gateway seats it in the chat just
# after ``new_world``, so the first asks may find it not there yet.
JOIN_ATTEMPTS = 20
NOT_SEATED_YET = {"NOT_IN_WORLD", "RATE_LIMITED"}
# Refusals of an open that pass as the partner comes (not yet in, not yet near).
NOT_READY = {"TOO_FAR", "OFFLINE", "NOT_FOUND", "NOT_IN_WORLD"}
# Refusals that the race of two sides offering and accepting at once brings.
TRADE_RACES = {"STALE_OFFER", "TRADE_CLOSED", "NOT_FOUND"}
SAYINGS = ("hello", "anyone for a dungeon?", "selling nothing", "nice weather", "lfg")

Fail = Callable[[BaseException], None]
Point = tuple[float, float]


class SocialStats:
    """What the swarm's social bots did (``SwarmStats.social``)."""

    def __init__(self) -> None:
        self.chat_sent = 0  # channel messages and whispers the cluster took
        self.chat_received = 0  # messages of other players heard (channels and whispers)
        self.whispers_refused: dict[str, int] = {}  # by error code
        self.trades_committed = 0  # counted by the side that opened them
        self.trades_cancelled = 0

    def refused(self, code: str) -> None:
        self.whispers_refused[code] = self.whispers_refused.get(code, 0) + 1


class Rendezvous:
    """Where a trading bot is to stand (``point``; None: it wanders) and whether it
    got there (``run_bot`` walks it there)."""

    def __init__(self) -> None:
        self.point: Point | None = None
        self.there = asyncio.Event()

    def go(self, point: Point) -> None:
        self.point = point
        self.there.clear()

    def arrived(self) -> None:
        self.there.set()

    def leave(self) -> None:
        self.point = None
        self.there.clear()


class Company:
    """A bot's place in its swarm: its index, the swarm's indexes, and their names."""

    def __init__(self, index: int, swarm: range, name_of: Callable[[int], str]) -> None:
        self.index = index
        self.swarm = swarm
        self.name_of = name_of

    @property
    def name(self) -> str:
        return self.name_of(self.index)


# --- the rules ---------------------------------------------------------------------


def trade_partner(index: int, swarm: range) -> tuple[int, bool] | None:
    """Bot ``index``'s trading partner in ``swarm`` and whether it leads (opens the
    trades): pairs of consecutive indexes from the swarm's first; the last of an odd
    swarm has none."""
    offset = index - swarm.start
    partner = index + 1 if offset % 2 == 0 else index - 1
    if partner not in swarm or index not in swarm:
        return None
    return partner, offset % 2 == 0


def pair_seed(index: int, swarm: range) -> int:
    """The index whose seed places the home of ``index``'s pair (its first)."""
    return index - (index - swarm.start) % 2


def whisper_target(rng: random.Random, index: int, swarm: range) -> int | None:
    """Another bot of the swarm, at random (None: alone)."""
    if len(swarm) < 2:
        return None
    pick = swarm[rng.randrange(len(swarm) - 1)]
    return pick if pick < index else pick + swarm.step


_MEET = re.compile(r"^meet me at (-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?) to trade$")


def meeting_text(point: Point) -> str:
    """The whisper that calls a partner to ``point``."""
    return f"meet me at {point[0]:.1f} {point[1]:.1f} to trade"


def meeting_point(text: str) -> Point | None:
    """Where a whisper of ``meeting_text`` calls to, or None if it is none."""
    found = _MEET.match(text)
    if found is None:
        return None
    return float(found.group(1)), float(found.group(2))


def beside(point: Point) -> Point:
    """Where the called partner stands: near enough to trade, not on top."""
    return point[0] + BESIDE, point[1]


def chat_since(chat: deque[ChatMessage], after: int) -> list[ChatMessage]:
    """The messages of ``chat`` (in id order) with an id above ``after``, oldest first."""
    newer = []
    for message in reversed(chat):
        if message.id <= after:
            break
        newer.append(message)
    newer.reverse()
    return newer


def heard_from_others(messages: Iterable[ChatMessage], me: str) -> int:
    """How many of ``messages`` others said (not our own, which come back to us)."""
    return sum(1 for m in messages if m.sender.lower() != me.lower())


def called_to(messages: Iterable[ChatMessage], caller: str) -> Point | None:
    """The latest meeting point ``caller`` whispered among ``messages``."""
    point = None
    for m in messages:
        if m.channel == WHISPER and not m.to and m.sender.lower() == caller.lower():
            point = meeting_point(m.text) or point
    return point


def newer_window(held: TradeWindow | None, latest: TradeWindow) -> TradeWindow:
    """The trade as it stands: ``latest`` unless it is an older version of the one
    ``held`` (a reply and the partner's news take two paths and may cross)."""
    if held is None or latest.trade_id != held.trade_id or latest.version >= held.version:
        return latest
    return held


class TradeStep(enum.Enum):
    OFFER = "offer"
    ACCEPT = "accept"
    WAIT = "wait"
    DONE = "done"


def trade_step(window: TradeWindow, offered: bool, tried: int = -1) -> TradeStep:
    """What a side does seeing ``window``: offer once, then accept each version it
    has not accepted, until the trade is committed or cancelled. A version it
    ``tried`` to accept already is not tried again: either the accept holds (news
    will say so) or the version was stale (news of the next will come)."""
    if window.state != "open":
        return TradeStep.DONE
    if not offered:
        return TradeStep.OFFER
    if not window.mine.accepted and window.version != tried:
        return TradeStep.ACCEPT
    return TradeStep.WAIT


# --- the behaviours ----------------------------------------------------------------


async def join_channels(client: GameClient, stop: asyncio.Event, fail: Fail) -> list[str]:
    """Join the realm channels the bots talk in; those joined."""
    joined: list[str] = []
    for channel in CHANNELS:
        for _ in range(JOIN_ATTEMPTS):
            try:
                joined = (await client.social_ask(ChannelJoin(channel), Channels)).joined
                break
            except RemoteError as exc:
                if exc.remote_code not in NOT_SEATED_YET:
                    fail(exc)
                    break
            except TimeoutError as exc:
                fail(exc)
                break
            await pause(stop, 0.5)
    return [c for c in CHANNELS if c in joined]


async def chatting(
    client: GameClient,
    channels: Sequence[str],
    company: Company,
    rng: random.Random,
    stats: SocialStats,
    stop: asyncio.Event,
    fail: Fail,
) -> None:
    """Say something in a channel now and then, whisper another bot now and then, and
    count what others said."""
    loop = asyncio.get_running_loop()
    next_say = loop.time() + rng.uniform(*CHAT_EVERY)
    next_whisper = loop.time() + rng.uniform(*WHISPER_EVERY)
    seen = client.last_chat_id
    try:
        while not stop.is_set() and not client.closed.is_set():
            await pause(stop, max(0.0, min(next_say, next_whisper) - loop.time()))
            if stop.is_set():
                return
            newer = chat_since(client.chat, seen)
            stats.chat_received += heard_from_others(newer, company.name)
            seen = newer[-1].id if newer else seen
            if loop.time() >= next_say and channels:
                next_say = loop.time() + rng.uniform(*CHAT_EVERY)
                text = f"{rng.choice(SAYINGS)} ({stats.chat_sent})"
                try:
                    await client.chat_send(rng.choice(channels), text)
                    stats.chat_sent += 1
                except (RemoteError, TimeoutError) as exc:
                    fail(exc)
            if loop.time() >= next_whisper:
                next_whisper = loop.time() + rng.uniform(*WHISPER_EVERY)
                other = whisper_target(rng, company.index, company.swarm)
                if other is not None:
                    await _whisper(client, company.name_of(other), f"hi ({stats.chat_sent})", stats)
    finally:
        stats.chat_received += heard_from_others(chat_since(client.chat, seen), company.name)


async def _whisper(client: GameClient, to: str, text: str, stats: SocialStats) -> bool:
    """Whisper ``text`` to ``to``; whether the cluster took it (refusals counted by code)."""
    try:
        await client.whisper(to, text)
    except RemoteError as exc:
        stats.refused(exc.remote_code)
        return False
    except TimeoutError:
        stats.refused("TIMEOUT")
        return False
    stats.chat_sent += 1
    return True


async def lead_trades(
    client: GameClient,
    partner: str,
    meet: Rendezvous,
    rng: random.Random,
    stats: SocialStats,
    stop: asyncio.Event,
    fail: Fail,
) -> None:
    """Every few seconds: stop, call the partner to where we stand, open a trade and
    see it through; count how it ended."""
    await pause(stop, rng.uniform(*FIRST_TRADE))
    while not stop.is_set() and not client.closed.is_set():
        try:
            ended = await _one_trade(client, partner, meet, stats, stop, fail)
        finally:
            meet.leave()
        if ended == "committed":
            stats.trades_committed += 1
        elif ended is not None:
            stats.trades_cancelled += 1
        await pause(stop, rng.uniform(*TRADE_EVERY))


async def _one_trade(
    client: GameClient,
    partner: str,
    meet: Rendezvous,
    stats: SocialStats,
    stop: asyncio.Event,
    fail: Fail,
) -> str | None:
    """One trade with ``partner``: how it ended, or None if none opened."""
    if client.position is None:
        return None  # between two spaces
    point = client.position[0], client.position[1]
    meet.go(point)  # it stops where it is
    if not await _whisper(client, partner, meeting_text(point), stats):
        return None  # not in the world yet: next time
    if not await until_set(meet.there, stop, MEET_PATIENCE):
        return None
    opened = await _open(client, partner, stop, fail)
    if opened is None:
        return None
    return await see_through(client, opened.trade_id - 1, stop, fail)


async def _open(
    client: GameClient, partner: str, stop: asyncio.Event, fail: Fail
) -> TradeWindow | None:
    """Open a trade with ``partner``, trying while it is on its way."""
    for _ in range(OPEN_ATTEMPTS):
        await pause(stop, OPEN_PAUSE)  # it walks here meanwhile
        if stop.is_set():
            return None
        try:
            return await client.social_ask(TradeOpen(partner), TradeWindow)
        except RemoteError as exc:
            if exc.remote_code == "ALREADY_TRADING":  # an earlier one not yet over
                await _cancel(client)
            elif exc.remote_code not in NOT_READY:
                fail(exc)
                return None
        except TimeoutError as exc:
            fail(exc)
            return None
    return None


async def follow_trades(
    client: GameClient,
    leader: str,
    meet: Rendezvous,
    stats: SocialStats,
    stop: asyncio.Event,
    fail: Fail,
) -> None:
    """Go where the leader of the pair whispers to meet, stand there and see its
    trade through; then wander again until it calls next."""
    seen = client.last_chat_id
    while not stop.is_set() and not client.closed.is_set():
        newer = chat_since(client.chat, seen)
        seen = newer[-1].id if newer else seen
        point = called_to(newer, leader)
        if point is None:
            client.chat_arrived.clear()
            await until_set(client.chat_arrived, stop, 5.0)
            continue
        meet.go(beside(point))
        latest = client.social.get("trade")
        after = latest.trade_id if isinstance(latest, TradeWindow) else 0
        try:
            # As long as its leader may take to open the trade and see it through.
            patience = MEET_PATIENCE + OPEN_ATTEMPTS * OPEN_PAUSE + TRADE_PATIENCE
            await see_through(client, after, stop, fail, patience=patience)
        finally:
            meet.leave()


async def see_through(
    client: GameClient,
    after: int,
    stop: asyncio.Event,
    fail: Fail,
    patience: float = TRADE_PATIENCE,
) -> str | None:
    """Offer once and accept each version seen of the first trade numbered above
    ``after`` until it ends; its final state ("committed", "cancelled"), cancelled
    after ``patience`` seconds, or None if none opened meanwhile."""
    offered = False
    tried = -1  # the version it last tried to accept
    window: TradeWindow | None = None
    try:
        async with asyncio.timeout(patience):
            while not stop.is_set():
                latest = client.social.get("trade")
                if isinstance(latest, TradeWindow) and latest.trade_id > after:
                    window = newer_window(window, latest)
                if window is not None:
                    step = trade_step(window, offered, tried)
                    if step is TradeStep.DONE:
                        return window.state
                    if step is TradeStep.ACCEPT:
                        tried = window.version
                    if step is not TradeStep.WAIT:
                        offered = await _act(client, step, window, fail) or offered
                if await next_item(client.social_news, stop) is None:
                    break  # stopping
    except TimeoutError:
        pass
    if window is None:
        return None
    if await _cancel(client):
        return "cancelled"
    # Over already: the other side's accept completed it, or it called it off. Its news
    # may still be on its way.
    final = await _final_window(client, window.trade_id)
    return final.state if final is not None else "cancelled"


async def _final_window(client: GameClient, trade_id: int) -> TradeWindow | None:
    """The news of trade ``trade_id`` once it is over (committed or cancelled), waited
    for ``FINAL_NEWS_PATIENCE`` seconds at most."""
    loop = asyncio.get_running_loop()
    until = loop.time() + FINAL_NEWS_PATIENCE
    while True:
        latest = client.social.get("trade")
        if (
            isinstance(latest, TradeWindow)
            and latest.trade_id == trade_id
            and latest.state in ("committed", "cancelled")
        ):
            return latest
        left = until - loop.time()
        if left <= 0:
            return None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(left):
                await client.social_news.get()


async def _act(client: GameClient, step: TradeStep, window: TradeWindow, fail: Fail) -> bool:
    """Offer (True once done) or accept ``window``'s version."""
    try:
        if step is TradeStep.OFFER:
            box = await client.social_ask(MailList(), Mailbox)
            await client.social_ask(TradeOffer(money=min(box.money, 1)), TradeWindow)
            return True
        await client.social_ask(TradeAccept(window.version), TradeWindow)
    except RemoteError as exc:
        if exc.remote_code not in TRADE_RACES:
            fail(exc)
    except TimeoutError as exc:
        fail(exc)
    return False


async def _cancel(client: GameClient) -> bool:
    """Call off our open trade, if there is one still: whether we did."""
    try:
        await client.social_ask(TradeCancel(), TradeWindow)
    except (RemoteError, TimeoutError):  # over already
        return False
    return True


async def socialise(
    client: GameClient,
    company: Company,
    meet: Rendezvous,
    stats: SocialStats,
    stop: asyncio.Event,
    fail: Fail,
) -> None:
    """All of a social bot's behaviours, until ``stop``."""
    rng = random.Random(company.index * 7919 + 1)  # noqa: S311 - chatter, not secrets
    channels = await join_channels(client, stop, fail)
    tasks = [asyncio.create_task(chatting(client, channels, company, rng, stats, stop, fail))]
    pair = trade_partner(company.index, company.swarm)
    if pair is not None:
        partner, leads = pair
        name = company.name_of(partner)
        if leads:
            trading = lead_trades(client, name, meet, rng, stats, stop, fail)
        else:
            trading = follow_trades(client, name, meet, stats, stop, fail)
        tasks.append(asyncio.create_task(trading))
    try:
        await asyncio.gather(*tasks)
    except Exception as exc:  # counted and shown, as any failure of a bot
        fail(exc)
    finally:
        for task in tasks:
            task.cancel()
