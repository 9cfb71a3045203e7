"""The backup node: the seeds' database backup node, continuous backups with Barman.

It streams the WAL as PostgreSQL writes it (``barman cron`` every few seconds
keeps the streamer running: it stops whenever PostgreSQL restarts) and takes a
base backup when the latest is older than ``[backup] base_every`` (the first one
at once), each verified with ``pg_verifybackup`` when taken. In a real
deployment it runs on another host than PostgreSQL and pulls over the
replication protocol; on one machine, the default cluster runs one that stores
to ``<data_dir>/backups``. Its metrics say when the last backup succeeded, its
size and whether it verified (``realmkit status`` and the alerts read them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from realmkit.backup.barman import BackupInfo, Barman
from realmkit.engines.embedded import Endpoints
from realmkit.errors import RealmkitError
from realmkit.nodes.backup.metrics import BackupMetrics
from realmkit.nodes.metrics import node_registry
from realmkit.nodes.presence import Presence
from realmkit.settings import BackupSettings, NodeSpec
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.backup")

CRON_SECONDS = 5.0  # how often the streamer is looked after and retention applied


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

    async def start(self) -> None:
        self.barman.write_config()
        self._db = await Database.connect(self.endpoints.database_url, max_size=2, name=self.name)
        self._presence = Presence(
            self._db, self.name, "backup", self.spec.host, metrics_port=self.spec.metrics_port
        )
        await self._presence.start()
        self._work = asyncio.create_task(self._backing_up())

    async def drain(self) -> None:
        """Stop now: the Barman command under way ends too (a base backup cut short
        is left unfinished; the next one is taken when due)."""
        if self._work is not None:
            self._work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._work

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
                backups = await self.barman.list()
                self.metrics.seen(backups)
                if self._due(backups, time.time()):
                    await self._take()
                failing = ""
            except RealmkitError as exc:
                if exc.message != failing:  # once per outage, not every round
                    log.warning("%s", exc.message)
                failing = exc.message
            await asyncio.sleep(CRON_SECONDS)

    def _due(self, backups: list[BackupInfo], now: float) -> bool:
        done = [b for b in backups if b.status == "DONE"]
        return not done or now - done[0].end_time >= self.settings.base_every

    async def _take(self) -> None:
        started = time.monotonic()
        try:
            backup_id = await self.barman.backup()
            await self.barman.verify(backup_id)
        except RealmkitError:
            self.metrics.failed()
            raise
        took = time.monotonic() - started
        self.metrics.succeeded(took)
        self.metrics.seen(await self.barman.list())
        log.info("base backup %s taken and verified in %.1f s", backup_id, took)
