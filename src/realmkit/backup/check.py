"""The restore check: can PostgreSQL start from the latest backup, and read it all?

A backup only counts once it has been restored. On a schedule (the backup node,
``[backup] check_every``) or on demand (``realmkit backup check``), Barman copies
the latest finished base backup and the WAL archived since into a scratch folder
beside the backups (never the live data folder); the pgserver wheel's
PostgreSQL starts on the copy on a free loopback port, replays the WAL and is
promoted; then the integrity check of ``realmkit db check`` reads every table
of the copy. A backup that cannot be copied, started, promoted or read fails
the check, with a short reason.

Invariants:

- never two checks at once: a lock file beside the scratch folder, held for the
  whole check, across processes (the node's schedule and the command);
- bounded: the whole check has ``timeout`` seconds, then it is stopped and
  failed;
- the scratch server is stopped by its pid and its folder removed whatever
  happened, the caller's cancellation included; a folder a crash left behind is
  cleared before the next check starts;
- the copy accepts connections on loopback only, with the credentials of the
  database URL the backups are taken with, and archives nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import msgspec

from realmkit.backup.barman import Barman
from realmkit.backup.restore import choose, promoted
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.errors import BackupFailed, Conflict, EngineStartFailed, RealmkitError
from realmkit.procs import LOOPBACK
from realmkit.store import integrity
from realmkit.store.postgres import Database

SCRATCH = "restore-check"  # the scratch folder, in the backup folder
LOCK = "restore-check.lock"
# Settings of the live server's own files that the copy must not keep: where it
# listens and who may connect (realmkit.conf and the lines below say), TLS files
# it may not have, archiving into the live server's archive, libraries.
LIVE_ONLY = {
    "port",
    "listen_addresses",
    "unix_socket_directories",
    "hba_file",
    "ident_file",
    "ssl",
    "archive_mode",
    "archive_command",
    "shared_preload_libraries",
}

log = logging.getLogger("realmkit.backup")

Progress = Callable[[str], None]


class CheckResult(msgspec.Struct, frozen=True):
    """One restore check, as the node records it and ``realmkit backup check`` prints it."""

    ok: bool
    backup_id: str  # the backup restored ("" when there was none)
    reason: str  # why it failed ("" when ok)
    seconds: float
    checked_at: float  # unix seconds, when it ended
    # Characters in the restored copy: a figure to compare with the live database.
    characters: int = 0
    # Logical findings of the integrity check in the copy. They are the live
    # database's too (``realmkit db check`` repairs them): they do not fail a check.
    findings: int = 0


def _quiet(_: str) -> None:
    pass


async def check_latest(barman: Barman, timeout: float, progress: Progress = _quiet) -> CheckResult:
    """Restore the latest backup into the scratch folder, start it, check it, remove it.

    A failed check is a result (``ok`` false), not an exception; ``Conflict`` if
    another check is under way."""
    with _exclusive(barman.folder / LOCK):
        started = time.monotonic()
        backup_id = ""
        try:
            async with asyncio.timeout(timeout):
                listed = [(b.backup_id, b.status, b.end_time) for b in await barman.list()]
                backup_id = choose(listed, None)
                characters, findings = await _restore_and_read(barman, backup_id, progress)
        except TimeoutError:
            reason = f"not finished within {timeout:.0f} s"
        except RealmkitError as exc:
            reason = exc.message
        except OSError as exc:  # the scratch folder: a full disk, permissions
            reason = f"scratch folder: {exc}"
        except Exception as exc:  # a copy that breaks realmkit still fails the check
            log.exception("restore check of %s", backup_id or "the latest backup")
            reason = f"{type(exc).__name__}: {exc}"
        else:
            return CheckResult(
                True,
                backup_id,
                "",
                time.monotonic() - started,
                time.time(),
                characters,
                findings,
            )
        return CheckResult(False, backup_id, reason, time.monotonic() - started, time.time())


async def _restore_and_read(barman: Barman, backup_id: str, progress: Progress) -> tuple[int, int]:
    """(characters, logical findings) of the backup restored and promoted; raises
    what made it fail."""
    pg = EmbeddedPostgres(barman.folder / SCRATCH, durable=False)
    await _clear_now(pg)  # what a crashed check left
    starting: asyncio.Task[None] | None = None
    try:
        pg.root.mkdir(mode=0o700)
        progress(f"copying backup {backup_id} and its WAL")
        await barman.recover(backup_id, pg.pgdata)
        _scratch_settings(pg)
        pg.own_data()
        progress("starting PostgreSQL on the copy")
        # pg_ctl blocks for seconds: in a thread, and waited for even when cancelled,
        # so the server it starts is never left behind.
        starting = asyncio.create_task(asyncio.to_thread(pg.start, create=False))
        try:
            await _finished(starting)
            starting.result()
        except EngineStartFailed as exc:
            raise BackupFailed("restore check", f"the copy did not start: {_logged(pg)}") from exc
        found = pg.running()
        if found is None:
            raise BackupFailed("restore check", f"the copy stopped: {_logged(pg)}")
        url = scratch_url(barman.database_url, found[1])
        progress("replaying the WAL")
        try:
            await promoted(url)
        except BackupFailed as exc:
            raise BackupFailed("restore check", f"{exc.message}; {_logged(pg)}") from exc
        return await _read(url, progress)
    finally:
        try:
            if starting is not None:
                await _finished(starting)
                if not starting.cancelled():
                    starting.exception()  # raised above, or beside the point now
        finally:
            await _clear_now(pg)


async def _read(url: str, progress: Progress) -> tuple[int, int]:
    db = await Database.connect(url, max_size=1, name="restore-check")
    try:
        found = await integrity.find(db, progress)
        unreadable = [f for f in found if f.remedy is integrity.Remedy.RESTORE]
        if unreadable:
            first = unreadable[0]
            raise BackupFailed(
                "restore check",
                f"{len(unreadable)} table(s) unreadable in the copy, {first.key}: "
                f"{str(first.detail.get('error', ''))[:200]}",
            )
        characters = int(await db.fetchval("SELECT count(*) FROM characters.characters"))
    finally:
        await db.close()
    return characters, len(found)


def scratch_url(database_url: str, port: int) -> str:
    """The database URL, pointed at the scratch copy on loopback (without its
    parameters: no TLS to a loopback copy)."""
    url = urlsplit(database_url)
    user = url.netloc.rpartition("@")[0]
    netloc = f"{user}@{LOOPBACK}:{port}" if user else f"{LOOPBACK}:{port}"
    return urlunsplit(url._replace(netloc=netloc, query=""))


def _scratch_settings(pg: EmbeddedPostgres) -> None:
    """The copy's own access rules and no archiving, whatever the live server's files
    say (its postgresql.conf may even live outside its data folder). The auto file is
    read last: it wins over the rest."""
    data = pg.pgdata
    (data / "pg_hba.conf").write_text(f"host all all {LOOPBACK}/32 md5\n")  # md5: scram too
    (data / "pg_ident.conf").write_text("")
    (data / "postgresql.conf").touch()
    auto = data / "postgresql.auto.conf"
    kept = [
        line
        for line in (auto.read_text().splitlines() if auto.exists() else [])
        if line.split("=", 1)[0].strip().lower() not in LIVE_ONLY
    ]
    auto.write_text(
        "\n".join(
            [
                *kept,
                "# realmkit restore check: a scratch copy",
                f"hba_file = '{data / 'pg_hba.conf'}'",
                f"ident_file = '{data / 'pg_ident.conf'}'",
                "ssl = off",
                "archive_mode = off",
                "shared_preload_libraries = ''",
                "",
            ]
        )
    )


def _logged(pg: EmbeddedPostgres) -> str:
    """The last error the scratch server logged (its log goes with the folder)."""
    try:
        lines = pg.log.read_text(errors="replace").splitlines()
    except OSError:
        return "no log"
    errors = [line for line in lines if any(k in line for k in ("FATAL:", "PANIC:", "ERROR:"))]
    return (errors[-1] if errors else lines[-1] if lines else "empty log").strip()[:300]


async def _finished(task: asyncio.Task[None]) -> None:
    """Wait for ``task`` (a thread's work) to end, even when this task is cancelled
    meanwhile, which is then re-raised: a thread cannot be stopped, and what it
    starts or removes must be over before the check ends and frees the lock."""
    cancelled = False
    while not task.done():
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


async def _clear_now(pg: EmbeddedPostgres) -> None:
    clearing = asyncio.create_task(asyncio.to_thread(_clear, pg))
    await _finished(clearing)
    clearing.result()


def _clear(pg: EmbeddedPostgres) -> None:
    """Stop the scratch server by its pid, then remove the scratch folder."""
    pg.halt()
    if pg.root.exists():
        shutil.rmtree(pg.root)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"a restore check is under way ({path} is locked)") from None
        yield
    finally:
        os.close(fd)
