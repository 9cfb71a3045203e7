"""The one exception hierarchy of realmkit.

Every error realmkit raises is a ``RealmkitError``. Errors carry data as
attributes (never only a message) and a stable ``code`` that clients, the CLI
and logs may rely on. Third-party errors (asyncpg, nats, OS) are translated
where they enter realmkit and never escape an adapter.

Caller mistakes (``UsageError``: bad input, bad configuration, an action the
rules forbid) and peer misbehaviour (``PeerError``: a malformed message from
another node or a client) are separate branches; ``Unavailable`` covers a
dependency that is down or unreachable, which a caller may retry.

    RealmkitError
    ├── UsageError                      the caller asked for something wrong
    │   ├── ConfigError                 bad realmkit.toml / environment value
    │   ├── ContentError                a content pack file is invalid (names file and field)
    │   ├── NotFound                    no such row / object
    │   ├── Conflict                    the request breaks an invariant
    │   │   ├── AlreadyExists           a unique name or key is taken
    │   │   ├── ItemAlreadyOwned        an item cannot have two owners
    │   │   ├── AlreadyAssigned         a character is in at most one instance
    │   │   ├── InstanceFull            a space has no room for one more player
    │   │   ├── RealmUnavailable        the realm is not online (offline, locked, maintenance)
    │   │   ├── AlreadyQueued           one live ticket per character and activity
    │   │   ├── AlreadyInParty          a character is in one party at most
    │   │   ├── PartyFull               a party has no room for one more member
    │   │   ├── NotPartyLeader          only a party's leader invites and queues it
    │   │   ├── OwnershipChanged        compare-and-set lost: owner is not the expected one
    │   │   ├── StaleEpoch              a save or placement fenced by an old epoch
    │   │   ├── StaleLayout             a change of a continent's cells from an old version
    │   │   ├── NotConnected            a player to seat is no longer held by its gateway
    │   │   ├── LeftMeanwhile           a player to hand off is no longer in its space
    │   │   ├── NotOnline               a whisper to a character not in the world
    │   │   ├── TooFar                  two players too far apart to trade
    │   │   ├── FriendsFull             a character has as many friends as allowed
    │   │   ├── FriendRequestsFull      too many friend requests waiting to or from a character
    │   │   ├── DifferentPool           friends play in one realm pool
    │   │   ├── Ignored                 the other character ignores this one
    │   │   ├── IgnoreListFull          a character ignores as many as allowed
    │   │   ├── TooManyChannels         a character is in as many chat channels as allowed
    │   │   ├── Muted                   an operator muted the character for a while
    │   │   ├── NotInGuild              the character is in no guild
    │   │   ├── AlreadyInGuild          a character is in one guild at most
    │   │   ├── GuildFull               a guild has no room for one more member
    │   │   ├── GuildRankTooLow         the actor's guild rank does not allow the action
    │   │   ├── TooManyGuildInvites     too many guild invitations waiting for a character
    │   │   ├── NotEnoughMoney          a payment above what the character holds
    │   │   ├── MoneyCapReached         a payment would lift a purse above the cap
    │   │   ├── MailboxFull             a mailbox holds as many mails as it may
    │   │   ├── MailNotEmpty            a mail still holds items or money
    │   │   ├── AlreadyTrading          a character is in one open trade at most
    │   │   ├── NotInWorld              a character to trade with is not in the world
    │   │   ├── StaleOffer              an accept of offers that have changed since
    │   │   └── TradeClosed             a trade already committed or cancelled
    │   ├── WrongChannelPassword        a chat channel's password did not match
    │   ├── IllegalTransition           a lifecycle state machine refused a move
    │   ├── TickOutOfOrder              a space was stepped with a tick not after its last
    │   ├── InvalidInput                a field of a request breaks its rules
    │   ├── RateLimited                 too many attempts; retry after a delay
    │   ├── NotInChannel                chat in a channel, party or guild one is not in
    │   ├── Forbidden                   who you are is known, and it may not do this
    │   └── AuthError                   who you are could not be established
    │       ├── BadCredentials          wrong name or password
    │       ├── TicketInvalid           forged, malformed or wrong-audience ticket
    │       ├── TicketExpired           a ticket past its expiry
    │       └── TicketReplayed          a single-use ticket used twice
    ├── PeerError                       another party sent something invalid
    │   ├── BadMessage                  undecodable or invalid wire message
    │   └── BadSnapshot                 a space snapshot that cannot be restored here
    ├── RemoteError                     the node serving a request answered with an error
    ├── Unavailable                     a dependency is down; retrying may help
    │   ├── EngineUnreachable           a configured NATS / PostgreSQL does not answer
    │   ├── StoreUnavailable            PostgreSQL connection lost or refused
    │   ├── BusUnavailable              NATS connection lost or refused
    │   ├── BusTimeout                  a request got no reply in time
    │   ├── NoResponders                nobody listens on a request subject
    │   ├── LaunchFailed                the launcher could not start or stop a world node
    │   └── BackupFailed                a backup, its verification or a restore did not complete
    └── InternalError                   realmkit itself is wrong
        ├── EngineStartFailed           an embedded engine did not come up
        ├── MigrationError              a schema migration failed
        └── StoreError                  an unexpected database error

``log_level`` says how loudly a caller that carries on logs an error it
caught: WARNING, except for an engine outage (``StoreUnavailable``,
``BusUnavailable``), which its adapter logs once when it begins and once when
it ends (``realmkit.outage``): DEBUG.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar


class RealmkitError(Exception):
    """Base of every realmkit error. ``code`` is stable; ``data`` is for machines."""

    code: ClassVar[str] = "ERROR"
    log_level: int = logging.WARNING

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-friendly mapping (``code``, ``message``, data)."""
        return {"code": self.code, "message": self.message, **self.data}


