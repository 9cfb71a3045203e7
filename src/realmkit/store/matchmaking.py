"""Matchmaking tickets, matches and ratings in PostgreSQL.

Every state change is one compare-and-set statement on the state it expects
(the schema's trigger refuses illegal moves besides), so two matchmaker
leaders - the old one not yet aware it lost the lock - can never propose one
ticket twice: the second proposal finds it no longer queued and is dropped
whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from realmkit.errors import AlreadyQueued, Conflict, NotFound
from realmkit.matchmaking.ratings import RatingChange
from realmkit.store.postgres import Database, translated
from realmkit.store.records import row


class TicketRow(msgspec.Struct, frozen=True):
    ticket_id: int
    pool_id: int
    activity_id: str
    character_id: int
    members: list[int]
    levels: list[int]
    roles: list[str]
    rating: int
    state: str
    match_id: int | None
    accepted: list[int]
    queued_at: datetime


class MatchRow(msgspec.Struct, frozen=True):
    match_id: int
    pool_id: int
    activity_id: str
    state: str
    teams: list[list[int]]
    roles: dict[str, str]
    instance_id: int | None
    accept_deadline: datetime
    started_at: datetime | None
    ends_at: datetime | None
    winner: int | None


def _match(record: object) -> MatchRow:
    fields = dict(record)  # type: ignore[call-overload]
    # asyncpg hands jsonb over as its text.
    fields["teams"] = msgspec.json.decode(fields["teams"])
    fields["roles"] = msgspec.json.decode(fields["roles"])
    return row(MatchRow, fields)


class TicketRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def join(
        self,
        pool_id: int,
        activity: str,
        members: Sequence[int],
        levels: Sequence[int],
        roles: Sequence[str],
        rating: int,
    ) -> TicketRow:
        """A new queued ticket for ``members`` (the leader first); ``AlreadyQueued``
        if the leader has a live ticket for ``activity``."""
        leader = members[0]
        conflicts = {
            "tickets_one_live_per_activity": lambda: AlreadyQueued(leader, activity),
        }
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO matchmaking.tickets "
                    "(pool_id, activity_id, character_id, members, levels, roles, rating) "
                    "SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS ("
                    "  SELECT 1 FROM matchmaking.tickets WHERE activity_id = $2 "
                    "  AND state IN ('queued', 'proposed', 'accepted', 'in_match') "
                    "  AND members && $4) RETURNING *",
                    pool_id,
                    activity,
                    leader,
                    list(members),
                    list(levels),
                    list(roles),
                    rating,
                )
        if record is None:
            found = await self.live_of(leader, activity)
            raise AlreadyQueued(leader, activity, found.ticket_id if found else None)
        return row(TicketRow, record)

    async def get(self, ticket_id: int) -> TicketRow:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM matchmaking.tickets WHERE ticket_id = $1", ticket_id
            )
        if record is None:
            raise NotFound("ticket", ticket_id)
        return row(TicketRow, record)

    async def live_of(self, character_id: int, activity: str) -> TicketRow | None:
        """The character's live ticket for ``activity`` (its own or its party's)."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM matchmaking.tickets WHERE activity_id = $2 AND $1 = ANY(members) "
                "AND state IN ('queued', 'proposed', 'accepted', 'in_match') "
                "ORDER BY ticket_id DESC LIMIT 1",
                character_id,
                activity,
            )
        return None if record is None else row(TicketRow, record)

    async def leave(self, character_id: int, activity: str) -> TicketRow:
        """Cancel the character's ticket while it waits or is proposed; a ticket in a
        match stays (leaving the match is leaving its instance)."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "UPDATE matchmaking.tickets SET state = 'cancelled', updated_at = now() "
                "WHERE activity_id = $2 AND $1 = ANY(members) "
                "AND state IN ('queued', 'proposed', 'accepted') RETURNING *",
                character_id,
                activity,
            )
        if record is None:
            raise NotFound(f"{activity} ticket of character", character_id)
        return row(TicketRow, record)

    async def cancel_of(self, character_ids: Sequence[int]) -> list[TicketRow]:
        """Cancel every ticket with one of these characters that is not in a match
        yet (its party changed); the tickets cancelled."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE matchmaking.tickets SET state = 'cancelled', updated_at = now() "
                "WHERE members && $1::bigint[] AND state IN ('queued', 'proposed', 'accepted') "
                "RETURNING *",
                list(character_ids),
            )
        return [row(TicketRow, r) for r in records]

    async def cancel_offline(self) -> list[TicketRow]:
        """Cancel the tickets, queued or proposed, of which a member left the world
        (logged out; a player whose gateway died is not offline before its resume
        grace is over); the tickets cancelled."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE matchmaking.tickets t SET state = 'cancelled', updated_at = now() "
                "WHERE t.state IN ('queued', 'proposed') AND EXISTS ("
                "  SELECT 1 FROM unnest(t.members) AS m(character_id) "
                "  LEFT JOIN characters.player_assignments a USING (character_id) "
                "  WHERE a.state IS NULL OR a.state = 'offline') "
                "RETURNING *"
            )
        return [row(TicketRow, r) for r in records]

    async def of_states(self, states: Sequence[str]) -> list[TicketRow]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM matchmaking.tickets WHERE state = ANY($1) "
                "ORDER BY queued_at, ticket_id",
                list(states),
            )
        return [row(TicketRow, r) for r in records]

    async def of_match(self, match_id: int) -> list[TicketRow]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM matchmaking.tickets WHERE match_id = $1 ORDER BY ticket_id",
                match_id,
            )
        return [row(TicketRow, r) for r in records]

    async def answer(self, match_id: int, character_id: int, accept: bool) -> TicketRow:
        """Record a member's answer to a proposal. A ticket whose members all accepted
        becomes ``accepted``; a decline cancels the member's ticket."""
        async with self.db.connection() as conn:
            if accept:
                record = await conn.fetchrow(
                    "UPDATE matchmaking.tickets SET "
                    "accepted = CASE WHEN $2 = ANY(accepted) THEN accepted "
                    "  ELSE array_append(accepted, $2) END, "
                    "state = CASE WHEN cardinality(array(SELECT DISTINCT unnest("
                    "  array_append(accepted, $2)))) = cardinality(members) "
                    "  THEN 'accepted' ELSE state END, updated_at = now() "
                    "WHERE match_id = $1 AND $2 = ANY(members) "
                    "AND state IN ('proposed', 'accepted') RETURNING *",
                    match_id,
                    character_id,
                )
            else:
                record = await conn.fetchrow(
                    "UPDATE matchmaking.tickets SET state = 'cancelled', updated_at = now() "
                    "WHERE match_id = $1 AND $2 = ANY(members) "
                    "AND state IN ('proposed', 'accepted') RETURNING *",
                    match_id,
                    character_id,
                )
        if record is None:
            raise NotFound("proposal for character", (match_id, character_id))
        return row(TicketRow, record)


class MatchRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def propose(
        self,
        pool_id: int,
        activity: str,
        teams: list[list[int]],
        roles: dict[str, str],
        ticket_ids: Sequence[int],
        accept_within: float,
    ) -> MatchRow:
        """Write the match and move its tickets queued -> proposed, all or nothing:
        ``Conflict`` (nothing written) if any ticket is no longer queued."""
        async with self.db.transaction() as conn:
            record = await conn.fetchrow(
                "INSERT INTO matchmaking.matches "
                "(pool_id, activity_id, teams, roles, accept_deadline) "
                "VALUES ($1, $2, $3::jsonb, $4::jsonb, now() + make_interval(secs => $5)) "
                "RETURNING *",
                pool_id,
                activity,
                msgspec.json.encode(teams).decode(),
                msgspec.json.encode(roles).decode(),
                accept_within,
            )
            assert record is not None
            moved = await conn.fetch(
                "UPDATE matchmaking.tickets SET state = 'proposed', match_id = $1, "
                "accepted = '{}', updated_at = now() "
                "WHERE ticket_id = ANY($2) AND state = 'queued' RETURNING ticket_id",
                record["match_id"],
                list(ticket_ids),
            )
            if len(moved) != len(ticket_ids):
                gone = set(ticket_ids) - {r["ticket_id"] for r in moved}
                raise Conflict(f"tickets {sorted(gone)} are no longer queued", tickets=sorted(gone))
        return _match(record)

    async def get(self, match_id: int) -> MatchRow:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM matchmaking.matches WHERE match_id = $1", match_id
            )
        if record is None:
            raise NotFound("match", match_id)
        return _match(record)

    async def live(self) -> list[MatchRow]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM matchmaking.matches "
                "WHERE state IN ('proposed', 'accepted', 'running') ORDER BY match_id"
            )
        return [_match(r) for r in records]

    async def cancel(self, match_id: int) -> list[TicketRow]:
        """Call the proposal off: tickets still proposed or accepted are queued again
        at their old position (declined ones are already cancelled). The requeued."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE matchmaking.matches SET state = 'cancelled', updated_at = now() "
                "WHERE match_id = $1 AND state IN ('proposed', 'accepted')",
                match_id,
            )
            records = await conn.fetch(
                "UPDATE matchmaking.tickets SET state = 'queued', match_id = NULL, "
                "accepted = '{}', updated_at = now() "
                "WHERE match_id = $1 AND state IN ('proposed', 'accepted') RETURNING *",
                match_id,
            )
        return [row(TicketRow, r) for r in records]

    async def expire(self, match_id: int) -> tuple[list[TicketRow], list[TicketRow]]:
        """Time to accept ran out: tickets that did not accept are cancelled, the
        others queued again at their old position. (cancelled, requeued)."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE matchmaking.tickets SET state = 'cancelled', updated_at = now() "
                "WHERE match_id = $1 AND state = 'proposed' RETURNING *",
                match_id,
            )
        return [row(TicketRow, r) for r in records], await self.cancel(match_id)

    async def accept(self, match_id: int) -> bool:
        """proposed -> accepted once every ticket accepted; False otherwise."""
        async with self.db.connection() as conn:
            done = await conn.fetchval(
                "UPDATE matchmaking.matches m SET state = 'accepted', updated_at = now() "
                "WHERE match_id = $1 AND state = 'proposed' AND NOT EXISTS ("
                "  SELECT 1 FROM matchmaking.tickets t WHERE t.match_id = m.match_id "
                "  AND t.state <> 'accepted') RETURNING match_id",
                match_id,
            )
        return done is not None

    async def start(self, match_id: int, instance_id: int, seconds: float) -> MatchRow:
        """accepted -> running in ``instance_id``, ending at the latest in ``seconds``."""
        async with self.db.transaction() as conn:
            record = await conn.fetchrow(
                "UPDATE matchmaking.matches SET state = 'running', instance_id = $2, "
                "started_at = now(), ends_at = now() + make_interval(secs => $3), "
                "updated_at = now() WHERE match_id = $1 AND state = 'accepted' RETURNING *",
                match_id,
                instance_id,
                seconds,
            )
            if record is None:
                raise Conflict(f"match {match_id} is not accepted", match_id=match_id)
            await conn.execute(
                "UPDATE matchmaking.tickets SET state = 'in_match', updated_at = now() "
                "WHERE match_id = $1 AND state = 'accepted'",
                match_id,
            )
        return _match(record)

    async def finish(
        self, match_id: int, winner: int | None, ratings: Sequence[RatingChange], activity: str
    ) -> bool:
        """running -> done with its result, tickets done and ratings changed, in one
        transaction; False if it was already finished (by another leader)."""
        async with self.db.transaction() as conn:
            done = await conn.fetchval(
                "UPDATE matchmaking.matches SET state = 'done', winner = $2, updated_at = now() "
                "WHERE match_id = $1 AND state = 'running' RETURNING match_id",
                match_id,
                winner,
            )
            if done is None:
                return False
            await conn.execute(
                "UPDATE matchmaking.tickets SET state = 'done', updated_at = now() "
                "WHERE match_id = $1 AND state = 'in_match'",
                match_id,
            )
            if ratings:
                await conn.execute(
                    "INSERT INTO matchmaking.ratings AS r "
                    "(character_id, activity_id, rating, wins, losses) "
                    "SELECT c, $4, rt, w::int, (NOT w)::int "
                    "FROM unnest($1::bigint[], $2::int[], $3::bool[]) AS u(c, rt, w) "
                    "ON CONFLICT (character_id, activity_id) DO UPDATE SET "
                    "rating = EXCLUDED.rating, wins = r.wins + EXCLUDED.wins, "
                    "losses = r.losses + EXCLUDED.losses, updated_at = now()",
                    [c.character_id for c in ratings],
                    [c.rating for c in ratings],
                    [c.won for c in ratings],
                    activity,
                )
        return True


class RatingRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, character_ids: Sequence[int], activity: str) -> dict[int, int]:
        """Current ratings (1500 for a character not rated yet)."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT character_id, rating FROM matchmaking.ratings "
                "WHERE activity_id = $2 AND character_id = ANY($1)",
                list(character_ids),
                activity,
            )
        found = {r["character_id"]: r["rating"] for r in records}
        return {c: found.get(c, 1500) for c in character_ids}
