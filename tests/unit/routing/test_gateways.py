"""The login node's choice of gateway: least loaded, fresh, and spread within a second."""

from __future__ import annotations

from collections import Counter

from realmkit.protocol.cluster import GatewayLoad
from realmkit.routing.gateways import STALE_AFTER, GatewayDirectory


def test_a_burst_of_tickets_spreads_over_gateways() -> None:
    """Between two load reports, tickets alternate instead of all going to one gateway."""
    directory = GatewayDirectory()
    directory.report(GatewayLoad("gw-1", "ws://a", players=0, capacity=100), now=0.0)
    directory.report(GatewayLoad("gw-2", "ws://b", players=0, capacity=100), now=0.0)
    picks = Counter()
    for _ in range(50):
        chosen = directory.best(now=0.5)
        assert chosen is not None
        picks[chosen.gateway_id] += 1
    assert picks == {"gw-1": 25, "gw-2": 25}


def test_the_emptier_gateway_is_preferred_and_stale_ones_ignored() -> None:
    """The gateway with fewer players wins; one silent for too long is not chosen."""
    directory = GatewayDirectory()
    directory.report(GatewayLoad("gw-1", "ws://a", players=40, capacity=100), now=0.0)
    directory.report(GatewayLoad("gw-2", "ws://b", players=10, capacity=100), now=0.0)
    chosen = directory.best(now=1.0)
    assert chosen is not None
    assert chosen.gateway_id == "gw-2"
    assert directory.best(now=STALE_AFTER + 1) is None


def test_full_gateways_are_never_chosen() -> None:
    """A gateway at capacity (reported or by tickets since) gets no more players."""
    directory = GatewayDirectory()
    directory.report(GatewayLoad("gw-1", "ws://a", players=1, capacity=2), now=0.0)
    assert directory.best(now=0.1) is not None
    assert directory.best(now=0.1) is None
