"""Numbered plain-SQL migrations, applied in order, once, under an advisory lock.

Files are ``migrations/NNNN_name.sql``. Each runs in its own transaction with
the row that records it in ``public.schema_migrations``, so a failed migration
leaves nothing behind. The whole run holds ``Lock.MIGRATIONS``: several nodes
starting at once queue on the lock and find the work done. A file whose text
changed after it was applied is refused (its checksum differs), because the
database would no longer match what the file says.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from importlib import resources

import asyncpg
import msgspec

from realmkit.errors import MigrationError
from realmkit.store.locks import Lock
from realmkit.store.postgres import UNAVAILABLE, ConnectionLike, Database, translated

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


class Migration(msgspec.Struct, frozen=True):
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationStatus(msgspec.Struct, frozen=True):
    version: int
    name: str
    applied_at: datetime | None


def available() -> list[Migration]:
    """The migrations shipped with this realmkit, in version order."""
    found = []
    for entry in resources.files("realmkit.store.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(0, f"migration versions must be 1..N without gaps, got {versions}")
    return found


async def _applied(conn: ConnectionLike) -> dict[int, tuple[str, datetime]]:
    rows = await conn.fetch("SELECT version, checksum, applied_at FROM public.schema_migrations")
    return {r["version"]: (r["checksum"], r["applied_at"]) for r in rows}


async def migrate(db: Database) -> list[int]:
    """Apply every pending migration; return the versions applied by this call."""
    done: list[int] = []
    async with db.connection() as conn:
        with translated():
            await conn.execute("SELECT pg_advisory_lock($1)", Lock.MIGRATIONS.value)
        try:
            with translated():
                await conn.execute(_CREATE_TABLE)
                applied = await _applied(conn)
            for migration in available():
                if migration.version in applied:
                    if applied[migration.version][0] != migration.checksum:
                        raise MigrationError(
                            migration.version,
                            "file changed after it was applied (checksum differs)",
                        )
                    continue
                await _apply(conn, migration)
                done.append(migration.version)
        finally:
            with translated():
                await conn.execute("SELECT pg_advisory_unlock($1)", Lock.MIGRATIONS.value)
    return done


async def _apply(conn: ConnectionLike, migration: Migration) -> None:
    record = "INSERT INTO public.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
    with translated():
        try:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(record, migration.version, migration.name, migration.checksum)
        except asyncpg.PostgresError as exc:
            if isinstance(exc, UNAVAILABLE):
                raise  # translated() reports the lost connection
            raise MigrationError(migration.version, str(exc)) from exc


async def status(db: Database) -> list[MigrationStatus]:
    """Every known migration with the time it was applied (None: pending)."""
    async with db.connection() as conn:
        with translated():
            exists = await conn.fetchval("SELECT to_regclass('public.schema_migrations')")
            applied = await _applied(conn) if exists else {}
    return [
        MigrationStatus(m.version, m.name, applied[m.version][1] if m.version in applied else None)
        for m in available()
    ]