# --- caller mistakes -------------------------------------------------------


class UsageError(RealmkitError):
    code = "BAD_REQUEST"


class ConfigError(UsageError):
    code = "BAD_CONFIG"

    def __init__(self, source: str, detail: str) -> None:
        super().__init__(f"{source}: {detail}", source=source, detail=detail)
        self.source = source
        self.detail = detail


class ContentError(UsageError):
    code = "BAD_CONTENT"

    def __init__(self, path: str, field: str, detail: str) -> None:
        super().__init__(f"{path}: {field}: {detail}", path=path, field=field, detail=detail)
        self.path = path
        self.field = field
        self.detail = detail


class NotFound(UsageError):
    code = "NOT_FOUND"

    def __init__(self, kind: str, key: object, message: str | None = None) -> None:
        super().__init__(message or f"{kind} {key!r} not found", kind=kind, key=key)
        self.kind = kind
        self.key = key


class Conflict(UsageError):
    code = "CONFLICT"


class AlreadyExists(Conflict):
    code = "ALREADY_EXISTS"

    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} already exists", kind=kind, key=key)
        self.kind = kind
        self.key = key


class ItemAlreadyOwned(Conflict):
    code = "ITEM_ALREADY_OWNED"

    def __init__(self, item_id: int) -> None:
        super().__init__(f"item {item_id} already has an owner", item_id=item_id)
        self.item_id = item_id


class AlreadyAssigned(Conflict):
    code = "ALREADY_ASSIGNED"

    def __init__(self, character_id: int) -> None:
        super().__init__(
            f"character {character_id} already has an assignment", character_id=character_id
        )
        self.character_id = character_id


class InstanceFull(Conflict):
    code = "INSTANCE_FULL"

    def __init__(self, instance_id: int, capacity: int) -> None:
        super().__init__(
            f"instance {instance_id} is full ({capacity} players)",
            instance_id=instance_id,
            capacity=capacity,
        )
        self.instance_id = instance_id
        self.capacity = capacity


class RealmUnavailable(Conflict):
    code = "REALM_UNAVAILABLE"

    def __init__(self, realm_id: int, name: str, status: str) -> None:
        super().__init__(
            f"realm {name} is {status}: no new players or queues",
            realm_id=realm_id,
            name=name,
            status=status,
        )
        self.realm_id = realm_id
        self.status = status


class AlreadyQueued(Conflict):
    code = "ALREADY_QUEUED"

    def __init__(self, character_id: int, activity: str, ticket_id: int | None = None) -> None:
        super().__init__(
            f"character {character_id} is already queued for {activity}",
            character_id=character_id,
            activity=activity,
            ticket_id=ticket_id,
        )
        self.character_id = character_id
        self.activity = activity
        self.ticket_id = ticket_id


