"""Nodes keep their row in cluster.nodes up to date as they start and stop."""

from __future__ import annotations

from realmkit.engines.embedded import Endpoints
from realmkit.lifecycle.node import NodeState
from realmkit.nodes.gateway.node import GatewayNode
from realmkit.settings import NodeSpec, Role
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database


async def _state(db: Database, name: str) -> NodeState:
    rows = {n.node_id: n for n in await ClusterRepo(db).nodes()}
    return rows[name].state


async def test_a_gateway_says_it_stopped(
    database_url: str, endpoints: Endpoints, db: Database
) -> None:
    """A gateway that stops marks its row stopped, as the other roles do (it used to
    stay ready, then read silent)."""
    gateway = GatewayNode(
        NodeSpec(name="gateway-9", role=Role.GATEWAY, port=0),
        Endpoints(endpoints.nats_url, database_url),
    )
    await gateway.start()
    try:
        assert await _state(db, "gateway-9") in (NodeState.STARTING, NodeState.READY)
    finally:
        await gateway.drain()
        await gateway.stop()
    assert await _state(db, "gateway-9") is NodeState.STOPPED
