"""The orchestrators' leader: background duties that must run exactly once.

Every replica tries, twice a second, to hold the session advisory lock
``LEADER_LOCK``; the one that holds it is the leader until it dies (its
connection closes and PostgreSQL drops the lock) and runs, each round:

1. failure detection: world nodes and gateways silent for ``node_timeout``
   seconds become UNHEALTHY, and so does every live instance on those world
   nodes (a leader judges only after leading for ``node_timeout`` itself, so
   neither a failover nor a PostgreSQL outage makes healthy nodes look dead);
2. recovery: each UNHEALTHY instance is restored on another node from its
   latest checkpoint, its players seated again (``InstanceRegistry.running``);
3. orphans: players whose gateway died (judged UNHEALTHY, or stopped, or
   restarted) and who did not resume through another within ``resume_grace``
   of its last heartbeat (or restart) leave their spaces, saved. The deadline
   is computed from those stored times, so a new leader keeps the old one's;
4. reaping: a dungeon, battleground or arena nobody was in for
   ``empty_grace`` seconds is stopped;
5. scaling (``scaler``): a world node launched or an idle one retired;
6. cells (``balancer``): continents' cells split or merged with their load,
   merged-away cells' spaces stopped (``nodes/orchestrator/cells.py``);
7. realm restarts (``restarts``): counted down, told, carried out
   (``nodes/orchestrator/restarts.py``; their state is in PostgreSQL);
8. mail (``postman``): unread letters past their time go back to their senders.

Nothing the leader knows lives only in its memory except when it began to
lead (it judges heartbeats only after ``node_timeout``), when it first saw an
instance empty, when it last changed a continent's cells (their cooldown) and
when it first saw a merged-away cell empty; a new leader starts those counts
again, which only delays a stop or allows one early change of cells.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from realmkit.errors import RealmkitError
from realmkit.lifecycle.instance import InstanceState
from realmkit.nodes.leading import lead
from realmkit.nodes.orchestrator.handover import Handover
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.orchestrator.postman import Postman
from realmkit.nodes.orchestrator.restarts import Restarts
from realmkit.nodes.orchestrator.scaler import Scaler
from realmkit.settings import InstanceSettings
from realmkit.store.cluster import ClusterRepo
from realmkit.store.locks import ORCHESTRATOR_LEADER
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database, Leadership

log = logging.getLogger("realmkit.orchestrator")

LEADER_LOCK = ORCHESTRATOR_LEADER
ROUND_SECONDS = 0.5
# A new leader lets the world nodes report for this long before it scales.
SCALING_SETTLE = 10.0


class Leader:
    def __init__(
        self,
        node_name: str,
        db: Database,
        instances: InstanceRegistry,
        handover: Handover,
        settings: InstanceSettings,
        scaler: Scaler | None = None,
        balancer: Callable[[float], Awaitable[None]] | None = None,
        restarts: Restarts | None = None,
        postman: Postman | None = None,
    ) -> None:
        self.node_name = node_name
        self.instances = instances
        self.handover = handover
        self.settings = settings
        self.scaler = scaler
        self.balancer = balancer
        self.restarts = restarts
        self.postman = postman
        self.leadership = Leadership(db, LEADER_LOCK)
        self.cluster = ClusterRepo(db)
        self.rows = InstanceRepo(db)
        self.assignments = AssignmentRepo(db)
        self._empty_since: dict[int, float] = {}
        self._leading_since = 0.0
        self.restored = 0
        self.restore_failures = 0

    async def run(self) -> None:
        """Try to lead, and do the duties while leading; forever (cancel to stop)."""

        async def gained() -> None:
            self._leading_since = time.monotonic()

        async def nothing() -> None:
            pass

        await lead(
            self.leadership,
            self.node_name,
            gained=gained,
            round=lambda: self.duties(time.monotonic()),
            lost=nothing,
            pause=lambda: asyncio.sleep(ROUND_SECONDS),
        )

    async def duties(self, now: float) -> None:
        rows = self.rows
        # A heartbeat is only judged by a leader that could have seen it: after
        # a failover or a PostgreSQL outage (which also ends the leadership),
        # every node first gets one full timeout to report again.
        if now - self._leading_since >= self.settings.node_timeout:
            await self._detect_failures()
        live = await rows.live()
        broken = [i.instance_id for i in live if i.state is InstanceState.UNHEALTHY]
        if broken:
            await asyncio.gather(*(self._restore(i) for i in broken))
        await self._release_orphans()
        await self._reap(now)
        if self.scaler is not None and now - self._leading_since >= SCALING_SETTLE:
            await self.scaler.round(now)
        if self.balancer is not None and now - self._leading_since >= SCALING_SETTLE:
            await self.balancer(now)
        if self.restarts is not None:
            await self.restarts.round()
        if self.postman is not None:
            await self.postman.round(now)

    async def _release_orphans(self) -> None:
        """Players whose gateway died and who did not resume within the grace period
        leave their spaces (saved, then offline), as if they had logged out."""
        for a in await self.assignments.orphans(self.settings.resume_grace):
            await self.handover.unseat(a)
            log.info("character %d released: its gateway %s is gone", a.character_id, a.gateway_id)

    async def _detect_failures(self) -> None:
        for node_id in await self.cluster.overdue(self.settings.node_timeout):
            lost = await self.rows.mark_unhealthy_on(node_id)
            log.warning(
                "world node %s missed its heartbeats: instances %s unhealthy", node_id, lost
            )
        for node_id in await self.cluster.overdue(self.settings.node_timeout, role="gateway"):
            log.warning(
                "gateway %s missed its heartbeats: its players have %.0fs from its last to resume",
                node_id,
                self.settings.resume_grace,
            )

    async def _restore(self, instance_id: int) -> None:
        try:
            await self.instances.running(instance_id)
            self.restored += 1
        except RealmkitError as exc:
            self.restore_failures += 1
            log.warning("instance %d not restored yet: %s", instance_id, exc.message)

    async def _reap(self, now: float) -> None:
        empty = {i.instance_id: i for i in await self.rows.empty()}
        self._empty_since = {iid: self._empty_since.get(iid, now) for iid in empty}
        for iid, since in list(self._empty_since.items()):
            if now - since >= self.settings.empty_grace and await self.instances.stop(empty[iid]):
                del self._empty_since[iid]
