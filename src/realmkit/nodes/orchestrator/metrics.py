"""What an orchestrator tells Prometheus: the requests it served (placements,
transfers, drains, cell changes) with their latency, whether it leads, and the
restores of crashed spaces it ran as the leader."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric

from realmkit.nodes.metrics import ReadAtScrape, RequestMeter, leader_family
from realmkit.nodes.orchestrator.leader import Leader


class OrchestratorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = RequestMeter(
            registry, "realmkit_orchestrator", "an orchestrator served (placements, transfers...)"
        )
        self.leader: Leader | None = None
        registry.register(ReadAtScrape(self._now))

    def _now(self) -> Iterable[Metric]:
        leader = self.leader
        restores = CounterMetricFamily(
            "realmkit_orchestrator_restores",
            "Crashed spaces this orchestrator, as the leader, restored on another node.",
            labels=["outcome"],
        )
        restores.add_metric(["ok"], leader.restored if leader else 0)
        restores.add_metric(["failed"], leader.restore_failures if leader else 0)
        restarts = CounterMetricFamily(
            "realmkit_orchestrator_realm_restarts",
            "Realm restarts this orchestrator, as the leader, carried out.",
            labels=["outcome"],
        )
        carried = leader.restarts if leader is not None else None
        restarts.add_metric(["done"], carried.done if carried else 0)
        restarts.add_metric(["failed"], carried.failed if carried else 0)
        leading = leader is not None and leader.leadership.leading
        return [leader_family("orchestrator", leading), restores, restarts]
