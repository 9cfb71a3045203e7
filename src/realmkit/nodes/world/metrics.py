"""What a world node tells Prometheus: per space, and for the node.

Every space's series carry ``realm`` (empty for a pool's cross-realm space),
``map_id`` and ``instance_id``: bounded by the spaces the node runs now, since a
space's series go when it is unloaded. Players, entities and the counters a
runner keeps anyway are read at scrape time; the latencies are histograms fed
where the work happens (``SpaceMeter``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, Metric

from realmkit.nodes.metrics import FAST_BUCKETS, ReadAtScrape, gauge

if TYPE_CHECKING:
    from realmkit.nodes.world.runner import SpaceRunner

SPACE = ("realm", "map_id", "instance_id")


class SpaceMeter:
    """The histograms of one space (its labels bound once)."""

    def __init__(self, metrics: WorldMetrics, labels: tuple[str, str, str]) -> None:
        self.labels = labels
        self.tick_seconds = metrics.tick_seconds.labels(*labels)
        self.save_seconds = metrics.save_seconds.labels(*labels)
        self.checkpoint_seconds = metrics.checkpoint_seconds.labels(*labels)


class WorldMetrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        runners: Callable[[], Mapping[int, SpaceRunner]],
        capacity: int,
    ) -> None:
        self.tick_seconds = Histogram(
            "realmkit_space_tick_seconds",
            "Time one tick of a space took.",
            SPACE,
            buckets=FAST_BUCKETS,
            registry=registry,
        )
        self.save_seconds = Histogram(
            "realmkit_space_save_seconds",
            "Time one batch of character saves of a space took to write.",
            SPACE,
            buckets=FAST_BUCKETS,
            registry=registry,
        )
        self.checkpoint_seconds = Histogram(
            "realmkit_space_checkpoint_seconds",
            "Time one checkpoint (a snapshot of the whole space) took to write.",
            SPACE,
            buckets=FAST_BUCKETS,
            registry=registry,
        )
        self._runners = runners
        self._capacity = capacity
        registry.register(ReadAtScrape(self._now))

    def space(self, realm_id: int | None, map_id: int, instance_id: int) -> SpaceMeter:
        realm = "" if realm_id is None else str(realm_id)
        return SpaceMeter(self, (realm, str(map_id), str(instance_id)))

    def forget(self, meter: SpaceMeter) -> None:
        """A space left the node: its series go with it."""
        for histogram in (self.tick_seconds, self.save_seconds, self.checkpoint_seconds):
            with contextlib.suppress(KeyError):  # gone already: never a reason to fail an unload
                histogram.remove(*meter.labels)

    def _now(self) -> Iterable[Metric]:
        runners = list(self._runners().values())
        players = gauge("realmkit_space_players", "Players in a space.", SPACE)
        entities = gauge(
            "realmkit_space_entities", "Entities a space owns (players, creatures).", SPACE
        )
        ghosts = gauge(
            "realmkit_space_ghosts", "Ghosts a cell holds of its neighbours' entities.", SPACE
        )
        counters = {
            "late_ticks": "Ticks a space could not start on time (skipped, not queued).",
            "failed_ticks": "Ticks of a space that raised an error.",
            "saves": "Character saves a space wrote.",
            "stale_saves": "Saves refused because a newer epoch holds the character.",
        }
        families = {
            name: CounterMetricFamily(f"realmkit_space_{name}", text, labels=SPACE)
            for name, text in counters.items()
        }
        for runner in runners:
            labels = list(runner.meter.labels)
            owned, held = runner.space.entity_counts()
            players.add_metric(labels, len(runner.occupants))
            entities.add_metric(labels, owned)
            ghosts.add_metric(labels, held)
            for name, family in families.items():
                family.add_metric(labels, getattr(runner, name))
        spaces = gauge("realmkit_world_spaces", "Spaces this world node runs.")
        spaces.add_metric([], len(runners))
        capacity = gauge("realmkit_world_capacity_players", "Players this world node takes.")
        capacity.add_metric([], self._capacity)
        return [players, entities, ghosts, *families.values(), spaces, capacity]


def detached_meter(realm_id: int | None, map_id: int, instance_id: int) -> SpaceMeter:
    """A meter no registry serves (a runner outside a node)."""
    return WorldMetrics(CollectorRegistry(), dict, 0).space(realm_id, map_id, instance_id)
