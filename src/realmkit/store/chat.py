"""Chat channels and mutes in PostgreSQL.

A realm's built-in channels (``realmkit.social.channel.BUILTIN``) are open to
all; any other name makes a custom channel at its first join, with the
joiner's password if one was given (stored as an argon2id hash, never in
plain), and the schema deletes it with its last member. A character is in at
most ``MAX_CHANNELS`` channels, counted under its advisory lock.

Hashing and verifying a password take a worker thread and about 20 ms, so they
run before the transaction, which then checks that the channel still has the
hash verified (else it was left and made again meanwhile: the join starts over).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import msgspec

from realmkit.auth.passwords import hash_password, verify_password
from realmkit.errors import (
    BadCredentials,
    Conflict,
    InvalidInput,
    Muted,
    NotFound,
    TooManyChannels,
    WrongChannelPassword,
)
from realmkit.social.channel import BUILTIN, check_channel, check_password
from realmkit.store.friends import advisory_locks
from realmkit.store.postgres import ConnectionLike, Database, translated

MAX_CHANNELS = 10
MAX_REASON = 255
# Joins that find their channel changed between the password check and the write.
_ATTEMPTS = 3


class ChannelRow(msgspec.Struct, frozen=True):
    realm_id: int
    channel: str
    builtin: bool
    # Whether joining takes a password.
    private: bool


class Joined(msgspec.Struct, frozen=True):
    channel: ChannelRow
    # This join made the channel (its first member).
    created: bool
    # The character was in it already (nothing changed).
    already: bool


class MuteRow(msgspec.Struct, frozen=True):
    character_id: int
    until: datetime
    reason: str
    # By the database's clock when read.
    seconds_left: float


async def _stored_hash(
    conn: ConnectionLike, realm_id: int, channel: str
) -> tuple[bool, str | None]:
    """(whether the channel exists, its password hash)."""
    record = await conn.fetchrow(
        "SELECT password_hash FROM social.channels WHERE realm_id = $1 AND name = $2",
        realm_id,
        channel,
    )
    return (record is not None, None if record is None else record["password_hash"])


async def _member(conn: ConnectionLike, character_id: int, realm_id: int, channel: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM social.channel_members WHERE character_id = $1 "
            "AND realm_id = $2 AND channel = $3)",
            character_id,
            realm_id,
            channel,
        )
    )


def _row(realm_id: int, channel: str, password_hash: str | None) -> ChannelRow:
    return ChannelRow(realm_id, channel, channel in BUILTIN, password_hash is not None)


class ChannelRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def join(
        self, character_id: int, realm_id: int, channel: str, password: str | None = None
    ) -> Joined:
        """Join a channel of the character's realm, making it (with ``password``) if
        new. ``InvalidInput`` (name, password, another realm), ``WrongChannelPassword``,
        ``TooManyChannels``, ``NotFound`` (character)."""
        name = check_channel(channel)
        password = check_password(name, password)
        for _ in range(_ATTEMPTS):
            async with self.db.connection() as conn:
                if await _member(conn, character_id, realm_id, name):
                    exists, stored = await _stored_hash(conn, realm_id, name)
                    return Joined(_row(realm_id, name, stored), created=False, already=True)
                exists, stored = await _stored_hash(conn, realm_id, name)
            if stored is not None:
                try:
                    await asyncio.to_thread(verify_password, stored, password or "")
                except BadCredentials as exc:
                    raise WrongChannelPassword(name) from exc
            expected = stored
            if not exists and password is not None:
                expected = await asyncio.to_thread(hash_password, password)
            joined = await self._join(character_id, realm_id, name, exists, expected)
            if joined is not None:
                return joined
        raise Conflict(f"channel {name} kept changing while joining", channel=name)

    async def _join(
        self, character_id: int, realm_id: int, name: str, exists: bool, expected: str | None
    ) -> Joined | None:
        """The write of ``join``; None if the channel's password is no longer ``expected``."""
        conflicts = {
            "channel_members_character_id_fkey": lambda: NotFound("character", character_id),
        }
        async with self.db.transaction() as conn:
            await advisory_locks(conn, "channels", [character_id])
            home = await conn.fetchval(
                "SELECT realm_id FROM characters.characters WHERE character_id = $1", character_id
            )
            if home is None:
                raise NotFound("character", character_id)
            if home != realm_id:
                raise InvalidInput("realm", "a channel of the character's own realm")
            created = False
            if not exists:
                with translated(conflicts):
                    created = bool(
                        await conn.fetchval(
                            "INSERT INTO social.channels (realm_id, name, password_hash) "
                            "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true",
                            realm_id,
                            name,
                            expected,
                        )
                    )
            # Locked as the schema's trigger locks it before deleting an empty channel.
            record = await conn.fetchrow(
                "SELECT password_hash FROM social.channels WHERE realm_id = $1 AND name = $2 "
                "FOR UPDATE",
                realm_id,
                name,
            )
            if record is None or record["password_hash"] != expected:
                return None
            if await _member(conn, character_id, realm_id, name):
                return Joined(_row(realm_id, name, expected), created=False, already=True)
            count = await conn.fetchval(
                "SELECT count(*) FROM social.channel_members WHERE character_id = $1",
                character_id,
            )
            if count >= MAX_CHANNELS:
                raise TooManyChannels(character_id, MAX_CHANNELS)
            with translated(conflicts):
                await conn.execute(
                    "INSERT INTO social.channel_members (character_id, realm_id, channel) "
                    "VALUES ($1, $2, $3)",
                    character_id,
                    realm_id,
                    name,
                )
            return Joined(_row(realm_id, name, expected), created=created, already=False)

    async def leave(self, character_id: int, realm_id: int, channel: str) -> bool:
        """Leave a channel; True when that closed it (a custom channel's last member).
        ``NotFound`` if the character is not in it."""
        name = check_channel(channel)
        async with self.db.transaction() as conn:
            await conn.execute(
                "SELECT 1 FROM social.channels WHERE realm_id = $1 AND name = $2 FOR UPDATE",
                realm_id,
                name,
            )
            left = await conn.fetchval(
                "DELETE FROM social.channel_members WHERE character_id = $1 AND realm_id = $2 "
                "AND channel = $3 RETURNING 1",
                character_id,
                realm_id,
                name,
            )
            if not left:
                raise NotFound("channel membership", name)
            exists, _ = await _stored_hash(conn, realm_id, name)
            return not exists

    async def channels_of(self, character_id: int) -> list[ChannelRow]:
        """The channels the character is in, in the order it joined them."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT m.realm_id, m.channel, c.password_hash FROM social.channel_members m "
                "JOIN social.channels c ON c.realm_id = m.realm_id AND c.name = m.channel "
                "WHERE m.character_id = $1 ORDER BY m.joined_at, m.channel",
                character_id,
            )
        return [_row(r["realm_id"], r["channel"], r["password_hash"]) for r in records]

    async def members_online(self, realm_id: int, channel: str) -> list[tuple[int, str]]:
        """The channel's online members with the gateway that holds each."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT m.character_id, a.gateway_id FROM social.channel_members m "
                "JOIN characters.player_assignments a ON a.character_id = m.character_id "
                "WHERE m.realm_id = $1 AND m.channel = $2 AND a.state <> 'offline' "
                "AND a.gateway_id IS NOT NULL ORDER BY m.character_id",
                realm_id,
                check_channel(channel),
            )
        return [(r["character_id"], r["gateway_id"]) for r in records]


