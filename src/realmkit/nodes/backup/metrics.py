"""What the backup node tells Prometheus: when a backup last succeeded and how
long it took, how many failed, the backups it holds with their size, and the
restore checks (``realmkit.backup.check``): the latest one's outcome, when it
ended and how long it took, how many failed, and how often one is due."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import Metric

from realmkit.backup.barman import BackupInfo
from realmkit.nodes.metrics import ReadAtScrape, gauge


class BackupMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.last_success = Gauge(
            "realmkit_backup_last_success_timestamp_seconds",
            "When the latest base backup finished and verified (0: none yet).",
            registry=registry,
        )
        self.duration = Gauge(
            "realmkit_backup_duration_seconds",
            "How long the latest base backup took, verification included.",
            registry=registry,
        )
        self.failures = Counter(
            "realmkit_backup_failures_total",
            "Base backups or verifications that failed.",
            registry=registry,
        )
        self.check_success = Gauge(
            "realmkit_backup_restore_check_success",
            "1 if the latest restore check restored, started and read the latest backup; "
            "0 if it failed or none ran yet (see the timestamp).",
            registry=registry,
        )
        self.check_last = Gauge(
            "realmkit_backup_restore_check_timestamp_seconds",
            "When the latest restore check ended, passed or failed (0: none yet).",
            registry=registry,
        )
        self.check_duration = Gauge(
            "realmkit_backup_restore_check_duration_seconds",
            "How long the latest restore check took.",
            registry=registry,
        )
        self.check_failures = Counter(
            "realmkit_backup_restore_check_failures_total",
            "Restore checks that failed: a backup that could not be restored.",
            registry=registry,
        )
        self.check_interval = Gauge(
            "realmkit_backup_restore_check_interval_seconds",
            "Seconds between two restore checks, [backup] check_every (0: none are run).",
            registry=registry,
        )
        self.base_interval = Gauge(
            "realmkit_backup_base_interval_seconds",
            "Seconds between two base backups, [backup] base_every.",
            registry=registry,
        )
        self.wal_streaming = Gauge(
            "realmkit_backup_wal_streaming",
            "1 while a WAL receiver holds the backups' replication slot (the WAL streams "
            "as it is written), else 0.",
            registry=registry,
        )
        self.wal_lag = Gauge(
            "realmkit_backup_wal_lag_bytes",
            "WAL PostgreSQL wrote that the backups have not flushed yet.",
            registry=registry,
        )
        self._held: list[BackupInfo] = []
        self._last = 0.0
        registry.register(ReadAtScrape(self._now))

    def seen(self, backups: list[BackupInfo]) -> None:
        self._held = backups
        done = [b.end_time for b in backups if b.status == "DONE"]
        # After a restart, the backups it finds; later, one taken by `backup create`.
        if done and max(done) > self._last:
            self._last = max(done)
            self.last_success.set(self._last)

    def succeeded(self, seconds: float) -> None:
        self._last = time.time()
        self.last_success.set(self._last)
        self.duration.set(seconds)

    def failed(self) -> None:
        self.failures.inc()

    def checked(self, ok: bool, ended_at: float, seconds: float, *, counted: bool = True) -> None:
        """A restore check's outcome; ``counted`` false for one recorded before a
        restart (already counted by the previous process)."""
        self.check_success.set(1 if ok else 0)
        self.check_last.set(ended_at)
        self.check_duration.set(seconds)
        if not ok and counted:
            self.check_failures.inc()

    def _now(self) -> Iterable[Metric]:
        held = gauge("realmkit_backup_backups", "Base backups held, by status.", ("status",))
        size = gauge("realmkit_backup_size_bytes", "Bytes the held backups take, WAL included.")
        by_status: dict[str, int] = {}
        for backup in self._held:
            by_status[backup.status.lower()] = by_status.get(backup.status.lower(), 0) + 1
        for status, count in sorted(by_status.items()):
            held.add_metric([status], count)
        size.add_metric([], sum(b.size_bytes for b in self._held))
        return [held, size]
