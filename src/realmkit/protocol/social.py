"""The social part of the client protocol: chat channels, whispers, friends and
presence, ``who``, guilds, mail and trades, and what a client looks up to draw
what it sees (the ``names`` of characters, its own ``inventory``) (part of
``protocol.client``).

Say and yell stay spatial (``protocol.inputs.Say``, answered by the space's
``chat`` event). Everything here is served by the player's gateway for the
character it authenticated (never an id the client chose) and reaches other
players wherever they are: chat through the cluster's ``CHAT`` stream (every
message a ``chat_message`` with a cluster-unique, growing ``id`` and the
server's time), the rest through the other players' gateways.

A name is ``Name`` (a character of your realm) or ``Name-Realm`` (a character of
another realm of your pool). Failures answer ``error`` with a stable code:
``NOT_FOUND``, ``OFFLINE``, ``IGNORED``, ``MUTED``, ``CHAT_RATE_LIMITED``,
``NOT_IN_CHANNEL``, ``BAD_CHANNEL_PASSWORD``, ``BAD_MESSAGE``...
(README: "Social").
"""

from __future__ import annotations

from typing import Annotated

import msgspec

# Name or Name-Realm (realm names: letters, digits, spaces).
Target = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{2,12}(-[A-Za-z0-9][A-Za-z0-9 ]{0,31})?$")]
# Longer texts than a message may hold (255) reach the gateway's check, which says so
# (``TEXT_TOO_LONG``) without counting it against the sender as a bad message.
ChatText = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
# ``party``, ``guild``, or a realm channel: general, trade, lfg, or a custom one.
ChannelName = Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9]{1,19}$")]
ChannelPassword = Annotated[str, msgspec.Meta(max_length=64)]
GuildName = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z][A-Za-z ]{2,23}$")]
Motd = Annotated[str, msgspec.Meta(max_length=255)]
RowId = Annotated[int, msgspec.Meta(ge=1, le=2**62)]
Level = Annotated[int, msgspec.Meta(ge=1, le=255)]
Money = Annotated[int, msgspec.Meta(ge=0, le=10**12)]
MAX_ATTACHMENTS = 12
# The ids of entities in frames: characters (positive, their character id) and
# creatures (negative, see ``realmkit.sim.space``).
EntityId = Annotated[int, msgspec.Meta(ge=-(2**62), le=2**62)]
MAX_NAMES = 64
ItemIds = Annotated[list[RowId], msgspec.Meta(max_length=MAX_ATTACHMENTS)]

PARTY = "party"
GUILD = "guild"
WHISPER = "whisper"
BUILT_IN_CHANNELS = ("general", "trade", "lfg")


class _Ask(msgspec.Struct, frozen=True, tag_field="t", forbid_unknown_fields=True):
    """Base of the social messages a client sends."""


# --- chat ---------------------------------------------------------------------


class Whisper(_Ask, frozen=True, tag="whisper"):
    """Say ``text`` to one character, online anywhere in your pool. You get your own
    ``chat_message`` back (``to`` set); ``OFFLINE``, ``IGNORED`` or ``NOT_FOUND`` when
    it cannot be told."""

    to: Target
    text: ChatText


class ChatSend(_Ask, frozen=True, tag="chat_send"):
    """Say ``text`` in ``channel``: ``party``, ``guild``, or a realm channel you joined.
    Every member gets a ``chat_message``, you too."""

    channel: ChannelName
    text: ChatText


class ChannelJoin(_Ask, frozen=True, tag="channel_join"):
    """Join a realm channel (``general``, ``trade``, ``lfg``, or a custom one, made by
    joining it; its first member may set a ``password``). Reply: ``channels``."""

    channel: ChannelName
    password: ChannelPassword = ""


class ChannelLeave(_Ask, frozen=True, tag="channel_leave"):
    """Leave a realm channel. Reply: ``channels``."""

    channel: ChannelName


# --- friends, ignore, who -------------------------------------------------------------


class FriendAdd(_Ask, frozen=True, tag="friend_add"):
    """Ask a character to be your friend (it gets ``friend_request``); if it asked you
    already, you are friends. Reply: ``friends``."""

    name: Target


class FriendAnswer(_Ask, frozen=True, tag="friend_answer"):
    """Accept or turn down the friend request of ``name``. Reply: ``friends``."""

    name: Target
    accept: bool


class FriendRemove(_Ask, frozen=True, tag="friend_remove"):
    """No longer friends with ``name``. Reply: ``friends``."""

    name: Target


class FriendList(_Ask, frozen=True, tag="friend_list"):
    """Your friends, the requests to you, your ignore list. Reply: ``friends``."""


class Ignore(_Ask, frozen=True, tag="ignore"):
    """Ignore ``name``: its whispers are refused, its channel messages not shown to
    you. Reply: ``friends``."""

    name: Target


class Unignore(_Ask, frozen=True, tag="unignore"):
    """No longer ignore ``name``. Reply: ``friends``."""

    name: Target


