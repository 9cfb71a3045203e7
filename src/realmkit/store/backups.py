"""The backup node's summary in ``ops.backup_checks``: its latest base backup and
restore check, for ``realmkit status`` on any host."""

from __future__ import annotations

import msgspec

from realmkit.store.postgres import Database
from realmkit.store.records import BackupSummary


class WalStream(msgspec.Struct, frozen=True):
    """The WAL streamer as PostgreSQL sees it, through its replication slot."""

    active: bool  # a receiver is connected to the slot
    lag_bytes: float  # WAL written that the receiver has not flushed yet


class BackupSummaryRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def wal_stream(self, slot: str) -> WalStream | None:
        """The slot's streamer; None when there is no such slot (yet)."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT active, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)"
                "::float8 AS lag_bytes FROM pg_replication_slots WHERE slot_name = $1",
                slot,
            )
        return None if record is None else WalStream(record["active"], record["lag_bytes"])

    async def record_backup(
        self, node_id: str, backup_id: str, ended_at: float, verified: bool | None
    ) -> None:
        async with self.db.connection() as conn:
            await conn.execute(
                "INSERT INTO ops.backup_checks "
                "(node_id, backup_id, backup_ended_at, backup_verified) "
                "VALUES ($1, $2, to_timestamp($3), $4) "
                "ON CONFLICT (node_id) DO UPDATE SET backup_id = EXCLUDED.backup_id, "
                "backup_ended_at = EXCLUDED.backup_ended_at, "
                "backup_verified = EXCLUDED.backup_verified, updated_at = now()",
                node_id,
                backup_id,
                ended_at,
                verified,
            )

    async def record_check(
        self,
        node_id: str,
        *,
        ok: bool,
        backup_id: str,
        reason: str,
        seconds: float,
        checked_at: float,
        characters: int,
    ) -> None:
        async with self.db.connection() as conn:
            await conn.execute(
                "INSERT INTO ops.backup_checks (node_id, check_ok, check_backup_id, "
                "check_reason, check_seconds, checked_at, check_characters) "
                "VALUES ($1, $2, $3, $4, $5, to_timestamp($6), $7) "
                "ON CONFLICT (node_id) DO UPDATE SET check_ok = EXCLUDED.check_ok, "
                "check_backup_id = EXCLUDED.check_backup_id, "
                "check_reason = EXCLUDED.check_reason, check_seconds = EXCLUDED.check_seconds, "
                "checked_at = EXCLUDED.checked_at, check_characters = EXCLUDED.check_characters, "
                "updated_at = now()",
                node_id,
                ok,
                backup_id,
                reason,
                seconds,
                checked_at,
                characters,
            )

    async def recorded(self, node_id: str) -> tuple[str, float | None, bool | None, float | None]:
        """(backup id, unix seconds the last check ended, its outcome, its duration) as
        the node left them before a restart (empty/None when never)."""
        async with self.db.connection() as conn:
            found = await conn.fetchrow(
                "SELECT backup_id, extract(epoch FROM checked_at)::float8 AS checked_at, "
                "check_ok, check_seconds FROM ops.backup_checks WHERE node_id = $1",
                node_id,
            )
        if found is None:
            return "", None, None, None
        return found["backup_id"], found["checked_at"], found["check_ok"], found["check_seconds"]

    async def summaries(self) -> list[BackupSummary]:
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                "SELECT node_id, backup_id, "
                "extract(epoch FROM now() - backup_ended_at)::float8 AS backup_age_s, "
                "backup_verified, check_ok, check_backup_id, check_reason, check_seconds, "
                "extract(epoch FROM now() - checked_at)::float8 AS check_age_s, check_characters "
                "FROM ops.backup_checks ORDER BY node_id"
            )
        return [msgspec.convert(dict(r), BackupSummary) for r in rows]
