"""The social desk of a gateway: friends, ignore lists, ``who``, realm channels,
guilds, mail and trades, and the lookups of what a client draws (``names`` of the
characters it sees, its own ``inventory``), for the characters its sockets
authenticated.

Names are public: any character's, of any realm, is answered (nothing else of
it), from the gateway's ``NameBook`` (a bounded LRU, a minute fresh), so a
crowd asking who stands around reads PostgreSQL once per character a minute, not
per request. The inventory is the asking character's own, read as the store has
it (the world saves loot as it drops).

Each message is served here against PostgreSQL (the stores of ``realmkit.store``
keep every rule under a lock or a constraint) and answered to its player; the
other players concerned are told through their own gateways
(``nodes.announcing.tell_characters``), wherever they play. What changes whom a
player hears (friends, guild, channels) is read again into the gateway's chat
(``Social.reload``), here and, through the news they are sent, at their
gateways.

Trades need both players in the same space, standing within ``TRADE_RANGE``:
asked of the space when the trade opens and before each offer and accept (a
side that walked away ends the trade at the next one). Leaving the world or moving to
another space cancels an open trade (``left``), and so does coming back into
the world (``seated``: after a lost gateway); the commit itself checks that
both are still where the trade opened (epochs), so a crash or a transfer the
gateway did not see cancels it too. Nothing is ever half traded: the swap is
one transaction of compare-and-sets. Opening a trade asks nothing of the other
player: it gets the window and may cancel it.

Refusals are told to the player as its error code and a sentence meant for it
(``_for_player``), never the store's wording with ids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from realmkit.auth.limits import TokenBucket
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.errors import (
    Conflict,
    Ignored,
    InvalidInput,
    NotFound,
    NotInWorld,
    RealmkitError,
    RemoteError,
    TooFar,
)
from realmkit.lifecycle.trade import TradeState
from realmkit.nodes.announcing import tell_characters
from realmkit.nodes.gateway.social import Social
from realmkit.protocol.client import ErrorFrame
from realmkit.protocol.cluster import Apart, Distance
from realmkit.protocol.matchmaking import PlayerNews
from realmkit.protocol.social import (
    ChannelJoin,
    ChannelLeave,
    Channels,
    FriendAdd,
    FriendAnswer,
    FriendEntry,
    FriendList,
    FriendRemove,
    FriendRequestNews,
    Friends,
    GuildAnswer,
    GuildCreate,
    GuildDemote,
    GuildDisband,
    GuildInvitation,
    GuildInvite,
    GuildKick,
    GuildLeave,
    GuildMember,
    GuildMotd,
    GuildPromote,
    GuildRoster,
    GuildState,
    Ignore,
    Inventory,
    InventoryItem,
    InventoryRequest,
    Letter,
    MailArrived,
    Mailbox,
    MailDelete,
    MailEntry,
    MailItem,
    MailList,
    MailRead,
    MailSend,
    MailTake,
    NameEntry,
    Names,
    NamesRequest,
    SocialMessage,
    SocialNews,
    TradeAccept,
    TradeCancel,
    TradeOffer,
    TradeOpen,
    TradeSide,
    TradeWindow,
    Unignore,
    Who,
    WhoEntry,
    WhoResult,
)
from realmkit.settings import SocialSettings
from realmkit.social.chat import Refusal, check_written
from realmkit.social.names import NameBook
from realmkit.social.trade import TradeView
from realmkit.store.characters import ItemRepo
from realmkit.store.chat import ChannelRepo
from realmkit.store.friends import FriendRepo
from realmkit.store.guilds import GuildRepo, GuildRow
from realmkit.store.mail import MailRepo
from realmkit.store.placement import AssignmentRepo
from realmkit.store.postgres import Database
from realmkit.store.social import SocialContext
from realmkit.store.trades import TradeRepo

log = logging.getLogger("realmkit.gateway.desk")

# How near two players stand to trade (world units, on the ground).
TRADE_RANGE = 10.0
# Social requests (not chat) a player may make: per second, and in a burst.
ASK_RATE = (4.0, 20.0)
REQUEST_TIMEOUT = 5.0

Reply = ErrorFrame | SocialNews | None


class Desk:
    def __init__(
        self, bus: NatsBus, db: Database, social: Social, settings: SocialSettings
    ) -> None:
        self.bus = bus
        self.db = db
        self.social = social
        self.friends = FriendRepo(db)
        self.channels = ChannelRepo(db)
        self.guilds = GuildRepo(db)
        self.mail = MailRepo(db, lifetime_s=settings.mail_seconds)
        self.trades = TradeRepo(db)
        self.items = ItemRepo(db)
        self.name_book = NameBook()
        self._buckets: dict[int, TokenBucket] = {}

    # --- one message ------------------------------------------------------------------

    async def ask(self, character_id: int, message: SocialMessage) -> Reply:
        """Serve a player's message; what to answer it (an ``error`` when refused)."""
        now = time.monotonic()
        bucket = self._buckets.get(character_id)
        if bucket is None:
            bucket = self._buckets[character_id] = TokenBucket(*ASK_RATE, now)
        if not bucket.take(now):
            return ErrorFrame("RATE_LIMITED", "too many requests: slow down")
        ctx = self.social.context_of(character_id)
        if ctx is None:
            return ErrorFrame("NOT_IN_WORLD", "social requests are for players in the world")
        try:
            return await self._serve(ctx, message)
        except Refusal as exc:
            return ErrorFrame(exc.code, exc.message)
        except RealmkitError as exc:
            if isinstance(exc, RemoteError):
                return ErrorFrame(exc.remote_code, exc.remote_message)
            return ErrorFrame(exc.code, _for_player(exc))

    def forget(self, character_id: int) -> None:
        self._buckets.pop(character_id, None)

    async def _serve(self, ctx: SocialContext, m: SocialMessage) -> Reply:
        me = ctx.character_id
        if isinstance(m, ChannelJoin | ChannelLeave):
            if isinstance(m, ChannelJoin):
                await self.channels.join(me, ctx.realm_id, m.channel, m.password or None)
            else:
                await self.channels.leave(me, ctx.realm_id, m.channel)
            await self.social.reload(me)
            return Channels(sorted(c.channel for c in await self.channels.channels_of(me)))
        if isinstance(m, FriendAdd | FriendAnswer | FriendRemove | FriendList | Ignore | Unignore):
            return await self._friends(ctx, m)
        if isinstance(m, Who):
            rows = await self.friends.who(
                [ctx.realm_id],
                m.name,
                m.level_min,
                m.level_max,
                None if m.map_id < 0 else m.map_id,
            )
            return WhoResult([WhoEntry(r.name, r.realm, r.level, r.map_id) for r in rows])
        if isinstance(
            m,
            GuildCreate
            | GuildInvite
            | GuildAnswer
            | GuildLeave
            | GuildKick
            | GuildPromote
            | GuildDemote
            | GuildDisband
            | GuildMotd
            | GuildRoster,
        ):
            return await self._guild(ctx, m)
        if isinstance(m, MailSend | MailList | MailRead | MailTake | MailDelete):
            return await self._mail(ctx, m)
        if isinstance(m, NamesRequest):
            return await self.names(m.ids, ctx.realm_id)
        if isinstance(m, InventoryRequest):
            return await self.inventory(me)
        if isinstance(m, TradeOpen | TradeOffer | TradeAccept | TradeCancel):
            return await self._trade(ctx, m)
        return ErrorFrame("BAD_MESSAGE", "chat goes to the chat")  # whispers: Social.say

    async def _resolve(self, ctx: SocialContext, name: str) -> int:
        resolved = await self.friends.resolve(ctx.realm_id, name)
        if resolved.character_id == ctx.character_id:
            raise InvalidInput("name", "not yourself")
        return resolved.character_id

    async def _tell(self, character_ids: Sequence[int], news: PlayerNews) -> None:
        try:
            await tell_characters(self.db, self.bus, character_ids, news)
        except RealmkitError as exc:  # they see it when they ask again
            log.log(exc.log_level, "not told: %s", exc.message)

    # --- friends, ignore ----------------------------------------------------------------

    async def _friends(
        self,
        ctx: SocialContext,
        m: FriendAdd | FriendAnswer | FriendRemove | FriendList | Ignore | Unignore,
    ) -> Friends:
        me = ctx.character_id
        if isinstance(m, FriendAdd):
            other = await self._resolve(ctx, m.name)
            requested = await self.friends.request(me, other)
            if requested.friends:  # it had asked already: friends now
                await self._tell([other], await self.friends_view(other))
            else:
                await self._tell([other], FriendRequestNews(f"{ctx.name}-{ctx.realm}"))
        elif isinstance(m, FriendAnswer):
            other = await self._resolve(ctx, m.name)
            if await self.friends.answer(me, other, m.accept):
                await self._tell([other], await self.friends_view(other))
        elif isinstance(m, FriendRemove):
            other = await self._resolve(ctx, m.name)
            await self.friends.remove(me, other)
            await self._tell([other], await self.friends_view(other))
        elif isinstance(m, Ignore):
            await self.friends.ignore(me, await self._resolve(ctx, m.name))
        elif isinstance(m, Unignore):
            await self.friends.unignore(me, await self._resolve(ctx, m.name))
        if not isinstance(m, FriendList):
            await self.social.reload(me)
        return await self.friends_view(me)

    async def friends_view(self, character_id: int) -> Friends:
        friends = await self.friends.friends_of(character_id)
        asked = await self.friends.requests_to(character_id)
        ignored = await self.friends.ignores_of(character_id)
        return Friends(
            [
                FriendEntry(
                    f.name, f.realm, f.level, f.online, -1 if f.map_id is None else f.map_id
                )
                for f in friends
            ],
            [f"{r.name}-{r.realm}" for r in asked],
            [f"{r.name}-{r.realm}" for r in ignored],
        )

    # --- guilds -----------------------------------------------------------------------------

    async def _guild(self, ctx: SocialContext, m: SocialMessage) -> GuildState:
        me = ctx.character_id
        before = await self.guilds.guild_of(me)
        after: GuildRow | None
        told: set[int] = set()
        if isinstance(m, GuildCreate):
            after = await self.guilds.create(me, m.name)
        elif isinstance(m, GuildInvite):
            target = await self._resolve(ctx, m.name)
            invite = await self.guilds.invite(me, target)
            await self._tell([target], GuildInvitation(invite.guild_id, invite.guild, ctx.name))
            after = before
        elif isinstance(m, GuildAnswer):
            after = await self.guilds.answer(me, m.guild_id, m.accept)
            if not m.accept:
                after = before
        elif isinstance(m, GuildLeave):
            change = await self.guilds.leave(me)
            if change.after is not None:
                told |= set(change.after.member_ids)
            after = None  # for me: no guild now
        elif isinstance(m, GuildKick | GuildPromote | GuildDemote):
            target = await self._resolve(ctx, m.name)
            act = {
                GuildKick: self.guilds.kick,
                GuildPromote: self.guilds.promote,
                GuildDemote: self.guilds.demote,
            }[type(m)]
            after = (await act(me, target)).after
            told.add(target)
        elif isinstance(m, GuildDisband):
            gone = await self.guilds.disband(me)
            after = None
            await self._tell([i for i in gone.member_ids if i != me], GuildState())
        elif isinstance(m, GuildMotd):
            check_written("motd", m.text, blank=True)
            after = await self.guilds.set_motd(me, m.text)
        else:
            after = before
        if after is not None and after is not before:
            told |= set(after.member_ids)
        told.discard(me)
        if told:
            current = await self._guild_state_for_all(after)
            for cid in told:
                in_guild = after is not None and cid in after.member_ids
                await self._tell([cid], current if in_guild else GuildState())
        await self.social.reload(me)
        if after is None:
            return GuildState()  # left, disbanded, or never in one
        return _guild_state(await self.guilds.guild_of(me))

    async def _guild_state_for_all(self, guild: GuildRow | None) -> GuildState:
        if guild is None:
            return GuildState()
        return _guild_state(await self.guilds.get(guild.guild_id))

    # --- mail ---------------------------------------------------------------------------------

    async def _mail(self, ctx: SocialContext, m: SocialMessage) -> Mailbox | Letter | None:
        me = ctx.character_id
        if isinstance(m, MailSend):
            # A letter is words too: a mute holds it, and an ignorer is not written to.
            self.social.check_unmuted(me)
            check_written("subject", m.subject)
            check_written("body", m.body, lines=True, blank=True)
            to = await self.friends.resolve(ctx.realm_id, m.to)
            if await self.friends.ignores(to.character_id, me):
                raise Ignored(me, to.character_id, m.to)
            sent = await self.mail.send(me, to.character_id, m.subject, m.body, m.items, m.money)
            sender = ctx.name if to.realm_id == ctx.realm_id else f"{ctx.name}-{ctx.realm}"
            await self._tell([to.character_id], MailArrived(sent.mail_id, sender, sent.subject))
        elif isinstance(m, MailRead):
            letter = await self.mail.read(me, m.mail_id)
            names = await self._names([letter.sender_id], me)
            return Letter(
                letter.mail_id,
                names.get(letter.sender_id or 0, ""),
                letter.subject,
                letter.body,
                letter.money,
                [MailItem(i.item_id, i.template_id, i.stack_count) for i in letter.items],
                letter.returned,
            )
        elif isinstance(m, MailTake):
            await self.mail.take(me, m.mail_id)
        elif isinstance(m, MailDelete):
            await self.mail.delete(me, m.mail_id)
        return await self.mailbox(me)

    async def mailbox(self, character_id: int) -> Mailbox:
        mails = await self.mail.mailbox(character_id)
        names = await self._names([s.sender_id for s in mails], character_id)
        now = datetime.now(UTC)
        return Mailbox(
            [
                MailEntry(
                    s.mail_id,
                    names.get(s.sender_id or 0, ""),
                    s.subject,
                    s.money,
                    s.items,
                    s.read_at is not None,
                    s.returned,
                    -1
                    if s.expires_at is None
                    else max(0, int((s.expires_at - now).total_seconds())),
                )
                for s in mails
            ],
            await self.mail.money(character_id),
        )

    async def _names(self, ids: Sequence[int | None], seen_by: int) -> dict[int, str]:
        """Names as ``seen_by`` says them (``Name-Realm`` from another realm)."""
        ctx = self.social.context_of(seen_by) or await self.social.repo.context(seen_by)
        return await self.social.repo.names(ids, ctx.realm_id)

    # --- names and inventory ------------------------------------------------------------

    async def names(self, ids: Sequence[int], realm_id: int) -> Names:
        """The characters among ``ids`` as a player of ``realm_id`` names them."""
        known, missing = self.name_book.lookup(ids, time.monotonic())
        if missing:
            found = await self.social.repo.cards(missing)
            self.name_book.learn(missing, found, time.monotonic())
            known.update(found)
        return Names(
            [
                NameEntry(i, known[i].seen_from(realm_id), known[i].level)
                for i in dict.fromkeys(ids)
                if i in known
            ]
        )

    async def inventory(self, character_id: int) -> Inventory:
        owned = await self.items.owned_by(character_id)
        return Inventory(
            await self.mail.money(character_id),
            [InventoryItem(i.item_id, i.template_id, i.stack_count) for i in owned],
        )

    # --- trades -----------------------------------------------------------------------------

    async def _trade(self, ctx: SocialContext, m: SocialMessage) -> TradeWindow:
        me = ctx.character_id
        if isinstance(m, TradeOpen):
            other = await self._resolve(ctx, m.name)
            if await self.friends.ignores(other, me):
                raise Ignored(me, other, m.name)
            await self._near(me, other)
            view = await self.trades.open(me, other)
        else:
            held = await self.trades.open_of(me)
            if held is None:
                raise NotFound("trade", me, "you are in no open trade")
            if isinstance(m, TradeOffer | TradeAccept):
                try:  # a side that walked away (or left) ends the trade here
                    await self._near(held.a.character_id, held.b.character_id)
                except Conflict as exc:
                    view = await self.trades.cancel(held.trade_id, me, exc.message)
                else:
                    if isinstance(m, TradeOffer):
                        view = await self.trades.offer(held.trade_id, me, m.items, m.money)
                    else:
                        view = await self.trades.accept(held.trade_id, me, m.version)
            else:
                view = await self.trades.cancel(held.trade_id, me, "cancelled")
        other_id = view.other(me).character_id
        await self._tell([other_id], await self.window(view, other_id))
        return await self.window(view, me)

    async def _near(self, a: int, b: int) -> None:
        """Both in the world, in the same space, within ``TRADE_RANGE``."""
        where = await AssignmentRepo(self.db).instances_of([a, b])
        if a not in where or b not in where:
            raise NotInWorld(b if a in where else a)
        if where[a] != where[b]:
            raise TooFar("you are not in the same place")
        apart = await self.bus.request(
            subjects.space_control(where[a]), Distance(a, b), Apart, timeout=REQUEST_TIMEOUT
        )
        if apart.distance > TRADE_RANGE:
            raise TooFar(f"stand within {TRADE_RANGE:.0f} yards of each other to trade")

    async def window(self, view: TradeView, character_id: int) -> TradeWindow:
        mine, theirs = view.side(character_id), view.other(character_id)
        items = await self._items([*mine.item_ids, *theirs.item_ids])
        names = await self._names([theirs.character_id], character_id)
        return TradeWindow(
            view.trade_id,
            names.get(theirs.character_id, ""),
            str(view.state),
            view.version,
            TradeSide([items[i] for i in mine.item_ids if i in items], mine.money, mine.accepted),
            TradeSide(
                [items[i] for i in theirs.item_ids if i in items], theirs.money, theirs.accepted
            ),
            view.reason,
        )

    async def _items(self, ids: Sequence[int]) -> dict[int, MailItem]:
        found = await self.social.repo.items(ids)
        return {i: MailItem(i, template, count) for i, (template, count) in found.items()}

    async def left(self, character_id: int, reason: str) -> None:
        """The player left the world or its space: its open trade is cancelled."""
        self._buckets.pop(character_id, None)
        try:
            view = await self.trades.cancel_for(character_id, reason)
        except RealmkitError as exc:
            log.log(exc.log_level, "trade of %d not cancelled: %s", character_id, exc.message)
            return
        if view is not None and view.state is TradeState.CANCELLED:
            for side in (view.a.character_id, view.b.character_id):  # both: it may still play
                await self._tell([side], await self.window(view, side))

    async def seated(self, character_id: int) -> None:
        """Entering the world (or coming back after a lost gateway): a trade left open
        is cancelled, unread mail is told."""
        await self.left(character_id, "came back into the world")
        box = await self.mailbox(character_id)
        if any(not e.read for e in box.mails):
            await self._tell([character_id], box)


# What players are told of the store's refusals whose own words are for operators.
_PLAYER_WORDS = {
    "OWNERSHIP_CHANGED": "that item is not yours (any more)",
    "GUILD_RANK_TOO_LOW": "your guild rank does not allow that",
    "ALREADY_EXISTS": "that exists already (a name taken, a friend or request already there)",
    "STALE_EPOCH": "you moved meanwhile: the trade was called off",
}


def _for_player(exc: RealmkitError) -> str:
    return _PLAYER_WORDS.get(exc.code, exc.message)


def _guild_state(guild: GuildRow | None) -> GuildState:
    if guild is None:
        return GuildState()
    return GuildState(
        guild.guild_id,
        guild.name,
        guild.motd,
        [
            GuildMember(g.character_id, g.name, int(g.rank), g.level, g.online)
            for g in guild.members
        ],
    )
