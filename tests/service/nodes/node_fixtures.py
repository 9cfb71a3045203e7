"""What the node tests share: world nodes and an orchestrator run in the test's process."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from realmkit.engines.embedded import Endpoints
from realmkit.nodes.orchestrator.node import OrchestratorNode
from realmkit.nodes.world.node import WorldNode
from realmkit.settings import CellSettings, InstanceSettings, NodeSpec, Role


@contextlib.asynccontextmanager
async def two_worlds_and_an_orchestrator(
    here: Endpoints, world_2_capacity: int | None = None
) -> AsyncIterator[list[object]]:
    """world-1, world-2 (with ``world_2_capacity`` when given) and orchestrator-1,
    started, then drained and stopped when the block ends."""
    second = NodeSpec(name="world-2", role=Role.WORLD)
    if world_2_capacity is not None:
        second = NodeSpec(name="world-2", role=Role.WORLD, capacity=world_2_capacity)
    nodes = [
        WorldNode(NodeSpec(name="world-1", role=Role.WORLD), here),
        WorldNode(second, here),
        OrchestratorNode(
            NodeSpec(name="orchestrator-1", role=Role.ORCHESTRATOR),
            here,
            InstanceSettings(),
            # Cells change by hand only: the tests split and merge them.
            cells=CellSettings(balance=False),
        ),
    ]
    for node in nodes:
        await node.start()  # type: ignore[attr-defined]
    try:
        yield nodes
    finally:
        for node in nodes:
            await node.drain()  # type: ignore[attr-defined]
            await node.stop()  # type: ignore[attr-defined]
