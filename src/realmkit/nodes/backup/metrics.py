"""What the backup node tells Prometheus: when a backup last succeeded and how
long it took, how many failed, and the backups it holds with their size."""

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
        self._held: list[BackupInfo] = []
        self._last = 0.0
        registry.register(ReadAtScrape(self._now))

    def seen(self, backups: list[BackupInfo]) -> None:
        self._held = backups
        done = [b.end_time for b in backups if b.status == "DONE"]
        if done and not self._last:  # after a restart: the backups it finds
            self._last = max(done)
            self.last_success.set(self._last)

    def succeeded(self, seconds: float) -> None:
        self._last = time.time()
        self.last_success.set(self._last)
        self.duration.set(seconds)

    def failed(self) -> None:
        self.failures.inc()

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