class Who(_Ask, frozen=True, tag="who"):
    """Characters online in your realm: whose name starts with ``name``, of a level
    in ``[level_min, level_max]``, on ``map_id`` (-1: any). Reply: ``who_result``."""

    name: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{0,12}$")] = ""
    level_min: Level = 1
    level_max: Level = 255
    map_id: Annotated[int, msgspec.Meta(ge=-1, le=2**31 - 1)] = -1


# --- guilds -------------------------------------------------------------------------------


class GuildCreate(_Ask, frozen=True, tag="guild_create"):
    """Found a guild of your realm and lead it. Reply: ``guild``."""

    name: GuildName


class GuildInvite(_Ask, frozen=True, tag="guild_invite"):
    """Invite a character of your realm (officers and the leader). It gets
    ``guild_invitation``. Reply: ``guild``."""

    name: Target


class GuildAnswer(_Ask, frozen=True, tag="guild_answer"):
    """Accept or decline a ``guild_invitation``. Reply: ``guild``."""

    guild_id: RowId
    accept: bool


class GuildLeave(_Ask, frozen=True, tag="guild_leave"):
    """Leave your guild (a leader hands over to the highest rank, longest member)."""


class GuildKick(_Ask, frozen=True, tag="guild_kick"):
    """Put a member of a lower rank out of the guild (officers and the leader)."""

    name: Target


class GuildPromote(_Ask, frozen=True, tag="guild_promote"):
    """Raise a member one rank, up to below your own (initiate, member, officer)."""

    name: Target


class GuildDemote(_Ask, frozen=True, tag="guild_demote"):
    """Lower a member of a rank below yours one rank."""

    name: Target


class GuildDisband(_Ask, frozen=True, tag="guild_disband"):
    """The leader ends the guild."""


class GuildMotd(_Ask, frozen=True, tag="guild_motd"):
    """Set the guild's message of the day (officers and the leader)."""

    text: Motd


class GuildRoster(_Ask, frozen=True, tag="guild_roster"):
    """Your guild and its members. Reply: ``guild``."""


# --- mail ---------------------------------------------------------------------------------


class MailSend(_Ask, frozen=True, tag="mail_send"):
    """Send a letter to a character, online or not, with up to 12 of your items and
    some money: they leave you at once and wait in the mail. Reply: ``mailbox``
    (yours)."""

    to: Target
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    body: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    items: ItemIds = []
    money: Money = 0


class MailList(_Ask, frozen=True, tag="mail_list"):
    """Your mailbox. Reply: ``mailbox``."""


class MailRead(_Ask, frozen=True, tag="mail_read"):
    """Read a letter. Reply: ``mail``."""

    mail_id: RowId


class MailTake(_Ask, frozen=True, tag="mail_take"):
    """Take a letter's items and money. Reply: ``mailbox``."""

    mail_id: RowId


class MailDelete(_Ask, frozen=True, tag="mail_delete"):
    """Delete a letter (never one that still holds items or money)."""

    mail_id: RowId


# --- names and inventory -------------------------------------------------------------------


class NamesRequest(_Ask, frozen=True, tag="names"):
    """The names and levels of the characters among ``ids`` (1 to 64 entity ids seen
    in frames: characters of any realm; creatures' ids are left out of the reply,
    their names are in the realm's content). Reply: ``names``."""

    ids: Annotated[list[EntityId], msgspec.Meta(min_length=1, max_length=MAX_NAMES)]


class InventoryRequest(_Ask, frozen=True, tag="inventory"):
    """The items your character owns (not those attached to mail) and its money.
    Reply: ``inventory``."""


# --- trades ---------------------------------------------------------------------------------


class TradeOpen(_Ask, frozen=True, tag="trade_open"):
    """Open a trade with a character standing near you. Both get ``trade``."""

    name: Target


class TradeOffer(_Ask, frozen=True, tag="trade_offer"):
    """What you give (replaces your offer; both accepts are reset)."""

    items: ItemIds = []
    money: Money = 0


class TradeAccept(_Ask, frozen=True, tag="trade_accept"):
    """Accept the trade as it stands at ``version`` (a changed offer makes it stale);
    when both accepted, the swap is made at once, all of it or nothing."""

    version: Annotated[int, msgspec.Meta(ge=0, le=2**62)]


class TradeCancel(_Ask, frozen=True, tag="trade_cancel"):
    """Call your open trade off: nothing moves. Both get ``trade`` (cancelled)."""


SocialMessage = (
    Whisper
    | ChatSend
    | ChannelJoin
    | ChannelLeave
    | FriendAdd
    | FriendAnswer
    | FriendRemove
    | FriendList
    | Ignore
    | Unignore
    | Who
    | GuildCreate
    | GuildInvite
    | GuildAnswer
    | GuildLeave
    | GuildKick
    | GuildPromote
    | GuildDemote
    | GuildDisband
    | GuildMotd
    | GuildRoster
    | MailSend
    | MailList
    | MailRead
    | MailTake
    | MailDelete
    | NamesRequest
    | InventoryRequest
    | TradeOpen
    | TradeOffer
    | TradeAccept
    | TradeCancel
)


# --- gateway -> client ------------------------------------------------------------------


class _News(msgspec.Struct, frozen=True, tag_field="t"):
    """Base of the social messages a client receives."""