class AlreadyInParty(Conflict):
    code = "ALREADY_IN_PARTY"

    def __init__(self, character_id: int, name: str = "") -> None:
        who = name or f"character {character_id}"
        super().__init__(f"{who} is already in a party", character_id=character_id, name=name)
        self.character_id = character_id


class PartyFull(Conflict):
    code = "PARTY_FULL"

    def __init__(self, party_id: int, size: int) -> None:
        super().__init__(f"party {party_id} is full ({size} members)", party_id=party_id, size=size)
        self.party_id = party_id
        self.size = size


class NotPartyLeader(Conflict):
    code = "NOT_PARTY_LEADER"

    def __init__(self, character_id: int, party_id: int) -> None:
        super().__init__(
            f"only the leader of party {party_id} can do that",
            character_id=character_id,
            party_id=party_id,
        )
        self.character_id = character_id
        self.party_id = party_id


class OwnershipChanged(Conflict):
    code = "OWNERSHIP_CHANGED"

    def __init__(self, item_id: int, expected_owner: int) -> None:
        super().__init__(
            f"item {item_id} is no longer owned by character {expected_owner}",
            item_id=item_id,
            expected_owner=expected_owner,
        )
        self.item_id = item_id
        self.expected_owner = expected_owner


class StaleEpoch(Conflict):
    code = "STALE_EPOCH"

    def __init__(self, character_id: int, epoch: int) -> None:
        super().__init__(
            f"epoch {epoch} is stale for character {character_id}",
            character_id=character_id,
            epoch=epoch,
        )
        self.character_id = character_id
        self.epoch = epoch


class StaleLayout(Conflict):
    code = "STALE_LAYOUT"

    def __init__(self, partition_id: int, expected: int) -> None:
        super().__init__(
            f"partition {partition_id} is no longer at version {expected}",
            partition_id=partition_id,
            expected=expected,
        )
        self.partition_id = partition_id
        self.expected = expected


class NotConnected(Conflict):
    code = "NOT_CONNECTED"

    def __init__(self, character_id: int) -> None:
        super().__init__(f"character {character_id} is not connected", character_id=character_id)
        self.character_id = character_id


class LeftMeanwhile(Conflict):
    code = "LEFT_MEANWHILE"

    def __init__(self, character_id: int, instance_id: int) -> None:
        super().__init__(
            f"character {character_id} left instance {instance_id}",
            character_id=character_id,
            instance_id=instance_id,
        )
        self.character_id = character_id
        self.instance_id = instance_id


# --- social: friends, channels, guilds ---


class FriendsFull(Conflict):
    code = "FRIENDS_FULL"

    def __init__(self, character_id: int, cap: int) -> None:
        super().__init__(
            f"character {character_id} has {cap} friends already",
            character_id=character_id,
            cap=cap,
        )
        self.character_id = character_id
        self.cap = cap


class FriendRequestsFull(Conflict):
    code = "FRIEND_REQUESTS_FULL"

    def __init__(self, character_id: int, cap: int) -> None:
        super().__init__(
            f"character {character_id} has {cap} friend requests waiting",
            character_id=character_id,
            cap=cap,
        )
        self.character_id = character_id
        self.cap = cap


class DifferentPool(Conflict):
    code = "DIFFERENT_POOL"

    def __init__(self, character_id: int, other_id: int) -> None:
        super().__init__(
            f"characters {character_id} and {other_id} play in different realm pools",
            character_id=character_id,
            other_id=other_id,
        )
        self.character_id = character_id
        self.other_id = other_id


class Ignored(Conflict):
    code = "IGNORED"

    def __init__(self, character_id: int, by_id: int, name: str = "") -> None:
        """``by_id`` ignores ``character_id``; ``name`` (``by_id``'s) makes the message
        one for the ignored player."""
        super().__init__(
            f"{name} is ignoring you"
            if name
            else f"character {by_id} ignores character {character_id}",
            character_id=character_id,
            by_id=by_id,
        )
        self.character_id = character_id
        self.by_id = by_id


