"""Guilds in PostgreSQL: members and ranks, invitations, the message of the day.

Every change runs in one transaction holding the guild's row lock (``FOR
UPDATE``), and asks the rank rules (``realmkit.social.guild``) before writing.
The schema keeps the rest: one guild per character (the primary key), one
leader per guild (a partial unique index), members of the guild's realm, and
a leader gone handed over to the highest ranked, longest serving member, the
guild disbanded with its last member (the hand-over trigger of migration
0018, which ``successor`` mirrors). A guild holds at most ``MAX_MEMBERS``; a
character has at most ``MAX_INVITES`` invitations waiting.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from realmkit.errors import (
    AlreadyExists,
    AlreadyInGuild,
    GuildFull,
    Ignored,
    InvalidInput,
    NotFound,
    NotInGuild,
    TooManyGuildInvites,
)
from realmkit.social.guild import (
    JOINING_RANK,
    Action,
    Rank,
    check_motd,
    check_name,
    new_rank,
    require,
)
from realmkit.store.friends import advisory_locks
from realmkit.store.postgres import ConnectionLike, Database, translated

MAX_MEMBERS = 500
MAX_INVITES = 10
INVITE_SECONDS = 300.0


class GuildMemberRow(msgspec.Struct, frozen=True):
    character_id: int
    name: str
    level: int
    rank: Rank
    online: bool
    joined_at: datetime


class GuildRow(msgspec.Struct, frozen=True):
    guild_id: int
    realm_id: int
    name: str
    motd: str
    created_at: datetime
    # The leader first, then by rank and the time they joined.
    members: list[GuildMemberRow]

    @property
    def leader_id(self) -> int:
        return self.members[0].character_id

    @property
    def member_ids(self) -> list[int]:
        return [m.character_id for m in self.members]

    def rank_of(self, character_id: int) -> Rank | None:
        return next((m.rank for m in self.members if m.character_id == character_id), None)


class GuildChange(msgspec.Struct, frozen=True):
    """What a leave, kick, promotion or demotion did to ``affected``: the guild as it
    was and as it is now (None: disbanded, its last member gone)."""

    before: GuildRow
    after: GuildRow | None
    affected: int


class GuildInvite(msgspec.Struct, frozen=True):
    guild_id: int
    guild: str
    character_id: int
    inviter_id: int
    expires_at: datetime


_GUILD = "SELECT guild_id, realm_id, name, motd, created_at FROM social.guilds WHERE guild_id = $1"
_MEMBERS = (
    "SELECT c.character_id, c.name, c.level, m.rank, "
    "EXISTS (SELECT 1 FROM characters.player_assignments a WHERE a.character_id = "
    "c.character_id AND a.state <> 'offline') AS online, m.joined_at "
    "FROM social.guild_members m JOIN characters.characters c USING (character_id) "
    "WHERE m.guild_id = $1 ORDER BY m.rank, m.joined_at, c.character_id"
)


async def _guild(conn: ConnectionLike, guild_id: int) -> GuildRow | None:
    record = await conn.fetchrow(_GUILD, guild_id)
    if record is None:
        return None
    members = [
        GuildMemberRow(
            r["character_id"], r["name"], r["level"], Rank(r["rank"]), r["online"], r["joined_at"]
        )
        for r in await conn.fetch(_MEMBERS, guild_id)
    ]
    return GuildRow(**dict(record), members=members)


async def _lock(conn: ConnectionLike, guild_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM social.guilds WHERE guild_id = $1 FOR UPDATE", guild_id
        )
    )


async def _locked_guild_of(conn: ConnectionLike, character_id: int) -> GuildRow:
    """The character's guild, its row locked; ``NotInGuild``."""
    for _ in range(3):  # it may have changed guilds between the read and the lock
        guild_id = await conn.fetchval(
            "SELECT guild_id FROM social.guild_members WHERE character_id = $1", character_id
        )
        if guild_id is None:
            break
        if await _lock(conn, guild_id):
            guild = await _guild(conn, guild_id)
            if guild is not None and guild.rank_of(character_id) is not None:
                return guild
    raise NotInGuild(character_id)


def _rank(guild: GuildRow, character_id: int) -> Rank:
    rank = guild.rank_of(character_id)
    if rank is None:
        raise NotFound("guild member", character_id)
    return rank


async def _in_a_guild(conn: ConnectionLike, character_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM social.guild_members WHERE character_id = $1)",
            character_id,
        )
    )


class GuildRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, leader_id: int, name: str) -> GuildRow:
        """A new guild on the leader's realm, led by it. ``InvalidInput`` (name),
        ``AlreadyExists`` (name taken on the realm, any case), ``AlreadyInGuild``,
        ``NotFound`` (character)."""
        check_name(name)
        conflicts = {
            "guilds_realm_name_key": lambda: AlreadyExists("guild", name),
            "guild_members_pkey": lambda: AlreadyInGuild(leader_id),
        }
        async with self.db.transaction() as conn:
            realm_id = await conn.fetchval(
                "SELECT realm_id FROM characters.characters WHERE character_id = $1", leader_id
            )
            if realm_id is None:
                raise NotFound("character", leader_id)
            if await _in_a_guild(conn, leader_id):
                raise AlreadyInGuild(leader_id)
            with translated(conflicts):
                guild_id = await conn.fetchval(
                    "INSERT INTO social.guilds (realm_id, name) VALUES ($1, $2) RETURNING guild_id",
                    realm_id,
                    name,
                )
                await conn.execute(
                    "INSERT INTO social.guild_members (character_id, guild_id, rank) "
                    "VALUES ($1, $2, $3)",
                    leader_id,
                    guild_id,
                    int(Rank.LEADER),
                )
            await conn.execute(
                "DELETE FROM social.guild_invites WHERE character_id = $1", leader_id
            )
            guild = await _guild(conn, guild_id)
            assert guild is not None
            return guild

    async def invite(
        self, actor_id: int, target_id: int, seconds: float = INVITE_SECONDS
    ) -> GuildInvite:
        """Invite ``target_id`` (of the guild's realm) into the actor's guild for
        ``seconds``. ``NotInGuild``, ``GuildRankTooLow``, ``NotFound``,
        ``InvalidInput`` (another realm), ``Ignored``, ``AlreadyInGuild``,
        ``GuildFull``, ``TooManyGuildInvites``."""
        async with self.db.transaction() as conn:
            guild = await _locked_guild_of(conn, actor_id)
            require(Action.INVITE, actor_id, _rank(guild, actor_id))
            realm_id = await conn.fetchval(
                "SELECT realm_id FROM characters.characters WHERE character_id = $1", target_id
            )
            if realm_id is None:
                raise NotFound("character", target_id)
            if realm_id != guild.realm_id:
                raise InvalidInput("target", "a character of the guild's realm")
            ignored = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM social.ignores WHERE character_id = $1 "
                "AND ignored_id = $2)",
                target_id,
                actor_id,
            )
            if ignored:
                raise Ignored(actor_id, target_id)
            if await _in_a_guild(conn, target_id):
                raise AlreadyInGuild(target_id)
            if len(guild.members) >= MAX_MEMBERS:
                raise GuildFull(guild.guild_id, MAX_MEMBERS)
            await advisory_locks(conn, "guild-invites", [target_id])
            waiting = await conn.fetchval(
                "SELECT count(*) FILTER (WHERE expires_at > now() AND guild_id <> $2) FROM "
                "social.guild_invites WHERE character_id = $1",
                target_id,
                guild.guild_id,
            )
            if waiting >= MAX_INVITES:
                raise TooManyGuildInvites(target_id, MAX_INVITES)
            await conn.execute(
                "DELETE FROM social.guild_invites WHERE character_id = $1 AND expires_at <= now()",
                target_id,
            )
            expires_at: datetime = await conn.fetchval(
                "INSERT INTO social.guild_invites (guild_id, character_id, inviter_id, expires_at) "
                "VALUES ($1, $2, $3, now() + make_interval(secs => $4)) "
                "ON CONFLICT (guild_id, character_id) DO UPDATE SET inviter_id = "
                "EXCLUDED.inviter_id, expires_at = EXCLUDED.expires_at RETURNING expires_at",
                guild.guild_id,
                target_id,
                actor_id,
                seconds,
            )
            return GuildInvite(guild.guild_id, guild.name, target_id, actor_id, expires_at)

    async def answer(self, character_id: int, guild_id: int, accept: bool) -> GuildRow:
        """Join (``accept``) or turn down the guild's invitation; the guild after.
        ``NotFound`` without a live invitation, ``AlreadyInGuild``, ``GuildFull``."""
        async with self.db.transaction() as conn:
            locked = await _lock(conn, guild_id)
            live = await conn.fetchval(
                "DELETE FROM social.guild_invites WHERE guild_id = $1 AND character_id = $2 "
                "RETURNING expires_at > now()",
                guild_id,
                character_id,
            )
            if not locked or live is None or (accept and not live):
                raise NotFound("guild invitation", guild_id)
            if accept:
                guild = await _guild(conn, guild_id)
                assert guild is not None
                if await _in_a_guild(conn, character_id):
                    raise AlreadyInGuild(character_id)
                if len(guild.members) >= MAX_MEMBERS:
                    raise GuildFull(guild_id, MAX_MEMBERS)
                with translated({"guild_members_pkey": lambda: AlreadyInGuild(character_id)}):
                    await conn.execute(
                        "INSERT INTO social.guild_members (character_id, guild_id, rank) "
                        "VALUES ($1, $2, $3)",
                        character_id,
                        guild_id,
                        int(JOINING_RANK),
                    )
                await conn.execute(
                    "DELETE FROM social.guild_invites WHERE character_id = $1", character_id
                )
            after = await _guild(conn, guild_id)
            assert after is not None
            return after

    async def leave(self, character_id: int) -> GuildChange:
        """Leave one's guild: a leader hands over to the highest ranked, longest
        serving member; the last member disbands it. ``NotInGuild``."""
        async with self.db.transaction() as conn:
            before = await _locked_guild_of(conn, character_id)
            await conn.execute(
                "DELETE FROM social.guild_members WHERE character_id = $1", character_id
            )
            return GuildChange(before, await _guild(conn, before.guild_id), character_id)

    async def kick(self, actor_id: int, target_id: int) -> GuildChange:
        """Remove a member of lower rank. ``NotInGuild``, ``NotFound`` (not a member
        of the actor's guild), ``GuildRankTooLow``."""
        async with self.db.transaction() as conn:
            before = await _locked_guild_of(conn, actor_id)
            require(Action.KICK, actor_id, _rank(before, actor_id), _rank(before, target_id))
            await conn.execute(
                "DELETE FROM social.guild_members WHERE character_id = $1", target_id
            )
            return GuildChange(before, await _guild(conn, before.guild_id), target_id)

    async def promote(self, actor_id: int, target_id: int) -> GuildChange:
        """Raise a member one rank, to below the actor's. ``NotInGuild``,
        ``NotFound``, ``GuildRankTooLow``."""
        return await self._rerank(Action.PROMOTE, actor_id, target_id)

    async def demote(self, actor_id: int, target_id: int) -> GuildChange:
        """Lower a member of lower rank one rank (not below initiate)."""
        return await self._rerank(Action.DEMOTE, actor_id, target_id)

    async def _rerank(self, action: Action, actor_id: int, target_id: int) -> GuildChange:
        async with self.db.transaction() as conn:
            before = await _locked_guild_of(conn, actor_id)
            rank = new_rank(action, actor_id, _rank(before, actor_id), _rank(before, target_id))
            await conn.execute(
                "UPDATE social.guild_members SET rank = $2 WHERE character_id = $1",
                target_id,
                int(rank),
            )
            after = await _guild(conn, before.guild_id)
            return GuildChange(before, after, target_id)

    async def disband(self, actor_id: int) -> GuildRow:
        """End the actor's guild (its leader only); the guild as it was, whose
        members to tell. ``NotInGuild``, ``GuildRankTooLow``."""
        async with self.db.transaction() as conn:
            guild = await _locked_guild_of(conn, actor_id)
            require(Action.DISBAND, actor_id, _rank(guild, actor_id))
            await conn.execute("DELETE FROM social.guilds WHERE guild_id = $1", guild.guild_id)
            return guild

    async def set_motd(self, actor_id: int, text: str) -> GuildRow:
        """Set the guild's message of the day (at most 255 characters); the guild after.
        ``NotInGuild``, ``GuildRankTooLow``, ``InvalidInput``."""
        check_motd(text)
        async with self.db.transaction() as conn:
            guild = await _locked_guild_of(conn, actor_id)
            require(Action.SET_MOTD, actor_id, _rank(guild, actor_id))
            await conn.execute(
                "UPDATE social.guilds SET motd = $2 WHERE guild_id = $1", guild.guild_id, text
            )
            after = await _guild(conn, guild.guild_id)
            assert after is not None
            return after

    async def guild_of(self, character_id: int) -> GuildRow | None:
        """The character's guild with its roster, or None."""
        async with self.db.connection() as conn:
            guild_id = await conn.fetchval(
                "SELECT guild_id FROM social.guild_members WHERE character_id = $1", character_id
            )
            return None if guild_id is None else await _guild(conn, guild_id)

    async def get(self, guild_id: int) -> GuildRow:
        """The guild with its roster; ``NotFound``."""
        async with self.db.connection() as conn:
            guild = await _guild(conn, guild_id)
        if guild is None:
            raise NotFound("guild", guild_id)
        return guild

    async def member_ids(self, guild_id: int) -> list[int]:
        """The guild's members (empty: no such guild), by rank then seniority."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT character_id FROM social.guild_members WHERE guild_id = $1 "
                "ORDER BY rank, joined_at, character_id",
                guild_id,
            )
        return [r["character_id"] for r in records]

    async def invites_of(self, character_id: int) -> list[GuildInvite]:
        """The character's live invitations, newest last."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT i.guild_id, g.name AS guild, i.character_id, i.inviter_id, i.expires_at "
                "FROM social.guild_invites i JOIN social.guilds g USING (guild_id) "
                "WHERE i.character_id = $1 AND i.expires_at > now() ORDER BY i.expires_at",
                character_id,
            )
        return [GuildInvite(**dict(r)) for r in records]
