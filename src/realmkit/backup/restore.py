"""Restore the embedded PostgreSQL to a moment: the seeds' stop-and-restore procedure.

It never runs half-way on a live database: it refuses while the server runs
(``realmkit down`` first: the gateways tell their players and every node saves
as it stops). The data folder found is moved aside, never deleted
(``data.replaced-<time>``); Barman copies the newest base backup that ended
before the moment and the WAL after it, PostgreSQL replays the WAL up to the
moment and is promoted (a new timeline, writable), and is stopped again:
``realmkit up`` resumes the cluster from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec

from realmkit.backup.barman import Barman
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.errors import BackupFailed, Conflict, EngineStartFailed, NotFound, RealmkitError

PROMOTE_TIMEOUT = 600.0  # seconds the WAL replay may take


class Restored(msgspec.Struct, frozen=True):
    backup_id: str
    target: str  # ISO 8601, or "latest"
    replaced: str  # where the data folder found was moved ("" if there was none)
    seconds: float


def choose(backups: list[tuple[str, str, float]], target: datetime | None) -> str:
    """The newest finished backup (id, status, end time) that ended before ``target``
    (any, for the latest moment)."""
    done = [(end, backup_id) for backup_id, status, end in backups if status == "DONE"]
    usable = [d for d in done if target is None or d[0] <= target.timestamp()]
    if not usable:
        oldest = min((e for e, _ in done), default=0.0)
        raise NotFound(
            "backup",
            "none finished yet (the backup node takes one when it starts; "
            "`realmkit backup create` takes one now)"
            if not done
            else f"ending before {target}; the oldest ended at "
            f"{datetime.fromtimestamp(oldest, UTC).isoformat(timespec='seconds')}",
        )
    return max(usable)[1]


async def restore(barman: Barman, pg: EmbeddedPostgres, target: datetime | None) -> Restored:
    """Restore ``pg``'s data folder to ``target`` (None: the latest WAL streamed)."""
    if pg.pid() is not None:
        raise Conflict(
            f"PostgreSQL is running ({pg.pgdata}): stop the cluster first (`realmkit down`); "
            "a restore never runs on a live database"
        )
    if not barman.config.exists():
        raise NotFound("backups", f"none in {barman.folder} (no backup node ran there)")
    started = time.monotonic()
    listed = [(b.backup_id, b.status, b.end_time) for b in await barman.list()]
    backup_id = choose(listed, target)
    replaced = ""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    aside = pg.pgdata.with_name(f"data.replaced-{stamp}")
    if pg.pgdata.exists():
        pg.pgdata.rename(aside)
        replaced = str(aside)
    # The WAL segment being streamed when the database was lost is a .partial file
    # in Barman's streaming folder: a moment in it (the last minutes, the likeliest
    # moment to restore to) needs it as much as the latest one does.
    moment = ["--partial-wal"]
    if target is not None:
        moment += ["--target-time", target.isoformat(), "--target-action", "promote"]
    try:
        await barman.recover(backup_id, pg.pgdata, *moment)
        pg.own_data()
        try:
            pg.start(create=False)
        except EngineStartFailed as exc:
            raise BackupFailed("recover", replay_failure(_tail(pg.log))) from exc
        try:
            await promoted(pg.url("postgres"))
        except BackupFailed:
            if pg.pid() is None:  # it stopped by itself while replaying: its log says why
                raise BackupFailed("recover", replay_failure(_tail(pg.log))) from None
            raise
        finally:
            with contextlib.suppress(RealmkitError):
                pg.stop()  # a copy that stopped by itself has nothing left to stop
    except BaseException as exc:
        kept = _put_back(pg, aside if replaced else None, stamp)
        if isinstance(exc, RealmkitError):
            said = exc.detail if isinstance(exc, BackupFailed) else exc.message
            raise BackupFailed("recover", f"{said}; {kept}") from exc
        raise
    return Restored(
        backup_id,
        "latest" if target is None else target.isoformat(),
        replaced,
        time.monotonic() - started,
    )


def _put_back(pg: EmbeddedPostgres, aside: Path | None, stamp: str) -> str:
    """A restore that failed: its copy is moved out of the way (kept, for a look)
    and the data folder it replaced put back; what was done, in words."""
    failed = pg.pgdata.with_name(f"data.failed-restore-{stamp}")
    if pg.pgdata.exists():
        pg.pgdata.rename(failed)
    if aside is None:
        return f"nothing was there before it; the failed copy is in {failed}"
    aside.rename(pg.pgdata)
    return f"the data folder is back as it was; the failed copy is in {failed}"


# PostgreSQL's words when the WAL kept ends before the moment asked for.
TARGET_NOT_REACHED = "recovery ended before configured recovery target was reached"


def replay_failure(log: str) -> str:
    """Why a restored copy did not start, from its PostgreSQL log: the last FATAL
    or PANIC line, with what to do when the moment lies past the WAL kept."""
    said = [
        line.split(level, 1)[1].strip()
        for line in log.splitlines()
        for level in ("FATAL:", "PANIC:")
        if level in line
    ]
    if not said:
        return "PostgreSQL did not start on the restored copy (see postgres.log)"
    if said[-1] == TARGET_NOT_REACHED:
        return (
            f"{said[-1]}: the WAL the backups hold ends before that moment; "
            "restore to an earlier one, or to 'latest'"
        )
    return said[-1]


def _tail(log: Path, size: int = 64 * 1024) -> str:
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - size))
            return f.read().decode(errors="replace")
    except OSError:
        return ""


async def promoted(url: str, timeout: float = PROMOTE_TIMEOUT) -> None:
    """Wait until the server at ``url`` (a restored copy) replayed its WAL and takes writes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(url, timeout=10.0)
            try:
                replaying = await conn.fetchval("SELECT pg_is_in_recovery()")
            finally:
                await conn.close()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            # Refused, or dropped mid-question: a copy that stops by itself (a moment
            # past the WAL kept) may close the connection between the two.
            raise BackupFailed("recover", f"the restored copy refuses connections: {exc}") from exc
        if not replaying:
            return
        if time.monotonic() > deadline:
            raise BackupFailed("recover", f"still replaying WAL after {timeout:.0f} s")
        await asyncio.sleep(0.2)  # PostgreSQL replays in its own process: look again
