"""The one lifecycle every node follows, and the loop that runs a node.

``start()`` connects and begins serving; ``drain()`` stops taking new work and
finishes or hands off what it holds; ``stop()`` releases everything. The CLI
(``realmkit node NAME``) and the supervisor only ever call these three, so a
node is started and stopped the same way everywhere. ``serve`` is that call:
it also serves the node's ``/metrics`` (``nodes.metrics``) from before the node
starts until after it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import msgspec
from prometheus_client import CollectorRegistry

from realmkit.nodes.metrics import MetricsEndpoint
from realmkit.settings import NodeSpec

log = logging.getLogger("realmkit.node")


class Node(Protocol):
    name: str
    registry: CollectorRegistry  # what it serves on /metrics

    async def start(self) -> None: ...

    async def drain(self) -> None: ...

    async def stop(self) -> None: ...


async def run_until_signalled(node: Node, ready: asyncio.Event | None = None) -> None:
    """Start ``node``, serve until SIGTERM or SIGINT, then drain and stop it."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await node.start()
        log.info("%s ready", node.name)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("%s draining", node.name)
        await node.drain()
    finally:
        await node.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("%s stopped", node.name)


async def serve(build: Callable[[NodeSpec], Node], spec: NodeSpec, data_path: Path) -> None:
    """Serve ``/metrics`` on the spec's ``metrics_port`` (0: a free one, which the
    node then registers), build the node and run it until signalled."""
    endpoint = MetricsEndpoint()
    port = await endpoint.start(spec.host, spec.metrics_port)
    try:
        node = build(msgspec.structs.replace(spec, metrics_port=port))
        endpoint.serve(node.registry)
        endpoint.advertise(data_path, spec.name, spec.role.value, spec.host)
        log.info("%s metrics on http://%s:%d/metrics", spec.name, spec.host, port)
        await run_until_signalled(node)
    finally:
        await endpoint.stop()
