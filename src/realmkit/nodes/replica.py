"""What the replicated, leader-electing roles (orchestrator, matchmaker) share:
how they drain and stop.

Each such node serves requests in a NATS queue group (any replica answers)
and runs one leader loop (the replica holding a PostgreSQL lock leads).
Draining answers the requests already taken and resigns the leadership, so
another replica leads within a round; stopping leaves the node list and
closes the bus and the database.
"""

from __future__ import annotations

import asyncio
import contextlib

from realmkit.bus.nats import NatsBus, Subscription
from realmkit.nodes.presence import Presence
from realmkit.store.postgres import Database


class Replica:
    """Base of replica nodes: set the five parts in ``start()``."""

    def __init__(self) -> None:
        self._db: Database | None = None
        self._bus: NatsBus | None = None
        self._sub: Subscription | None = None
        self._leading: asyncio.Task[None] | None = None
        self._presence: Presence | None = None

    async def drain(self) -> None:
        if self._sub is not None and self._bus is not None:
            await self._bus.drain_subscription(self._sub)  # requests taken are answered
        if self._leading is not None:
            self._leading.cancel()  # resigns: another replica leads within a round
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading

    async def stop(self) -> None:
        if self._presence is not None:
            await self._presence.stop()
        if self._bus is not None:
            await self._bus.close()
        if self._db is not None:
            await self._db.close()
