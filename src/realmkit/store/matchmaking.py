"""Matchmaking tickets, matches and ratings in PostgreSQL.

Every state change is one compare-and-set statement on the states it expects,
and both the states it expects and the one it writes are asked of the
lifecycle tables (``realmkit.lifecycle.ticket`` and ``.match``), passed as
parameters: a move the table does not have raises ``IllegalTransition`` in
Python before any SQL runs, and the schema's trigger refuses it besides. So
two matchmaker leaders - the old one not yet aware it lost the lock - can
never propose one ticket twice: the second proposal finds it no longer queued
and is dropped whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec

from realmkit.errors import AlreadyQueued, Conflict, NotFound
from realmkit.lifecycle import match as match_lifecycle
from realmkit.lifecycle import ticket as ticket_lifecycle
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.match import MatchEvent, MatchState
from realmkit.lifecycle.ticket import TicketEvent, TicketState
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
    state: TicketState
    match_id: int | None
    accepted: list[int]
    queued_at: datetime


class MatchRow(msgspec.Struct, frozen=True):
    match_id: int
    pool_id: int
    activity_id: str
    state: MatchState
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


# (states an update may find, state it writes) of a compare-and-set.
_ticket_move = ticket_lifecycle.LIFECYCLE.compare_and_set
_match_move = match_lifecycle.LIFECYCLE.compare_and_set


_LIVE_TICKETS = [s.value for s in ticket_lifecycle.LIVE]
_LIVE_MATCHES = [s.value for s in match_lifecycle.LIVE]


class QueueCount(msgspec.Struct, frozen=True):
    """The live tickets of one queue in one state, for operators."""

    pool_id: int
    pool: str
    activity_id: str
    state: str
    tickets: int
    players: int
    oldest_wait_s: float


class TicketRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def queues(self) -> list[QueueCount]:
        """Live tickets by pool, activity and state (the operations page)."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT t.pool_id, p.name AS pool, t.activity_id, t.state, "
                "count(*)::int AS tickets, sum(cardinality(t.members))::int AS players, "
                "extract(epoch FROM now() - min(t.queued_at))::float8 AS oldest_wait_s "
                "FROM matchmaking.tickets t JOIN cluster.realm_pools p USING (pool_id) "
                "WHERE t.state = ANY($1) GROUP BY t.pool_id, p.name, t.activity_id, t.state "
                "ORDER BY t.pool_id, t.activity_id, t.state",
                _LIVE_TICKETS,
            )
        return [row(QueueCount, r) for r in records]

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
                    "  AND state = ANY($8) AND members && $4) RETURNING *",
                    pool_id,
                    activity,
                    leader,
                    list(members),
                    list(levels),
                    list(roles),
                    rating,
                    _LIVE_TICKETS,
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
                "AND state = ANY($3) ORDER BY ticket_id DESC LIMIT 1",
                character_id,
                activity,
                _LIVE_TICKETS,
            )
        return None if record is None else row(TicketRow, record)

    async def leave(self, character_id: int, activity: str) -> TicketRow:
        """Cancel the character's ticket while it waits or is proposed; a ticket in a
        match stays (leaving the match is leaving its instance)."""
        froms, to = _ticket_move(TicketEvent.LEAVE)
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "UPDATE matchmaking.tickets SET state = $4, updated_at = now() "
                "WHERE activity_id = $2 AND $1 = ANY(members) "
                "AND state = ANY($3) RETURNING *",
                character_id,
                activity,
                froms,
                to,
            )
        if record is None:
            raise NotFound(f"{activity} ticket of character", character_id)
        return row(TicketRow, record)

    async def cancel_of(self, character_ids: Sequence[int]) -> list[TicketRow]:
        """Cancel every ticket with one of these characters that is not in a match
        yet (its party changed); the tickets cancelled."""
        froms, to = _ticket_move(TicketEvent.LEAVE)
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE matchmaking.tickets SET state = $3, updated_at = now() "
                "WHERE members && $1::bigint[] AND state = ANY($2) RETURNING *",
                list(character_ids),
                froms,
                to,
            )
        return [row(TicketRow, r) for r in records]

    async def cancel_offline(self) -> list[TicketRow]:
        """Cancel the tickets, queued or proposed, of which a member left the world
        (logged out; a player whose gateway died is not offline before its resume
        grace is over); the tickets cancelled."""
        froms, to = _ticket_move(TicketEvent.LOG_OUT)
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE matchmaking.tickets t SET state = $2, updated_at = now() "
                "WHERE t.state = ANY($1) AND EXISTS ("
                "  SELECT 1 FROM unnest(t.members) AS m(character_id) "
                "  LEFT JOIN characters.player_assignments a USING (character_id) "
                "  WHERE a.state IS NULL OR a.state = $3) "
                "RETURNING *",
                froms,
                to,
                AssignmentState.OFFLINE.value,
            )
        return [row(TicketRow, r) for r in records]

    async def of_states(self, states: Sequence[TicketState]) -> list[TicketRow]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM matchmaking.tickets WHERE state = ANY($1) "
                "ORDER BY queued_at, ticket_id",
                [s.value for s in states],
            )
        return [row(TicketRow, r) for r in records]

    async def of_match(self, match_id: int) -> list[TicketRow]:
        """The tickets of a match."""
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
                froms, to = _ticket_move(TicketEvent.ACCEPT)
                record = await conn.fetchrow(
                    "UPDATE matchmaking.tickets SET "
                    "accepted = CASE WHEN $2 = ANY(accepted) THEN accepted "
                    "  ELSE array_append(accepted, $2) END, "
                    "state = CASE WHEN cardinality(array(SELECT DISTINCT unnest("
                    "  array_append(accepted, $2)))) = cardinality(members) "
                    "  THEN $4 ELSE state END, updated_at = now() "
                    "WHERE match_id = $1 AND $2 = ANY(members) "
                    "AND state = ANY($3) RETURNING *",
                    match_id,
                    character_id,
                    froms,
                    to,
                )
            else:
                froms, to = _ticket_move(TicketEvent.DECLINE)
                record = await conn.fetchrow(
                    "UPDATE matchmaking.tickets SET state = $4, updated_at = now() "
                    "WHERE match_id = $1 AND $2 = ANY(members) "
                    "AND state = ANY($3) RETURNING *",
                    match_id,
                    character_id,
                    froms,
                    to,
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
        froms, to = _ticket_move(TicketEvent.PROPOSE)
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
                "UPDATE matchmaking.tickets SET state = $4, match_id = $1, "
                "accepted = '{}', updated_at = now() "
                "WHERE ticket_id = ANY($2) AND state = ANY($3) RETURNING ticket_id",
                record["match_id"],
                list(ticket_ids),
                froms,
                to,
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
                "SELECT * FROM matchmaking.matches WHERE state = ANY($1) ORDER BY match_id",
                _LIVE_MATCHES,
            )
        return [_match(r) for r in records]

    async def cancel(self, match_id: int) -> list[TicketRow]:
        """Call the proposal off: tickets still proposed or accepted are queued again
        at their old position (declined ones are already cancelled). The requeued."""
        match_froms, match_to = _match_move(MatchEvent.CALL_OFF)
        froms, to = _ticket_move(TicketEvent.REQUEUE)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE matchmaking.matches SET state = $3, updated_at = now() "
                "WHERE match_id = $1 AND state = ANY($2)",
                match_id,
                match_froms,
                match_to,
            )
            records = await conn.fetch(
                "UPDATE matchmaking.tickets SET state = $3, match_id = NULL, "
                "accepted = '{}', updated_at = now() "
                "WHERE match_id = $1 AND state = ANY($2) RETURNING *",
                match_id,
                froms,
                to,
            )
        return [row(TicketRow, r) for r in records]

    async def expire(self, match_id: int) -> tuple[list[TicketRow], list[TicketRow]]:
        """Time to accept ran out: tickets that did not accept are cancelled, the
        others queued again at their old position. (cancelled, requeued)."""
        froms, to = _ticket_move(TicketEvent.TIME_OUT)
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE matchmaking.tickets SET state = $3, updated_at = now() "
                "WHERE match_id = $1 AND state = ANY($2) RETURNING *",
                match_id,
                froms,
                to,
            )
        return [row(TicketRow, r) for r in records], await self.cancel(match_id)

    async def accept(self, match_id: int) -> bool:
        """proposed -> accepted once every ticket accepted; False otherwise."""
        froms, to = _match_move(MatchEvent.ACCEPT)
        async with self.db.connection() as conn:
            done = await conn.fetchval(
                "UPDATE matchmaking.matches m SET state = $3, updated_at = now() "
                "WHERE match_id = $1 AND state = ANY($2) AND NOT EXISTS ("
                "  SELECT 1 FROM matchmaking.tickets t WHERE t.match_id = m.match_id "
                "  AND t.state <> $4) RETURNING match_id",
                match_id,
                froms,
                to,
                TicketState.ACCEPTED.value,
            )
        return done is not None

    async def start(self, match_id: int, instance_id: int, seconds: float) -> MatchRow:
        """accepted -> running in ``instance_id``, ending at the latest in ``seconds``;
        ``Conflict`` (nothing written) unless the match is accepted and so is every
        one of its tickets, still in it. A ticket declined or left after the match was
        accepted, and not yet heard of by the leader, so fails the start: its tickets
        are locked until the start commits, and a decline after that finds its ticket
        in the match (where a ticket is left by leaving the instance)."""
        match_froms, match_to = _match_move(MatchEvent.START)
        froms, to = _ticket_move(TicketEvent.START)
        async with self.db.transaction() as conn:
            record = await conn.fetchrow(
                "UPDATE matchmaking.matches SET state = $5, instance_id = $2, "
                "started_at = now(), ends_at = now() + make_interval(secs => $3), "
                "updated_at = now() WHERE match_id = $1 AND state = ANY($4) RETURNING *",
                match_id,
                instance_id,
                seconds,
                match_froms,
                match_to,
            )
            if record is None:
                raise Conflict(f"match {match_id} is not accepted", match_id=match_id)
            tickets = await conn.fetch(
                "SELECT ticket_id, state, members FROM matchmaking.tickets "
                "WHERE match_id = $1 ORDER BY ticket_id FOR UPDATE",
                match_id,
            )
            gone = sorted(t["ticket_id"] for t in tickets if t["state"] not in froms)
            placed = sorted(c for t in tickets for c in t["members"])
            teams = sorted(c for team in msgspec.json.decode(record["teams"]) for c in team)
            if gone or placed != teams:
                # The transaction rolls back: the match stays accepted, to be called off.
                raise Conflict(
                    f"match {match_id}: not every ticket is still accepted in it {gone}",
                    match_id=match_id,
                    tickets=gone,
                )
            await conn.execute(
                "UPDATE matchmaking.tickets SET state = $3, updated_at = now() "
                "WHERE match_id = $1 AND state = ANY($2)",
                match_id,
                froms,
                to,
            )
        return _match(record)

    async def finish(
        self, match_id: int, winner: int | None, ratings: Sequence[RatingChange], activity: str
    ) -> bool:
        """running -> done with its result, tickets done and ratings changed, in one
        transaction; False if it was already finished (by another leader)."""
        match_froms, match_to = _match_move(MatchEvent.FINISH)
        froms, to = _ticket_move(TicketEvent.FINISH)
        async with self.db.transaction() as conn:
            done = await conn.fetchval(
                "UPDATE matchmaking.matches SET state = $4, winner = $2, updated_at = now() "
                "WHERE match_id = $1 AND state = ANY($3) RETURNING match_id",
                match_id,
                winner,
                match_froms,
                match_to,
            )
            if done is None:
                return False
            await conn.execute(
                "UPDATE matchmaking.tickets SET state = $3, updated_at = now() "
                "WHERE match_id = $1 AND state = ANY($2)",
                match_id,
                froms,
                to,
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