_MUTE = (
    "SELECT character_id, until, reason, "
    "extract(epoch FROM until - now())::float8 AS seconds_left FROM social.mutes "
)


class MuteRepo:
    """Mutes an operator sets: one per character, setting again replaces, and a mute
    past its end (by the database's clock) is none."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def mute(self, character_id: int, until: datetime, reason: str) -> MuteRow:
        """Mute the character until ``until``; ``NotFound``, ``InvalidInput`` (reason)."""
        if len(reason) > MAX_REASON:
            raise InvalidInput("reason", f"at most {MAX_REASON} characters")
        async with self.db.connection() as conn:
            with translated(
                {"mutes_character_id_fkey": lambda: NotFound("character", character_id)}
            ):
                record = await conn.fetchrow(
                    "INSERT INTO social.mutes (character_id, until, reason) VALUES ($1, $2, $3) "
                    "ON CONFLICT (character_id) DO UPDATE SET until = EXCLUDED.until, "
                    "reason = EXCLUDED.reason, created_at = now() "
                    "RETURNING character_id, until, reason, "
                    "extract(epoch FROM until - now())::float8 AS seconds_left",
                    character_id,
                    until,
                    reason,
                )
        assert record is not None
        return MuteRow(**dict(record))

    async def mute_for(self, character_id: int, seconds: float, reason: str) -> MuteRow:
        """Mute the character for ``seconds`` from now by the database's clock."""
        async with self.db.connection() as conn:
            until: datetime = await conn.fetchval(
                "SELECT now() + make_interval(secs => $1)", seconds
            )
        return await self.mute(character_id, until, reason)

    async def unmute(self, character_id: int) -> bool:
        """Lift the mute; False if there was none in force."""
        async with self.db.connection() as conn:
            return bool(
                await conn.fetchval(
                    "DELETE FROM social.mutes WHERE character_id = $1 RETURNING until > now()",
                    character_id,
                )
            )

    async def mute_of(self, character_id: int) -> MuteRow | None:
        """The mute in force, or None (none, or over)."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                _MUTE + "WHERE character_id = $1 AND until > now()", character_id
            )
        return None if record is None else MuteRow(**dict(record))

    async def muted_until(self, character_id: int) -> datetime | None:
        """When the mute in force ends; None if the character is not muted."""
        mute = await self.mute_of(character_id)
        return None if mute is None else mute.until

    async def require_unmuted(self, character_id: int) -> None:
        """``Muted`` (with the time left and the reason) while a mute is in force."""
        mute = await self.mute_of(character_id)
        if mute is not None:
            raise Muted(character_id, mute.seconds_left, mute.reason)
