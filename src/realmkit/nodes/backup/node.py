"""The backup node: the seeds' database backup node, continuous backups with Barman.

It streams the WAL as PostgreSQL writes it (``barman cron`` every few seconds
keeps the streamer running: it stops whenever PostgreSQL restarts) and takes a
base backup when the latest is older than ``[backup] base_every`` (the first one
at once), each verified with ``pg_verifybackup`` when taken. In a real
deployment it runs on another host than PostgreSQL and pulls over the
replication protocol; on one machine, the default cluster runs one that stores
to ``<data_dir>/backups``. Its metrics say when the last backup succeeded, its
size and whether it verified (the alerts read them).

Every ``[backup] check_every`` seconds (0: never) it also restores the latest
backup into a scratch folder and checks it (``realmkit.backup.check``), beside
the streaming: a check takes as long as a restore. After each backup and each
check it writes its summary to ``ops.backup_checks``, which ``realmkit status``
reads from any host.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from realmkit.backup.barman import SLOT, BackupInfo, Barman
from realmkit.backup.check import check_latest
from realmkit.engines.embedded import Endpoints
from realmkit.errors import RealmkitError
from realmkit.nodes.backup.metrics import BackupMetrics
from realmkit.nodes.metrics import node_registry
from realmkit.nodes.presence import Presence
from realmkit.settings import BackupSettings, NodeSpec
from realmkit.store.backups import BackupSummaryRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.backup")

CRON_SECONDS = 5.0  # how often the streamer is looked after and retention applied


def check_due(
    every: float, last_checked: float | None, backups: list[BackupInfo], now: float
) -> bool:
    """A restore check is due: checks are on, there is a finished backup to restore
    and none was checked for ``every`` seconds (at once when none ever was)."""
    if every <= 0 or not any(b.status == "DONE" for b in backups):
        return False
    return last_checked is None or now - last_checked >= every


class BackupNode:
    def __init__(
        self, spec: NodeSpec, endpoints: Endpoints, settings: BackupSettings, folder: Path
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.endpoints = endpoints
        self.settings = settings
        self.barman = Barman(folder, endpoints.database_url, settings.retention)
        self.registry = node_registry("backup", spec.name)
        self.metrics = BackupMetrics(self.registry)
        self._db: Database | None = None
        self._presence: Presence | None = None
        self._work: asyncio.Task[None] | None = None
        self._checks: asyncio.Task[None] | None = None
        self._backups: list[BackupInfo] = []
        self._recorded_backup = ""  # the backup id ops.backup_checks names
        self._last_checked: float | None = None

    async def start(self) -> None:
        self.barman.write_config()
        self._db = await Database.connect(self.endpoints.database_url, max_size=2, name=self.name)
        self._presence = Presence(
            self._db, self.name, "backup", self.spec.host, metrics_port=self.spec.metrics_port
        )
        await self._presence.start()
        self.metrics.check_interval.set(self.settings.check_every)
        self.metrics.base_interval.set(self.settings.base_every)
        # A restart does not check again at once, nor forget the last outcome.
        backup_id, checked_at, ok, seconds = await self._summary.recorded(self.name)
        self._recorded_backup = backup_id
        self._last_checked = checked_at
        if checked_at is not None and ok is not None:
            self.metrics.checked(ok, checked_at, seconds or 0.0, counted=False)
        self._work = asyncio.create_task(self._backing_up())
        if self.settings.check_every > 0:
            self._checks = asyncio.create_task(self._checking())

    async def drain(self) -> None:
        """Stop now: the Barman command under way ends too (a base backup cut short
        is left unfinished; the next one is taken when due), and a restore check
        under way with its scratch server."""
        for task in (self._work, self._checks):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def stop(self) -> None:
        await self.drain()
        with contextlib.suppress(RealmkitError):
            await self.barman.run("-q", "receive-wal", "--stop", "realmkit", timeout=30.0)
        if self._presence is not None:
            await self._presence.stop()
        if self._db is not None:
            await self._db.close()

    async def _backing_up(self) -> None:
        failing = ""
        while True:
            try:
                await self.barman.cron()
                await self._watch_stream()
                backups = await self.barman.list()
                self.metrics.seen(backups)
                self._backups = backups
                if self._due(backups, time.time()):
                    await self._take()
                else:
                    await self._record_found(backups)
                failing = ""
            except RealmkitError as exc:
                if exc.message != failing:  # once per outage, not every round
                    log.warning("%s", exc.message)
                failing = exc.message
            await asyncio.sleep(CRON_SECONDS)

    async def _watch_stream(self) -> None:
        stream = await self._summary.wal_stream(SLOT)
        self.metrics.wal_streaming.set(1 if stream is not None and stream.active else 0)
        self.metrics.wal_lag.set(stream.lag_bytes if stream is not None else 0)

    def _due(self, backups: list[BackupInfo], now: float) -> bool:
        done = [b for b in backups if b.status == "DONE"]
        return not done or now - done[0].end_time >= self.settings.base_every

    async def _take(self) -> None:
        started = time.monotonic()
        try:
            backup_id = await self.barman.backup()
        except RealmkitError:
            self.metrics.failed()
            raise
        try:
            await self.barman.verify(backup_id)
        except RealmkitError:
            self.metrics.failed()
            await self._record_backup(backup_id, await self.barman.list(), verified=False)
            raise
        took = time.monotonic() - started
        self.metrics.succeeded(took)
        self._backups = await self.barman.list()
        self.metrics.seen(self._backups)
        await self._record_backup(backup_id, self._backups, verified=True)
        log.info("base backup %s taken and verified in %.1f s", backup_id, took)

    async def _record_found(self, backups: list[BackupInfo]) -> None:
        """A latest backup the node did not take (``realmkit backup create``, retention
        removing the one recorded) is verified here too and goes in the summary."""
        done = [b for b in backups if b.status == "DONE"]
        if done and done[0].backup_id != self._recorded_backup:
            backup_id = done[0].backup_id
            try:
                await self.barman.verify(backup_id)
                verified = True
            except RealmkitError as exc:
                log.error("backup %s FAILED its verification: %s", backup_id, exc.message)
                verified = False
            await self._record_backup(backup_id, backups, verified=verified)

    async def _record_backup(
        self, backup_id: str, backups: list[BackupInfo], *, verified: bool | None
    ) -> None:
        ended = next((b.end_time for b in backups if b.backup_id == backup_id), time.time())
        await self._summary.record_backup(self.name, backup_id, ended, verified)
        self._recorded_backup = backup_id

    async def _checking(self) -> None:
        while True:
            if check_due(self.settings.check_every, self._last_checked, self._backups, time.time()):
                await self._check()
            await asyncio.sleep(CRON_SECONDS)

    async def _check(self) -> None:
        try:
            result = await check_latest(self.barman, self.settings.check_timeout)
        except RealmkitError as exc:  # another check under way (`realmkit backup check`)
            log.warning("restore check skipped: %s", exc.message)
            return
        self._last_checked = result.checked_at
        self.metrics.checked(result.ok, result.checked_at, result.seconds)
        if result.ok:
            log.info(
                "restore check of %s passed in %.1f s (%d characters)",
                result.backup_id,
                result.seconds,
                result.characters,
            )
        else:
            log.error("restore check of %s FAILED: %s", result.backup_id or "-", result.reason)
        try:
            await self._summary.record_check(
                self.name,
                ok=result.ok,
                backup_id=result.backup_id,
                reason=result.reason,
                seconds=result.seconds,
                checked_at=result.checked_at,
                characters=result.characters,
            )
        except RealmkitError as exc:
            log.warning("restore check not recorded: %s", exc.message)

    @property
    def _summary(self) -> BackupSummaryRepo:
        assert self._db is not None, "started"
        return BackupSummaryRepo(self._db)
