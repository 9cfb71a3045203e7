"""The one lifecycle every node follows, and the loop that runs a node.

``start()`` connects and begins serving; ``drain()`` stops taking new work and
finishes or hands off what it holds; ``stop()`` releases everything. The CLI
(``realmkit node NAME``) and the supervisor only ever call these three, so a
node is started and stopped the same way everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol

log = logging.getLogger("realmkit.node")


class Node(Protocol):
    name: str

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
