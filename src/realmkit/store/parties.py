"""Parties in PostgreSQL: who plays with whom, and pending invitations.

Every change runs in one transaction holding the party's row lock
(``FOR UPDATE``), so two members accepting the last free place, or the
leader leaving while someone joins, settle one after the other. A character
is in one party at most (the primary key of ``party_members``); inviting
makes a party of one, which its leader gives up by joining another.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from realmkit.errors import AlreadyInParty, NotFound, NotPartyLeader, PartyFull
from realmkit.store.postgres import ConnectionLike, Database, translated

PARTY_SIZE = 5


class PartyMemberRow(msgspec.Struct, frozen=True):
    character_id: int
    name: str
    level: int
    realm: str  # the name of its realm: a party may span the realms of a pool


class PartyRow(msgspec.Struct, frozen=True):
    party_id: int
    leader_id: int
    # The leader first, then by the time they joined.
    members: list[PartyMemberRow]

    @property
    def member_ids(self) -> list[int]:
        return [m.character_id for m in self.members]


class Left(msgspec.Struct, frozen=True):
    """What leaving did: the party as it was, and as it is now (None: disbanded)."""

    before: PartyRow
    after: PartyRow | None


_MEMBERS = (
    "SELECT c.character_id, c.name, c.level, r.name AS realm, p.leader_id "
    "FROM matchmaking.party_members m JOIN matchmaking.parties p USING (party_id) "
    "JOIN characters.characters c USING (character_id) "
    "JOIN auth.realmlist r ON r.realm_id = c.realm_id WHERE m.party_id = $1 "
    "ORDER BY c.character_id <> p.leader_id, m.joined_at, c.character_id"
)


async def _party(conn: ConnectionLike, party_id: int) -> PartyRow | None:
    records = await conn.fetch(_MEMBERS, party_id)
    if not records:
        return None
    members = [
        PartyMemberRow(r["character_id"], r["name"], r["level"], r["realm"]) for r in records
    ]
    return PartyRow(party_id, records[0]["leader_id"], members)


async def _party_of(conn: ConnectionLike, character_id: int, *, lock: bool = False) -> int | None:
    """The id of the character's party (its row locked when ``lock``)."""
    party_id: int | None = await conn.fetchval(
        "SELECT party_id FROM matchmaking.party_members WHERE character_id = $1", character_id
    )
    if party_id is not None and lock:
        party_id = await conn.fetchval(
            "SELECT party_id FROM matchmaking.parties WHERE party_id = $1 FOR UPDATE", party_id
        )
    return party_id


async def _in_group(conn: ConnectionLike, character_id: int) -> bool:
    """In a party with somebody else (a party of one only waits for its invitees)."""
    return bool(
        await conn.fetchval(
            "SELECT count(*) > 1 FROM matchmaking.party_members WHERE party_id = "
            "(SELECT party_id FROM matchmaking.party_members WHERE character_id = $1)",
            character_id,
        )
    )


class PartyRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, character_id: int) -> PartyRow | None:
        """The character's party, or None."""
        async with self.db.connection() as conn:
            party_id = await _party_of(conn, character_id)
            return None if party_id is None else await _party(conn, party_id)

    async def invite(self, leader_id: int, invitee_id: int, seconds: float) -> PartyRow:
        """Invite ``invitee_id`` into the leader's party (made now if it has none),
        valid for ``seconds``. ``NotPartyLeader``, ``AlreadyInParty``, ``PartyFull``."""
        async with self.db.transaction() as conn:
            party_id = await _party_of(conn, leader_id, lock=True)
            if party_id is None:
                party_id = await conn.fetchval(
                    "INSERT INTO matchmaking.parties (leader_id) VALUES ($1) RETURNING party_id",
                    leader_id,
                )
                await conn.execute(
                    "INSERT INTO matchmaking.party_members (character_id, party_id) "
                    "VALUES ($1, $2)",
                    leader_id,
                    party_id,
                )
            party = await _party(conn, party_id)
            assert party is not None
            if party.leader_id != leader_id:
                raise NotPartyLeader(leader_id, party_id)
            if await _in_group(conn, invitee_id):
                raise AlreadyInParty(invitee_id)
            if len(party.members) >= PARTY_SIZE:
                raise PartyFull(party_id, PARTY_SIZE)
            with translated(
                {"party_invites_character_id_fkey": lambda: NotFound("character", invitee_id)}
            ):
                await conn.execute(
                    "INSERT INTO matchmaking.party_invites (party_id, character_id, expires_at) "
                    "VALUES ($1, $2, now() + make_interval(secs => $3)) "
                    "ON CONFLICT (party_id, character_id) DO UPDATE SET expires_at = "
                    "EXCLUDED.expires_at",
                    party_id,
                    invitee_id,
                    seconds,
                )
            return party

    async def accept(self, character_id: int, party_id: int) -> PartyRow:
        """Join the party that invited the character: ``NotFound`` without a live
        invitation, ``AlreadyInParty``, ``PartyFull``."""
        async with self.db.transaction() as conn:
            locked = await conn.fetchval(
                "SELECT party_id FROM matchmaking.parties WHERE party_id = $1 FOR UPDATE",
                party_id,
            )
            invited: datetime | None = await conn.fetchval(
                "DELETE FROM matchmaking.party_invites WHERE party_id = $1 "
                "AND character_id = $2 AND expires_at > now() RETURNING expires_at",
                party_id,
                character_id,
            )
            if locked is None or invited is None:
                raise NotFound("party invitation", party_id)
            if await _in_group(conn, character_id):
                raise AlreadyInParty(character_id)
            # A party of its own with nobody else in it is given up.
            await conn.execute("DELETE FROM matchmaking.parties WHERE leader_id = $1", character_id)
            party = await _party(conn, party_id)
            assert party is not None
            if len(party.members) >= PARTY_SIZE:
                raise PartyFull(party_id, PARTY_SIZE)
            await conn.execute(
                "INSERT INTO matchmaking.party_members (character_id, party_id) VALUES ($1, $2)",
                character_id,
                party_id,
            )
            joined = await _party(conn, party_id)
            assert joined is not None
            return joined

    async def decline(self, character_id: int, party_id: int) -> PartyRow:
        """Turn an invitation down; ``NotFound`` if there is none. The inviting party."""
        async with self.db.transaction() as conn:
            deleted = await conn.fetchval(
                "DELETE FROM matchmaking.party_invites WHERE party_id = $1 "
                "AND character_id = $2 RETURNING party_id",
                party_id,
                character_id,
            )
            party = None if deleted is None else await _party(conn, party_id)
            if party is None:
                raise NotFound("party invitation", party_id)
            return party

    async def leave(self, character_id: int) -> Left:
        """Leave one's party: a leader who leaves hands over to the member who
        joined first; a party of one left is disbanded. ``NotFound`` if in none."""
        async with self.db.transaction() as conn:
            party_id = await _party_of(conn, character_id, lock=True)
            before = None if party_id is None else await _party(conn, party_id)
            if party_id is None or before is None:
                raise NotFound("party of character", character_id)
            await conn.execute(
                "DELETE FROM matchmaking.party_members WHERE character_id = $1", character_id
            )
            rest = [m.character_id for m in before.members if m.character_id != character_id]
            if len(rest) < 2:
                await conn.execute("DELETE FROM matchmaking.parties WHERE party_id = $1", party_id)
                return Left(before, None)
            if before.leader_id == character_id:
                await conn.execute(
                    "UPDATE matchmaking.parties SET leader_id = $2 WHERE party_id = $1",
                    party_id,
                    rest[0],
                )
            return Left(before, await _party(conn, party_id))
