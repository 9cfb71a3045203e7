"""Friends, ignore lists, presence and `who` in PostgreSQL.

Friends may play on any realm of one pool (the schema refuses a friendship or
a request across pools). A friendship is one row, the smaller id first. What a
stranger can grow is bounded: a character has at most ``MAX_FRIENDS`` friends,
``MAX_REQUESTS`` requests waiting for it (and as many sent), and ignores at most
``MAX_IGNORES``. Every change counts under a transaction-scoped advisory lock
of each character it touches, taken in id order, so two requests racing for
the last place settle one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from realmkit.errors import (
    AlreadyExists,
    DifferentPool,
    FriendRequestsFull,
    FriendsFull,
    Ignored,
    IgnoreListFull,
    InvalidInput,
    NotFound,
)
from realmkit.store.postgres import ConnectionLike, Database, translated

MAX_FRIENDS = 100
MAX_REQUESTS = 50
MAX_IGNORES = 100
MAX_WHO = 50


class FriendRow(msgspec.Struct, frozen=True):
    character_id: int
    name: str
    realm_id: int
    realm: str
    level: int
    online: bool
    # The map of the instance the friend plays in; None while offline.
    map_id: int | None


class FriendRequestRow(msgspec.Struct, frozen=True):
    """A request waiting for an answer, from ``character_id``."""

    character_id: int
    name: str
    realm: str
    level: int
    created_at: datetime


class Requested(msgspec.Struct, frozen=True):
    """What a request did: ``friends`` when the other had asked too (now friends)."""

    from_id: int
    to_id: int
    friends: bool


class IgnoredRow(msgspec.Struct, frozen=True):
    character_id: int
    name: str
    realm: str


class WhoRow(msgspec.Struct, frozen=True):
    character_id: int
    name: str
    realm_id: int
    realm: str
    level: int
    map_id: int
    guild: str | None


class Resolved(msgspec.Struct, frozen=True):
    character_id: int
    realm_id: int
    name: str


async def advisory_locks(conn: ConnectionLike, what: str, ids: Sequence[int]) -> None:
    """Hold ``what``'s advisory lock of each character until the transaction ends,
    taken in id order so that two changes of the same pair never deadlock."""
    for character_id in sorted(set(ids)):
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{what}:{character_id}"
        )


_ONLINE = (
    "LEFT JOIN characters.player_assignments a ON a.character_id = c.character_id "
    "AND a.state <> 'offline' LEFT JOIN characters.instances i ON i.instance_id = a.instance_id "
)


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


async def _pools(conn: ConnectionLike, a: int, b: int) -> None:
    """``NotFound`` unless both characters exist; ``DifferentPool`` unless in one pool."""
    records = await conn.fetch(
        "SELECT c.character_id, r.pool_id FROM characters.characters c "
        "JOIN auth.realmlist r USING (realm_id) WHERE c.character_id = ANY($1::bigint[])",
        [a, b],
    )
    pools = {r["character_id"]: r["pool_id"] for r in records}
    for character_id in (a, b):
        if character_id not in pools:
            raise NotFound("character", character_id)
    if pools[a] != pools[b]:
        raise DifferentPool(a, b)


async def _count_friends(conn: ConnectionLike, character_id: int) -> int:
    count: int = await conn.fetchval(
        "SELECT count(*) FROM social.friendships WHERE low_id = $1 OR high_id = $1", character_id
    )
    return count


async def _befriend(conn: ConnectionLike, a: int, b: int) -> None:
    """Make a and b friends (both locked by the caller), within both caps."""
    for character_id in (a, b):
        if await _count_friends(conn, character_id) >= MAX_FRIENDS:
            raise FriendsFull(character_id, MAX_FRIENDS)
    with translated({"friendships_same_pool": lambda: DifferentPool(a, b)}):
        await conn.execute(
            "INSERT INTO social.friendships (low_id, high_id) VALUES ($1, $2)", *_pair(a, b)
        )


async def _are_friends(conn: ConnectionLike, a: int, b: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM social.friendships WHERE low_id = $1 AND high_id = $2)",
            *_pair(a, b),
        )
    )


async def _ignores(conn: ConnectionLike, character_id: int, other_id: int) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM social.ignores WHERE character_id = $1 "
            "AND ignored_id = $2)",
            character_id,
            other_id,
        )
    )


class FriendRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- friends ----------------------------------------------------------

    async def request(self, from_id: int, to_id: int) -> Requested:
        """Ask ``to_id`` to be friends. If ``to_id`` had asked ``from_id`` already,
        they are friends now (``Requested.friends``). ``InvalidInput`` (oneself),
        ``NotFound``, ``DifferentPool``, ``Ignored`` (``to_id`` ignores ``from_id``),
        ``AlreadyExists`` (friends, or asked already), ``FriendsFull``,
        ``FriendRequestsFull``."""
        if from_id == to_id:
            raise InvalidInput("friend", "not oneself")
        async with self.db.transaction() as conn:
            await advisory_locks(conn, "friends", [from_id, to_id])
            await _pools(conn, from_id, to_id)
            if await _ignores(conn, to_id, from_id):
                raise Ignored(from_id, to_id)
            if await _are_friends(conn, from_id, to_id):
                raise AlreadyExists("friendship", _pair(from_id, to_id))
            answered = await conn.fetchval(
                "DELETE FROM social.friend_requests WHERE from_id = $1 AND to_id = $2 RETURNING 1",
                to_id,
                from_id,
            )
            if answered:
                await _befriend(conn, from_id, to_id)
                return Requested(from_id, to_id, friends=True)
            if await _count_friends(conn, from_id) >= MAX_FRIENDS:
                raise FriendsFull(from_id, MAX_FRIENDS)
            waiting = await conn.fetchrow(
                "SELECT count(*) FILTER (WHERE to_id = $2) AS incoming, "
                "count(*) FILTER (WHERE from_id = $1) AS outgoing "
                "FROM social.friend_requests WHERE to_id = $2 OR from_id = $1",
                from_id,
                to_id,
            )
            assert waiting is not None
            if waiting["incoming"] >= MAX_REQUESTS:
                raise FriendRequestsFull(to_id, MAX_REQUESTS)
            if waiting["outgoing"] >= MAX_REQUESTS:
                raise FriendRequestsFull(from_id, MAX_REQUESTS)
            conflicts = {
                "friend_requests_pkey": lambda: AlreadyExists("friend request", (from_id, to_id)),
                "friend_requests_same_pool": lambda: DifferentPool(from_id, to_id),
            }
            with translated(conflicts):
                await conn.execute(
                    "INSERT INTO social.friend_requests (from_id, to_id) VALUES ($1, $2)",
                    from_id,
                    to_id,
                )
            return Requested(from_id, to_id, friends=False)

    async def answer(self, character_id: int, from_id: int, accept: bool) -> bool:
        """Accept or decline ``from_id``'s request to ``character_id``; True when they
        are friends now. ``NotFound`` without such a request, ``FriendsFull``."""
        async with self.db.transaction() as conn:
            await advisory_locks(conn, "friends", [character_id, from_id])
            asked = await conn.fetchval(
                "DELETE FROM social.friend_requests WHERE from_id = $1 AND to_id = $2 RETURNING 1",
                from_id,
                character_id,
            )
            if not asked:
                raise NotFound("friend request", from_id)
            if not accept:
                return False
            await _befriend(conn, character_id, from_id)
            return True

    async def remove(self, a: int, b: int) -> None:
        """End the friendship of a and b; ``NotFound`` if they are not friends."""
        async with self.db.connection() as conn:
            gone = await conn.fetchval(
                "DELETE FROM social.friendships WHERE low_id = $1 AND high_id = $2 RETURNING 1",
                *_pair(a, b),
            )
        if not gone:
            raise NotFound("friendship", _pair(a, b))

    async def friends_of(self, character_id: int) -> list[FriendRow]:
        """The character's friends, by name, with where they play if online."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT c.character_id, c.name, c.realm_id, r.name AS realm, c.level, "
                "a.character_id IS NOT NULL AS online, i.map_id "
                "FROM social.friendships f "
                "JOIN characters.characters c ON c.character_id = "
                "CASE WHEN f.low_id = $1 THEN f.high_id ELSE f.low_id END "
                "JOIN auth.realmlist r ON r.realm_id = c.realm_id " + _ONLINE + "WHERE $1 IN "
                "(f.low_id, f.high_id) ORDER BY lower(c.name), c.character_id",
                character_id,
            )
        return [FriendRow(**dict(r)) for r in records]

    async def requests_to(self, character_id: int) -> list[FriendRequestRow]:
        """Requests waiting for the character's answer, oldest first."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT c.character_id, c.name, r.name AS realm, c.level, q.created_at "
                "FROM social.friend_requests q "
                "JOIN characters.characters c ON c.character_id = q.from_id "
                "JOIN auth.realmlist r ON r.realm_id = c.realm_id WHERE q.to_id = $1 "
                "ORDER BY q.created_at, c.character_id",
                character_id,
            )
        return [FriendRequestRow(**dict(r)) for r in records]

    # -- ignores ----------------------------------------------------------

    async def ignore(self, character_id: int, ignored_id: int) -> None:
        """Ignore ``ignored_id`` (again: no change); a request it sent is dropped.
        ``InvalidInput`` (oneself), ``NotFound``, ``IgnoreListFull``."""
        if character_id == ignored_id:
            raise InvalidInput("ignore", "not oneself")
        async with self.db.transaction() as conn:
            # The friends' locks: a request racing this ignore is either dropped by it
            # or refused after it, never left behind.
            await advisory_locks(conn, "friends", [character_id, ignored_id])
            if await _ignores(conn, character_id, ignored_id):
                return
            count = await conn.fetchval(
                "SELECT count(*) FROM social.ignores WHERE character_id = $1", character_id
            )
            if count >= MAX_IGNORES:
                raise IgnoreListFull(character_id, MAX_IGNORES)
            conflicts = {
                "ignores_ignored_id_fkey": lambda: NotFound("character", ignored_id),
                "ignores_character_id_fkey": lambda: NotFound("character", character_id),
            }
            with translated(conflicts):
                await conn.execute(
                    "INSERT INTO social.ignores (character_id, ignored_id) VALUES ($1, $2)",
                    character_id,
                    ignored_id,
                )
            await conn.execute(
                "DELETE FROM social.friend_requests WHERE from_id = $1 AND to_id = $2",
                ignored_id,
                character_id,
            )

    async def unignore(self, character_id: int, ignored_id: int) -> None:
        """Hear from ``ignored_id`` again; ``NotFound`` if it was not ignored."""
        async with self.db.connection() as conn:
            gone = await conn.fetchval(
                "DELETE FROM social.ignores WHERE character_id = $1 AND ignored_id = $2 "
                "RETURNING 1",
                character_id,
                ignored_id,
            )
        if not gone:
            raise NotFound("ignored character", ignored_id)

    async def ignores_of(self, character_id: int) -> list[IgnoredRow]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT c.character_id, c.name, r.name AS realm FROM social.ignores g "
                "JOIN characters.characters c ON c.character_id = g.ignored_id "
                "JOIN auth.realmlist r ON r.realm_id = c.realm_id WHERE g.character_id = $1 "
                "ORDER BY lower(c.name), c.character_id",
                character_id,
            )
        return [IgnoredRow(**dict(r)) for r in records]

    async def ignores(self, character_id: int, other_id: int) -> bool:
        """Whether ``character_id`` ignores ``other_id`` (drop their whispers)."""
        async with self.db.connection() as conn:
            return await _ignores(conn, character_id, other_id)

    # -- presence and who -------------------------------------------------

    async def watchers(self, character_id: int) -> list[tuple[int, str]]:
        """The online friends and guild mates of a character, with the gateway that
        holds each: who to tell when it comes online, goes offline or levels."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT DISTINCT a.character_id, a.gateway_id FROM ("
                "SELECT high_id AS other FROM social.friendships WHERE low_id = $1 "
                "UNION SELECT low_id FROM social.friendships WHERE high_id = $1 "
                "UNION SELECT m.character_id FROM social.guild_members m "
                "JOIN social.guild_members me USING (guild_id) WHERE me.character_id = $1) o "
                "JOIN characters.player_assignments a ON a.character_id = o.other "
                "WHERE a.state <> 'offline' AND a.gateway_id IS NOT NULL AND o.other <> $1 "
                "ORDER BY a.character_id",
                character_id,
            )
        return [(r["character_id"], r["gateway_id"]) for r in records]

    async def who(
        self,
        realm_ids: Sequence[int],
        name_prefix: str = "",
        level_min: int = 1,
        level_max: int = 255,
        map_id: int | None = None,
        limit: int = MAX_WHO,
    ) -> list[WhoRow]:
        """Online characters of the realms whose name starts with ``name_prefix``
        (any case), of a level in [level_min, level_max], on ``map_id`` if given;
        by name, at most ``limit`` (never more than ``MAX_WHO``)."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT c.character_id, c.name, c.realm_id, r.name AS realm, c.level, i.map_id, "
                "g.name AS guild FROM characters.player_assignments a "
                "JOIN characters.characters c ON c.character_id = a.character_id "
                "JOIN auth.realmlist r ON r.realm_id = c.realm_id "
                "JOIN characters.instances i ON i.instance_id = a.instance_id "
                "LEFT JOIN social.guild_members gm ON gm.character_id = c.character_id "
                "LEFT JOIN social.guilds g ON g.guild_id = gm.guild_id "
                "WHERE a.state <> 'offline' AND c.realm_id = ANY($1::integer[]) "
                "AND starts_with(lower(c.name), lower($2)) AND c.level BETWEEN $3 AND $4 "
                "AND ($5::integer IS NULL OR i.map_id = $5) "
                "ORDER BY lower(c.name), c.character_id LIMIT $6",
                list(realm_ids),
                name_prefix,
                level_min,
                level_max,
                map_id,
                max(0, min(limit, MAX_WHO)),
            )
        return [WhoRow(**dict(r)) for r in records]

    async def resolve(self, realm_id: int, name: str) -> Resolved:
        """The character a player means by ``Name`` (on ``realm_id``) or ``Name-Realm``
        (a realm of the same pool, its name in any case). ``NotFound`` otherwise."""
        character, _, realm = name.strip().partition("-")
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT c.character_id, c.realm_id, c.name FROM auth.realmlist home "
                "JOIN auth.realmlist r ON r.pool_id = home.pool_id "
                "JOIN characters.characters c ON c.realm_id = r.realm_id "
                "WHERE home.realm_id = $1 AND lower(c.name) = lower($2) "
                "AND CASE WHEN $3 = '' THEN r.realm_id = $1 ELSE lower(r.name) = lower($3) END",
                realm_id,
                character,
                realm,
            )
        if record is None:
            raise NotFound("character", name)
        return Resolved(**dict(record))
