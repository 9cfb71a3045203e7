"""Chat and presence at a gateway: what its players say and hear across the cluster.

Chat travels through the cluster's ``CHAT`` stream (JetStream, the last ten
minutes kept). A player's message is checked here (``social.chat``: mute,
text, rate limits per player and per channel), stored in the stream under
its channel's subject (``bus.subjects.chat_*``), and comes back to every
gateway through one ordered consumer each (``follow``): every gateway sees
every message once, in the stream's order, and hands it to the members it
holds. The stream's sequence is the message's ``id``: unique in the cluster
and growing, so a client that keeps the last one it saw says so in
``resume`` (``chat_after``) and gets, after its gateway died, what it missed
on its subjects (``replay``), each message once, in order; what arrives live
meanwhile waits behind the replay.

Who hears what is kept here for the players this gateway holds, loaded
when they are seated: their realm channels, party, guild, friends and the
characters they ignore. Presence comes from PostgreSQL (``LISTEN
realmkit_presence``, notified by a trigger on every change of a character's
seat): each gateway tells the friends and guild mates it holds.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TypeVar

import msgspec

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus, Stored, Subscription
from realmkit.errors import NotInChannel, RealmkitError
from realmkit.protocol.client import Announcement, ErrorFrame, PartyState
from realmkit.protocol.matchmaking import PlayerNews
from realmkit.protocol.social import (
    GUILD,
    PARTY,
    WHISPER,
    ChatMessage,
    ChatRecord,
    ChatSend,
    Friends,
    GuildState,
    Presence,
    Whisper,
)
from realmkit.social.chat import ChatGuard, Refusal
from realmkit.store.postgres import Database, Listener
from realmkit.store.social import SocialContext, SocialRepo

log = logging.getLogger("realmkit.gateway.social")

# The stream keeps ten minutes of chat, within these bounds (the oldest goes first).
CHAT_MAX_AGE = 600.0
CHAT_MAX_BYTES = 1 << 30
CHAT_MAX_MESSAGE = 2048
# A resume replays at most so many missed messages (the latest).
REPLAY_LIMIT = 10_000
PRESENCE_CHANNEL = "realmkit_presence"

Send = Callable[[int, bytes], None]


class Member:
    """A player of this gateway as chat and presence see it."""

    __slots__ = ("ctx", "guard", "last_id", "saying", "waiting")

    def __init__(self, ctx: SocialContext, guard: ChatGuard) -> None:
        self.ctx = ctx
        self.guard = guard
        self.last_id = 0  # the id of the last chat message it was sent
        # While its missed messages are replayed, what arrives live waits here.
        self.waiting: list[Stored[ChatRecord]] | None = None
        # One message of the player at a time: stored in the order it said them.
        self.saying = asyncio.Lock()

    @property
    def character_id(self) -> int:
        return self.ctx.character_id


class Social:
    def __init__(self, bus: NatsBus, db: Database, send: Send) -> None:
        self.bus = bus
        self.db = db
        self.repo = SocialRepo(db)
        self.send = send
        self.members: dict[int, Member] = {}
        # Who of this gateway's players hears a channel, party, guild, character.
        self.channels: dict[tuple[int, str], set[int]] = defaultdict(set)
        self.parties: dict[int, set[int]] = defaultdict(set)
        self.guilds: dict[int, set[int]] = defaultdict(set)
        self.friends_of: dict[int, set[int]] = defaultdict(set)  # friend -> our players
        # The members of every guild one of our players is in, and their guild.
        self.rosters: dict[int, set[int]] = {}
        self.guild_of: dict[int, int] = {}
        self.realm_names: dict[int, str] = {}
        self._follow: Subscription | None = None
        self._listener: Listener | None = None
        self._encoded_seq = 0
        self._encoded: dict[tuple[bool, bool], bytes] = {}
        self.delivered = 0
        self.sent = 0
        self.refused = 0
        self.replayed = 0

    async def start(self) -> None:
        await self.bus.ensure_stream(
            subjects.CHAT_STREAM,
            [subjects.CHAT_ALL],
            max_age=CHAT_MAX_AGE,
            max_bytes=CHAT_MAX_BYTES,
            max_msg_size=CHAT_MAX_MESSAGE,
        )
        self._follow = await self.bus.follow(
            subjects.CHAT_STREAM, subjects.CHAT_ALL, ChatRecord, self._on_chat
        )
        self.realm_names = await self.repo.realm_names()
        self._listener = Listener(self.db, PRESENCE_CHANNEL, self._on_presence)
        await self._listener.start()

    async def stop(self) -> None:
        if self._listener is not None:
            await self._listener.stop()
        if self._follow is not None:
            await self._follow.unsubscribe()

    # --- players come and go ------------------------------------------------------

    async def seating(self, character_id: int) -> Member:
        """The player is about to be told ``new_world``: load whom it hears and hold
        what it hears from now on until ``seated`` (nothing reaches a client before
        its ``new_world``, and nothing said to it meanwhile is lost)."""
        ctx = await self.repo.context(character_id)
        if character_id in self.members:
            self.left(character_id)
        m = Member(ctx, ChatGuard(time.monotonic(), ctx.muted_until))
        m.waiting = []
        self.members[character_id] = m
        self.realm_names[ctx.realm_id] = ctx.realm
        self._index(m)
        return m

    async def seated(self, character_id: int, chat_after: int) -> None:
        """The player was told ``new_world``: after a resume, what it missed since
        ``chat_after`` (the replay), then what came meanwhile, each message once, in
        order."""
        m = self.members.get(character_id)
        if m is None or m.waiting is None:
            return
        m.last_id = chat_after
        try:
            if chat_after > 0:
                missed = await self.bus.replay(
                    subjects.CHAT_STREAM,
                    self._subjects_of(m.ctx),
                    chat_after,
                    ChatRecord,
                    limit=REPLAY_LIMIT,
                )
                for stored in missed:
                    self._send(m, stored)
                self.replayed += len(missed)
        finally:
            waiting, m.waiting = m.waiting, None
            for stored in waiting:
                self._send(m, stored)

    def check_unmuted(self, character_id: int) -> None:
        """``Refusal`` (as ``Muted``) while an operator's mute holds the player."""
        m = self.members.get(character_id)
        if m is not None:
            m.guard.check_unmuted(time.time())

    def context_of(self, character_id: int) -> SocialContext | None:
        m = self.members.get(character_id)
        return None if m is None else m.ctx

    async def reload(self, character_id: int) -> None:
        """Read again whom the player hears (its friends, guild, channels changed)."""
        if character_id not in self.members:
            return
        ctx = await self.repo.context(character_id)
        m = self.members.get(character_id)
        if m is not None:
            self._unindex(m)
            m.ctx = ctx
            m.guard.mute(ctx.muted_until)
            self._index(m)

    def left(self, character_id: int, member: Member | None = None) -> None:
        """The player is gone (only ``member``, when given: not a newer seat of it)."""
        m = self.members.get(character_id)
        if m is None or (member is not None and m is not member):
            return
        del self.members[character_id]
        self._unindex(m)

    def _index(self, m: Member) -> None:
        ctx, cid = m.ctx, m.character_id
        for channel in ctx.channels:
            self.channels[(ctx.realm_id, channel)].add(cid)
        if ctx.party_id:
            self.parties[ctx.party_id].add(cid)
        if ctx.guild_id:
            self.guilds[ctx.guild_id].add(cid)
            roster = {*ctx.guild_mates, cid}
            for gone in self.rosters.get(ctx.guild_id, set()) - roster:
                if self.guild_of.get(gone) == ctx.guild_id:
                    del self.guild_of[gone]  # left the guild: no more its mates' news
            self.rosters[ctx.guild_id] = roster
            for mate in roster:
                self.guild_of[mate] = ctx.guild_id
        for friend in ctx.friends:
            self.friends_of[friend].add(cid)

    def _unindex(self, m: Member) -> None:
        ctx, cid = m.ctx, m.character_id
        for channel in ctx.channels:
            _discard(self.channels, (ctx.realm_id, channel), cid)
        _discard(self.parties, ctx.party_id, cid)
        _discard(self.guilds, ctx.guild_id, cid)
        if ctx.guild_id and ctx.guild_id not in self.guilds:
            for mate in self.rosters.pop(ctx.guild_id, ()):
                if self.guild_of.get(mate) == ctx.guild_id:
                    del self.guild_of[mate]
        for friend in ctx.friends:
            _discard(self.friends_of, friend, cid)

    def changed(self, character_id: int, **changes: object) -> None:
        """A player's party, guild, channels or friends changed: heard from now on."""
        m = self.members.get(character_id)
        if m is None:
            return
        self._unindex(m)
        m.ctx = msgspec.structs.replace(m.ctx, **changes)
        self._index(m)

    def muted(self, character_id: int, until: float | None) -> None:
        m = self.members.get(character_id)
        if m is not None:
            m.guard.mute(until)

    @staticmethod
    def _subjects_of(ctx: SocialContext) -> list[str]:
        found = subjects.chat_whispers_of(ctx.character_id)
        found += [subjects.chat_channel(ctx.realm_id, c) for c in ctx.channels]
        if ctx.party_id:
            found.append(subjects.chat_party(ctx.party_id))
        if ctx.guild_id:
            found.append(subjects.chat_guild(ctx.guild_id))
        return found

    # --- what players ask ------------------------------------------------------------

    def heard(self, character_id: int, news: PlayerNews) -> bool:
        """What another node tells a player of this gateway, as far as chat cares:
        its party changed, an operator muted it; True when whom it hears must be read
        again (``reload``: its friends or guild changed)."""
        if isinstance(news, PartyState):
            self.changed(character_id, party_id=news.party_id)
        elif isinstance(news, GuildState):
            # At once (a kicked member's next word must not reach the guild); the
            # rest is read again.
            self.changed(
                character_id,
                guild_id=news.guild_id,
                guild_mates=frozenset(g.character_id for g in news.members),
            )
        elif isinstance(news, Announcement) and news.kind in ("muted", "unmuted"):
            self.muted(character_id, time.time() + news.seconds if news.kind == "muted" else None)
        return isinstance(news, GuildState | Friends) and character_id in self.members

    # --- saying --------------------------------------------------------------------

    async def say(self, character_id: int, message: Whisper | ChatSend) -> ErrorFrame | None:
        """Store the player's message in the stream (heard when it comes back); an
        ``error`` for the player when it cannot be said."""
        m = self.members.get(character_id)
        if m is None:
            return ErrorFrame("NOT_IN_WORLD", "chat is for players in the world")
        async with m.saying:
            return await self._say(m, message)

    async def _say(self, m: Member, message: Whisper | ChatSend) -> ErrorFrame | None:
        ctx, character_id = m.ctx, m.character_id
        channel = WHISPER if isinstance(message, Whisper) else message.channel
        try:
            m.guard.check(channel, message.text, time.monotonic(), time.time())
            if isinstance(message, Whisper):
                target = await self.repo.whisper_target(ctx, message.to)
                subject = subjects.chat_whisper(target.character_id, character_id)
                record = self._record(ctx, WHISPER, 0, message.text, target.character_id)
                record = msgspec.structs.replace(record, to=target.display)
            else:
                subject, group = self._channel_subject(ctx, message.channel)
                record = self._record(ctx, message.channel, group, message.text)
            await self.bus.publish_persistent(subject, record)
        except Refusal as exc:
            self.refused += 1
            return ErrorFrame(exc.code, exc.message)
        except RealmkitError as exc:
            self.refused += 1
            return _error(exc)
        self.sent += 1
        return None

    def _channel_subject(self, ctx: SocialContext, channel: str) -> tuple[str, int]:
        if channel == PARTY:
            if not ctx.party_id:
                raise NotInChannel(PARTY, "you are in no party")
            return subjects.chat_party(ctx.party_id), ctx.party_id
        if channel == GUILD:
            if not ctx.guild_id:
                raise NotInChannel(GUILD, "you are in no guild")
            return subjects.chat_guild(ctx.guild_id), ctx.guild_id
        if channel not in ctx.channels:
            raise NotInChannel(channel, "join it first (channel_join)")
        return subjects.chat_channel(ctx.realm_id, channel), ctx.realm_id

    @staticmethod
    def _record(
        ctx: SocialContext, channel: str, group: int, text: str, to_id: int = 0
    ) -> ChatRecord:
        return ChatRecord(
            channel=channel,
            group=group,
            sender_id=ctx.character_id,
            sender=ctx.name,
            realm_id=ctx.realm_id,
            realm=ctx.realm,
            text=text,
            to_id=to_id,
        )

    # --- hearing -------------------------------------------------------------------

    async def _on_chat(self, stored: Stored[ChatRecord]) -> None:
        r = stored.message
        hearers: Iterable[int]
        if r.channel == WHISPER:
            hearers = (r.to_id, r.sender_id)
        elif r.channel == PARTY:
            hearers = self.parties.get(r.group, _NOBODY)
        elif r.channel == GUILD:
            hearers = self.guilds.get(r.group, _NOBODY)
        else:
            hearers = self.channels.get((r.group, r.channel), _NOBODY)
        for cid in list(hearers):
            m = self.members.get(cid)
            if m is not None:
                self._deliver(m, stored)

    def _deliver(self, m: Member, stored: Stored[ChatRecord]) -> None:
        """A live message for ``m``: held while its seat completes, else sent."""
        if m.waiting is not None:
            m.waiting.append(stored)
            return
        self._send(m, stored)

    def _send(self, m: Member, stored: Stored[ChatRecord]) -> None:
        if stored.seq <= m.last_id:
            return  # told already (replayed, or both ways of a whisper to oneself)
        r = stored.message
        own = r.sender_id == m.character_id
        if not own and r.sender_id in m.ctx.ignored:
            return
        m.last_id = stored.seq
        # One encoding per message and way of showing it (the sender's realm named or
        # not; the sender's own copy names whom it whispered), for every member.
        if self._encoded_seq != stored.seq:
            self._encoded_seq, self._encoded = stored.seq, {}
        key = (r.realm_id == m.ctx.realm_id, own)
        data = self._encoded.get(key)
        if data is None:
            sender = r.sender if key[0] else f"{r.sender}-{r.realm}"
            data = self._encoded[key] = msgspec.msgpack.encode(
                ChatMessage(
                    stored.seq, stored.at_ms, r.channel, sender, r.text, r.to if own else ""
                )
            )
        self.delivered += 1
        self.send(m.character_id, data)

    # --- presence ------------------------------------------------------------------

    def _on_presence(self, payload: str) -> None:
        """A character came online, moved to another map, or went offline."""
        try:
            news = json.loads(payload)
            cid, name, realm_id = int(news["c"]), str(news["n"]), int(news["r"])
            online, map_id = bool(news["o"]), int(news["m"])
        except (ValueError, KeyError, TypeError):
            log.warning("presence notice not understood: %.200s", payload)
            return
        watchers = set(self.friends_of.get(cid, ()))
        guild = self.guild_of.get(cid)
        if guild is not None:
            watchers |= self.guilds.get(guild, set())
        watchers.discard(cid)
        if not watchers:
            return
        realm = self.realm_names.get(realm_id, "")
        data = msgspec.msgpack.encode(Presence(name, realm, online, map_id if online else -1))
        for watcher in watchers:
            if watcher in self.members:
                self.send(watcher, data)


_NOBODY: frozenset[int] = frozenset()
K = TypeVar("K")


def _discard(index: dict[K, set[int]], key: K, cid: int) -> None:
    held = index.get(key)
    if held is not None:
        held.discard(cid)
        if not held:
            del index[key]


def _error(exc: RealmkitError) -> ErrorFrame:
    return ErrorFrame(exc.code, exc.message)