class IgnoreListFull(Conflict):
    code = "IGNORE_LIST_FULL"

    def __init__(self, character_id: int, cap: int) -> None:
        super().__init__(
            f"character {character_id} ignores {cap} characters already",
            character_id=character_id,
            cap=cap,
        )
        self.character_id = character_id
        self.cap = cap


class TooManyChannels(Conflict):
    code = "TOO_MANY_CHANNELS"

    def __init__(self, character_id: int, cap: int) -> None:
        super().__init__(
            f"character {character_id} is in {cap} channels already",
            character_id=character_id,
            cap=cap,
        )
        self.character_id = character_id
        self.cap = cap


class Muted(Conflict):
    code = "MUTED"

    def __init__(self, character_id: int, seconds_left: float, reason: str) -> None:
        super().__init__(
            f"character {character_id} is muted for {seconds_left:.0f}s more",
            character_id=character_id,
            seconds_left=round(seconds_left, 1),
            reason=reason,
        )
        self.character_id = character_id
        self.seconds_left = seconds_left
        self.reason = reason


class NotInGuild(Conflict):
    code = "NOT_IN_GUILD"

    def __init__(self, character_id: int) -> None:
        super().__init__(f"character {character_id} is in no guild", character_id=character_id)
        self.character_id = character_id


class AlreadyInGuild(Conflict):
    code = "ALREADY_IN_GUILD"

    def __init__(self, character_id: int) -> None:
        super().__init__(
            f"character {character_id} is already in a guild", character_id=character_id
        )
        self.character_id = character_id


class GuildFull(Conflict):
    code = "GUILD_FULL"

    def __init__(self, guild_id: int, size: int) -> None:
        super().__init__(f"guild {guild_id} is full ({size} members)", guild_id=guild_id, size=size)
        self.guild_id = guild_id
        self.size = size


class GuildRankTooLow(Conflict):
    code = "GUILD_RANK_TOO_LOW"

    def __init__(self, character_id: int, action: str, rank: int, target_rank: int | None) -> None:
        super().__init__(
            f"character {character_id} (rank {rank}) may not {action}"
            + ("" if target_rank is None else f" a member of rank {target_rank}"),
            character_id=character_id,
            action=action,
            rank=rank,
            target_rank=target_rank,
        )
        self.character_id = character_id
        self.action = action
        self.rank = rank
        self.target_rank = target_rank


class TooManyGuildInvites(Conflict):
    code = "TOO_MANY_GUILD_INVITES"

    def __init__(self, character_id: int, cap: int) -> None:
        super().__init__(
            f"character {character_id} has {cap} guild invitations waiting",
            character_id=character_id,
            cap=cap,
        )
        self.character_id = character_id
        self.cap = cap


class WrongChannelPassword(UsageError):
    code = "WRONG_CHANNEL_PASSWORD"

    def __init__(self, channel: str) -> None:
        super().__init__(f"wrong password for channel {channel}", channel=channel)
        self.channel = channel


class IllegalTransition(UsageError):
    code = "ILLEGAL_TRANSITION"

    def __init__(self, machine: str, state: str, target: str) -> None:
        super().__init__(
            f"{machine}: cannot go from {state} to {target}",
            machine=machine,
            state=state,
            target=target,
        )
        self.machine = machine
        self.state = state
        self.target = target


class TickOutOfOrder(UsageError):
    code = "TICK_OUT_OF_ORDER"

    def __init__(self, tick: int, last: int) -> None:
        super().__init__(f"tick {tick} does not follow tick {last}", tick=tick, last=last)
        self.tick = tick
        self.last = last


class InvalidInput(UsageError):
    code = "INVALID_INPUT"

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}", field=field, rule=rule)
        self.field = field
        self.rule = rule


class RateLimited(UsageError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: float) -> None:
        super().__init__(
            f"too many attempts; retry in {retry_after:.0f}s", retry_after=round(retry_after, 1)
        )
        self.retry_after = retry_after


# --- social: chat ---------------------------------------------------------


class TooFar(Conflict):
    """Two players too far apart (or in different places) for what they asked: a trade."""

    code = "TOO_FAR"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class NotInChannel(UsageError):
    code = "NOT_IN_CHANNEL"

    def __init__(self, channel: str, hint: str) -> None:
        super().__init__(f"you are not in {channel}: {hint}", channel=channel)
        self.channel = channel


