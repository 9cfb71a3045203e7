"""Where a draining gateway sends its players (``GatewayNode.elsewhere``)."""

from __future__ import annotations

from realmkit.engines.embedded import Endpoints
from realmkit.nodes.gateway.node import LOAD_FRESH_SECONDS, GatewayNode
from realmkit.protocol.cluster import GatewayLoad
from realmkit.settings import NodeSpec


def _gateway(name: str = "gateway-1") -> GatewayNode:
    return GatewayNode(NodeSpec(name, "gateway", port=7001), Endpoints("nats://x", "postgres://x"))


def _report(node: GatewayNode, name: str, players: int, at: float, capacity: int = 100) -> None:
    url = f"ws://{name}:7000/ws"
    node.loads[name] = (GatewayLoad(name, url, players, capacity), at)


def test_the_least_loaded_other_gateway_with_room_that_reported_lately() -> None:
    """The other gateway with the smallest share of its capacity taken, among those
    that reported within LOAD_FRESH_SECONDS and are not full; never itself."""
    node = _gateway()
    now = 1000.0
    _report(node, "gateway-1", 0, now)  # itself
    _report(node, "gateway-2", 50, now)
    _report(node, "gateway-3", 10, now - LOAD_FRESH_SECONDS - 1)  # silent lately
    _report(node, "gateway-4", 100, now)  # full
    _report(node, "gateway-5", 30, now - 1.0)
    assert node.elsewhere(now) == "ws://gateway-5:7000/ws"


def test_no_other_gateway_known_is_an_empty_url() -> None:
    """With nowhere to send them, the URL is empty: clients try the gateways they know."""
    node = _gateway()
    assert node.elsewhere(0.0) == ""
    _report(node, "gateway-1", 0, 0.0)
    assert node.elsewhere(0.0) == ""
