"""Realm restarts in PostgreSQL (``cluster.realm_restarts``, migration 0016).

Every change of state is one compare-and-set statement on the states the
lifecycle table (``realmkit.lifecycle.restart``) says the event leaves, and
the schema's trigger refuses any other move besides. The time left is always
the database's (``due_at - now()``), so replicas on hosts with different
clocks count one restart down alike.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from realmkit.errors import Conflict, NotFound
from realmkit.lifecycle import restart as restart_lifecycle
from realmkit.lifecycle.restart import RestartEvent, RestartState
from realmkit.store.postgres import Database, translated
from realmkit.store.records import row

_OPEN = [s.value for s in restart_lifecycle.LIVE]
# A realm that restarted this many seconds or less before its daily time skips it.
DAILY_SATISFIED = 6 * 3600.0
_move = restart_lifecycle.LIFECYCLE.compare_and_set


class RealmRestart(msgspec.Struct, frozen=True):
    restart_id: int
    realm_id: int
    realm: str
    due_at: datetime
    # Seconds from the database's now to due_at (negative once due).
    remaining: float
    reason: str
    state: RestartState
    warned_seconds: int | None
    spaces: int
    players: int
    detail: str
    requested_at: datetime
    finished_at: datetime | None


_SELECT = (
    "SELECT r.*, l.name AS realm, "
    "extract(epoch FROM r.due_at - now())::float8 AS remaining "
    "FROM cluster.realm_restarts r JOIN auth.realmlist l USING (realm_id) "
)


class RestartRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def schedule(self, realm_id: int, seconds: float) -> RealmRestart:
        """Restart the realm in ``seconds`` (an operator asks): the pending restart's
        time moves there and its countdown starts again, or a new one is written.
        ``Conflict`` while one is running."""
        conflicts = {"realm_restarts_one_open": lambda: _running(realm_id)}
        async with self.db.transaction() as conn:
            with translated(conflicts):
                restart_id = await conn.fetchval(
                    "UPDATE cluster.realm_restarts SET reason = 'operator', "
                    "due_at = now() + make_interval(secs => $2), warned_seconds = NULL, "
                    "requested_at = now() "
                    "WHERE realm_id = $1 AND state = 'pending' RETURNING restart_id",
                    realm_id,
                    seconds,
                )
                if restart_id is None:
                    restart_id = await conn.fetchval(
                        "INSERT INTO cluster.realm_restarts (realm_id, due_at, reason) "
                        "VALUES ($1, now() + make_interval(secs => $2), 'operator') "
                        "RETURNING restart_id",
                        realm_id,
                        seconds,
                    )
        return await self.get(restart_id)

    async def daily(self, due_at: float) -> list[RealmRestart]:
        """The daily restart at ``due_at`` (seconds since the epoch) for every realm
        without an open one; asked once per realm and day, whoever leads (one
        cancelled is not asked again), and not at all for a realm that restarted, or
        is to, within ``DAILY_SATISFIED`` seconds before it (an operator's)."""
        async with self.db.connection() as conn:
            ids = await conn.fetch(
                "INSERT INTO cluster.realm_restarts (realm_id, due_at, reason) "
                "SELECT realm_id, to_timestamp($1), 'daily' FROM auth.realmlist l "
                "WHERE NOT EXISTS ("
                "  SELECT 1 FROM cluster.realm_restarts r WHERE r.realm_id = l.realm_id "
                "  AND (r.state = ANY($2) OR r.due_at = to_timestamp($1) "
                "       OR (r.state = 'done' AND r.due_at > to_timestamp($1 - $3)))) "
                "ON CONFLICT DO NOTHING RETURNING restart_id",
                due_at,
                _OPEN,
                DAILY_SATISFIED,
            )
        return [await self.get(r["restart_id"]) for r in ids]

    async def clock(self) -> float:
        """The database's time (seconds since the epoch): every restart counts in it."""
        async with self.db.connection() as conn:
            now: float = await conn.fetchval("SELECT extract(epoch FROM now())::float8")
        return now

    async def get(self, restart_id: int) -> RealmRestart:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(_SELECT + "WHERE r.restart_id = $1", restart_id)
        if record is None:
            raise NotFound("realm restart", restart_id)
        return row(RealmRestart, record)

    async def open(self) -> list[RealmRestart]:
        """Every pending or running restart, the soonest first."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                _SELECT + "WHERE r.state = ANY($1) ORDER BY r.due_at, r.restart_id", _OPEN
            )
        return [row(RealmRestart, r) for r in records]

    async def recent(self, limit: int = 20) -> list[RealmRestart]:
        """The open restarts and the latest finished ones, the latest asked first."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                _SELECT + "ORDER BY r.state = ANY($1) DESC, r.due_at DESC LIMIT $2",
                _OPEN,
                limit,
            )
        return [row(RealmRestart, r) for r in records]

    async def warned(self, restart_id: int, mark: int) -> bool:
        """Note that mark ``mark`` was told; False when it was already (another leader)
        or the restart is no longer pending."""
        async with self.db.connection() as conn:
            done = await conn.fetchval(
                "UPDATE cluster.realm_restarts SET warned_seconds = $2 "
                "WHERE restart_id = $1 AND state = 'pending' "
                "AND (warned_seconds IS NULL OR warned_seconds > $2) RETURNING true",
                restart_id,
                mark,
            )
        return bool(done)

    async def cancel(self, realm_id: int) -> RealmRestart:
        """Call off the realm's pending restart; ``NotFound`` when none is pending."""
        froms, to = _move(RestartEvent.CANCEL)
        async with self.db.connection() as conn:
            restart_id = await conn.fetchval(
                "UPDATE cluster.realm_restarts SET state = $3, finished_at = now() "
                "WHERE realm_id = $1 AND state = ANY($2) RETURNING restart_id",
                realm_id,
                froms,
                to,
            )
        if restart_id is None:
            raise NotFound("pending restart of realm", realm_id)
        return await self.get(restart_id)

    async def move(
        self,
        restart_id: int,
        event: RestartEvent,
        *,
        spaces: int = 0,
        players: int = 0,
        detail: str = "",
    ) -> RealmRestart | None:
        """Compare-and-set ``event``; None when the restart is not in a state it leaves
        (another leader moved it first)."""
        froms, to = _move(event)
        final = to != RestartState.RUNNING.value
        async with self.db.connection() as conn:
            moved = await conn.fetchval(
                "UPDATE cluster.realm_restarts SET state = $3, spaces = $4, players = $5, "
                "detail = $6, finished_at = CASE WHEN $7 THEN now() END "
                "WHERE restart_id = $1 AND state = ANY($2) RETURNING restart_id",
                restart_id,
                froms,
                to,
                spaces,
                players,
                detail[:500],
                final,
            )
        return None if moved is None else await self.get(moved)


def _running(realm_id: int) -> Conflict:
    return Conflict(f"realm {realm_id} is restarting now", realm_id=realm_id)