class NotOnline(Conflict):
    """A whisper (or an invitation) to a character that is not in the world."""

    code = "OFFLINE"

    def __init__(self, name: str) -> None:
        super().__init__(f"{name} is not online", name=name)
        self.name = name


class Forbidden(UsageError):
    """An authenticated caller without the right: a player on the operations API."""

    code = "FORBIDDEN"

    def __init__(self, action: str) -> None:
        super().__init__(f"not allowed: {action}", action=action)
        self.action = action


class AuthError(UsageError):
    code = "AUTH_FAILED"


class BadCredentials(AuthError):
    code = "BAD_CREDENTIALS"

    def __init__(self) -> None:
        super().__init__("wrong username or password")


class TicketInvalid(AuthError):
    code = "AUTH_INVALID"

    def __init__(self, reason: str) -> None:
        super().__init__(f"ticket refused: {reason}", reason=reason)
        self.reason = reason


class TicketExpired(AuthError):
    code = "AUTH_EXPIRED"

    def __init__(self, expired_at: float) -> None:
        super().__init__("ticket expired", expired_at=expired_at)
        self.expired_at = expired_at


class TicketReplayed(AuthError):
    code = "AUTH_REPLAYED"

    def __init__(self) -> None:
        super().__init__("ticket already used")


# --- social: mail and trades ----------------------------------------------


class NotEnoughMoney(Conflict):
    code = "NOT_ENOUGH_MONEY"

    def __init__(self, character_id: int, amount: int) -> None:
        super().__init__(
            f"character {character_id} does not have {amount} money",
            character_id=character_id,
            amount=amount,
        )
        self.character_id = character_id
        self.amount = amount


class MoneyCapReached(Conflict):
    code = "MONEY_CAP_REACHED"

    def __init__(self, character_id: int, cap: int) -> None:
        super().__init__(
            f"character {character_id} would hold more than {cap} money",
            character_id=character_id,
            cap=cap,
        )
        self.character_id = character_id
        self.cap = cap


class MailboxFull(Conflict):
    code = "MAILBOX_FULL"

    def __init__(self, character_id: int, size: int, *, from_one_sender: bool = False) -> None:
        super().__init__(
            f"the recipient has {size} unread letters from you already"
            if from_one_sender
            else f"the mailbox of character {character_id} is full ({size} mails)",
            character_id=character_id,
            size=size,
        )
        self.character_id = character_id
        self.size = size


class MailNotEmpty(Conflict):
    code = "MAIL_NOT_EMPTY"

    def __init__(self, mail_id: int, items: int, money: int) -> None:
        super().__init__(
            f"mail {mail_id} still holds {items} items and {money} money",
            mail_id=mail_id,
            items=items,
            money=money,
        )
        self.mail_id = mail_id
        self.items = items
        self.money = money


class AlreadyTrading(Conflict):
    code = "ALREADY_TRADING"

    def __init__(self, character_id: int, trade_id: int | None = None) -> None:
        super().__init__(
            f"character {character_id} is already trading",
            character_id=character_id,
            trade_id=trade_id,
        )
        self.character_id = character_id
        self.trade_id = trade_id


class NotInWorld(Conflict):
    code = "NOT_IN_WORLD"

    def __init__(self, character_id: int) -> None:
        super().__init__(f"character {character_id} is not in the world", character_id=character_id)
        self.character_id = character_id


class StaleOffer(Conflict):
    code = "STALE_OFFER"

    def __init__(self, trade_id: int, version: int, current: int) -> None:
        super().__init__(
            f"trade {trade_id} is at version {current}, not {version}",
            trade_id=trade_id,
            version=version,
            current=current,
        )
        self.trade_id = trade_id
        self.version = version
        self.current = current


class TradeClosed(Conflict):
    code = "TRADE_CLOSED"

    def __init__(self, trade_id: int, state: str, reason: str = "") -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"trade {trade_id} is {state}{why}", trade_id=trade_id, state=state, reason=reason
        )
        self.trade_id = trade_id
        self.state = state
        self.reason = reason


