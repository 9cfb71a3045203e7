"""What a matchmaker tells Prometheus: the requests it served, and, from the one
that leads, its queues, proposals and matches (the book it keeps in memory) and
how long players queued. Only the leader reports the book: a scrape of every
replica sums to the cluster's figures."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import Metric

from realmkit.nodes.metrics import WAIT_BUCKETS, ReadAtScrape, RequestMeter, gauge, leader_family

if TYPE_CHECKING:
    from realmkit.nodes.matchmaker.leader import MatchLeader

# What became of a proposal.
ACCEPTED, DECLINED, EXPIRED, REFUSED = "accepted", "declined", "expired", "refused"


class MatchmakerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = RequestMeter(
            registry, "realmkit_matchmaker", "a matchmaker served (queue and party messages)"
        )
        self.proposals = Counter(
            "realmkit_matchmaker_proposals_total",
            "Proposals this matchmaker made as the leader, by what became of them "
            "(refused: a ticket left before it was written).",
            ("outcome",),
            registry=registry,
        )
        self.matches_started = Counter(
            "realmkit_matchmaker_matches_started_total",
            "Matches this matchmaker started as the leader.",
            ("activity",),
            registry=registry,
        )
        self.queue_wait = Histogram(
            "realmkit_matchmaker_queue_wait_seconds",
            "How long a ticket queued before it was proposed a match.",
            ("activity",),
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        for outcome in (ACCEPTED, DECLINED, EXPIRED, REFUSED):
            self.proposals.labels(outcome)  # every outcome present from the start
        self.leader: MatchLeader | None = None
        registry.register(ReadAtScrape(self._now))

    def _now(self) -> Iterable[Metric]:
        leader = self.leader
        leading = leader is not None and leader.leadership.leading
        tickets = gauge(
            "realmkit_matchmaker_tickets",
            "Tickets queued, by activity (reported by the leader).",
            ("activity",),
        )
        matches = gauge(
            "realmkit_matchmaker_matches",
            "Live matches by activity and state (reported by the leader).",
            ("activity", "state"),
        )
        if leader is not None and leading:
            book = leader.book
            queued: Tally[str] = Tally()
            for (_, activity), queue in book.queues.items():
                queued[activity] += len(queue)
            for activity, count in sorted(queued.items()):
                tickets.add_metric([activity], count)
            live: Tally[tuple[str, str]] = Tally()
            for state, held in (
                ("proposed", book.proposals),
                ("starting", book.starting),
                ("running", book.running),
                ("ending", book.ending),
            ):
                for match in held.values():
                    live[(match.activity_id, state)] += 1
            for (activity, state), count in sorted(live.items()):
                matches.add_metric([activity, state], count)
        return [leader_family("matchmaker", leading), tickets, matches]
