"""A node's row in ``cluster.nodes``: registered when it starts, a heartbeat every
second while it runs, ``stopped`` when it stops.

``realmkit status`` lists every node from these rows. World nodes and gateways
keep their own rows (their heartbeats carry capacity and load, and the
orchestrators' leader acts on their silence); login, orchestrator and
matchmaker replicas use this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from realmkit.errors import RealmkitError
from realmkit.lifecycle.node import NodeEvent
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.node")

HEARTBEAT_SECONDS = 1.0


class Presence:
    def __init__(
        self, db: Database, name: str, role: str, host: str, port: int = 0, *, metrics_port: int = 0
    ) -> None:
        self.cluster = ClusterRepo(db)
        self.name = name
        self.role = role
        self.host = host
        self.port = port
        self.metrics_port = metrics_port
        self._beating: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.cluster.register_node(
            self.name, self.role, self.host, self.port, metrics_port=self.metrics_port
        )
        await self.cluster.heartbeat(self.name, NodeEvent.UP, 0)
        self._beating = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                await self.cluster.heartbeat(self.name, NodeEvent.UP, 0)
            except RealmkitError as exc:  # PostgreSQL away: the next beat tries again
                log.log(exc.log_level, "heartbeat failed: %s", exc.message)

    async def stop(self) -> None:
        if self._beating is not None:
            self._beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beating
        await mark_stopped(self.cluster, self.name, 0)


async def mark_stopped(cluster: ClusterRepo, name: str, capacity: int) -> None:
    """The node's row says ``stopped`` (a node stopping while PostgreSQL is away
    leaves it as it was: its silence then tells)."""
    with contextlib.suppress(RealmkitError):
        await cluster.heartbeat(name, NodeEvent.STOP, capacity)