class ChatMessage(_News, frozen=True, tag="chat_message"):
    """A message of a channel (``whisper``, ``party``, ``guild``, or a realm channel's
    name). ``id`` is unique in the cluster and grows with every message: keep the last
    one and send it as ``chat_after`` in ``resume`` to get what you missed. ``at`` is
    the server's time (ms since 1970). ``sender`` is ``Name`` (``Name-Realm`` from
    another realm); ``to`` is set on your own whisper's copy."""

    id: int
    at: int
    channel: str
    sender: str
    text: str
    to: str = ""


class Channels(_News, frozen=True, tag="channels"):
    """The realm channels you are in."""

    joined: list[str]


class FriendEntry(msgspec.Struct, frozen=True):
    name: str
    realm: str
    level: int
    online: bool
    map_id: int = -1  # -1: offline


class Friends(_News, frozen=True, tag="friends"):
    """Your friends (online ones with the map they are on), who asked you, whom you
    ignore."""

    friends: list[FriendEntry]
    requests: list[str] = []
    ignored: list[str] = []


class FriendRequestNews(_News, frozen=True, tag="friend_request"):
    """``name`` asks you to be friends: ``friend_answer``."""

    name: str


class Presence(_News, frozen=True, tag="presence"):
    """A friend or guild mate came online, moved to another map, or went offline
    (a player whose gateway died goes offline only after their resume grace)."""

    name: str
    realm: str
    online: bool
    map_id: int = -1


class WhoEntry(msgspec.Struct, frozen=True):
    name: str
    realm: str
    level: int
    map_id: int


class WhoResult(_News, frozen=True, tag="who_result"):
    players: list[WhoEntry]


class GuildMember(msgspec.Struct, frozen=True):
    character_id: int
    name: str
    rank: int  # 0 leader, 1 officer, 2 member, 3 initiate
    level: int
    online: bool


class GuildState(_News, frozen=True, tag="guild"):
    """Your guild (``guild_id`` 0: none), sent as a reply and whenever it changes."""

    guild_id: int = 0
    name: str = ""
    motd: str = ""
    members: list[GuildMember] = []


class GuildInvitation(_News, frozen=True, tag="guild_invitation"):
    guild_id: int
    guild: str
    inviter: str


class MailItem(msgspec.Struct, frozen=True):
    item_id: int
    template_id: int
    stack_count: int


class MailEntry(msgspec.Struct, frozen=True):
    mail_id: int
    sender: str
    subject: str
    money: int
    items: int  # how many items it holds (``mail_read`` shows them)
    read: bool
    returned: bool  # it came back to you unread
    # Seconds until an unread letter goes back to its sender (-1: it stays).
    expires_in: int


class Mailbox(_News, frozen=True, tag="mailbox"):
    """Your letters, newest first, and the money you hold."""

    mails: list[MailEntry]
    money: int = 0


class Letter(_News, frozen=True, tag="mail"):
    """One letter in full (the reply to ``mail_read``; it counts as read)."""

    mail_id: int
    sender: str
    subject: str
    body: str
    money: int
    items: list[MailItem]
    returned: bool


class MailArrived(_News, frozen=True, tag="mail_arrived"):
    """A letter came (also sent at login when unread mail waits)."""

    mail_id: int
    sender: str
    subject: str


class NameEntry(msgspec.Struct, frozen=True):
    id: int
    name: str  # ``Name``, or ``Name-Realm`` for a character of another realm
    level: int


class Names(_News, frozen=True, tag="names"):
    """The characters asked for by ``names`` (ids that are no character left out).
    A level may lag the world by a minute."""

    names: list[NameEntry]


class InventoryItem(msgspec.Struct, frozen=True):
    item_id: int
    template_id: int
    count: int


class Inventory(_News, frozen=True, tag="inventory"):
    """Your character's money and the items it owns, by ``item_id`` (templates are in
    the realm's content)."""

    money: int
    items: list[InventoryItem]


class TradeSide(msgspec.Struct, frozen=True):
    items: list[MailItem] = []
    money: int = 0
    accepted: bool = False


class TradeWindow(_News, frozen=True, tag="trade"):
    """Your trade: ``state`` open, committed (done: the items and money moved) or
    cancelled (``reason``); ``version`` to accept."""

    trade_id: int
    partner: str
    state: str
    version: int
    mine: TradeSide
    theirs: TradeSide
    reason: str = ""


SocialNews = (
    ChatMessage
    | Channels
    | Friends
    | FriendRequestNews
    | Presence
    | WhoResult
    | GuildState
    | GuildInvitation
    | Mailbox
    | Letter
    | MailArrived
    | Names
    | Inventory
    | TradeWindow
)


# --- between nodes ---------------------------------------------------------------------


class ChatRecord(msgspec.Struct, frozen=True):
    """A chat message as the ``CHAT`` stream keeps it. ``group`` is the party, the
    guild, or the realm of a realm channel; ``to_id``/``to`` the whispered one."""

    channel: str
    group: int
    sender_id: int
    sender: str
    realm_id: int
    realm: str
    text: str
    to_id: int = 0
    to: str = ""