# --- peer misbehaviour -----------------------------------------------------


class PeerError(RealmkitError):
    code = "BAD_PEER"


class BadMessage(PeerError):
    code = "BAD_MESSAGE"

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"bad message on {where}: {detail}", where=where, detail=detail)
        self.where = where
        self.detail = detail


class BadSnapshot(PeerError):
    code = "BAD_SNAPSHOT"

    def __init__(self, detail: str) -> None:
        super().__init__(f"cannot restore space snapshot: {detail}", detail=detail)
        self.detail = detail


class RemoteError(RealmkitError):
    """A request's server reported an error; ``remote_code`` is that error's code."""

    code = "REMOTE_ERROR"

    def __init__(self, subject: str, remote_code: str, remote_message: str) -> None:
        super().__init__(
            f"{subject}: {remote_code}: {remote_message}",
            subject=subject,
            remote_code=remote_code,
            remote_message=remote_message,
        )
        self.subject = subject
        self.remote_code = remote_code
        self.remote_message = remote_message


# --- dependencies down -----------------------------------------------------


class Unavailable(RealmkitError):
    code = "UNAVAILABLE"


class EngineUnreachable(Unavailable):
    code = "ENGINE_UNREACHABLE"

    def __init__(self, engine: str, url: str, detail: str) -> None:
        super().__init__(
            f"{engine} at {url} does not answer: {detail}", engine=engine, url=url, detail=detail
        )
        self.engine = engine
        self.url = url
        self.detail = detail


class StoreUnavailable(Unavailable):
    code = "STORE_UNAVAILABLE"
    log_level = logging.DEBUG  # the Database logs the outage

    def __init__(self, detail: str) -> None:
        super().__init__(f"PostgreSQL unavailable: {detail}", detail=detail)
        self.detail = detail


class BusUnavailable(Unavailable):
    code = "BUS_UNAVAILABLE"

    def __init__(self, detail: str, *, outage: bool = True) -> None:
        super().__init__(f"NATS unavailable: {detail}", detail=detail)
        self.detail = detail
        if outage:  # the NatsBus logs the outage; else a refusal of the server's
            self.log_level = logging.DEBUG


class BusTimeout(Unavailable):
    code = "BUS_TIMEOUT"

    def __init__(self, subject: str, timeout: float) -> None:
        super().__init__(
            f"no reply on {subject} within {timeout:g}s", subject=subject, timeout=timeout
        )
        self.subject = subject
        self.timeout = timeout


class NoResponders(Unavailable):
    code = "NO_RESPONDERS"

    def __init__(self, subject: str) -> None:
        super().__init__(f"nobody serves {subject}", subject=subject)
        self.subject = subject


class LaunchFailed(Unavailable):
    """The launcher could not start or stop a world node."""

    code = "LAUNCH_FAILED"

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"launcher: {what}: {detail}", what=what, detail=detail)


class BackupFailed(Unavailable):
    """A backup command (Barman: backup, verify, list, cron) did not complete."""

    code = "BACKUP_FAILED"

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"backup: {what}: {detail}", what=what, detail=detail)
        self.what = what
        self.detail = detail


# --- realmkit is wrong -----------------------------------------------------


class InternalError(RealmkitError):
    code = "INTERNAL"


class EngineStartFailed(InternalError):
    code = "ENGINE_START_FAILED"

    def __init__(self, engine: str, detail: str, log_path: str | None = None) -> None:
        where = f" (log: {log_path})" if log_path else ""
        super().__init__(
            f"{engine} did not start: {detail}{where}",
            engine=engine,
            detail=detail,
            log_path=log_path,
        )
        self.engine = engine
        self.detail = detail
        self.log_path = log_path


class MigrationError(InternalError):
    code = "MIGRATION_FAILED"

    def __init__(self, version: int, detail: str) -> None:
        super().__init__(f"migration {version} failed: {detail}", version=version, detail=detail)
        self.version = version
        self.detail = detail


class StoreError(InternalError):
    code = "STORE_ERROR"

    def __init__(self, detail: str, sqlstate: str | None = None) -> None:
        super().__init__(f"database error: {detail}", detail=detail, sqlstate=sqlstate)
        self.detail = detail
        self.sqlstate = sqlstate
