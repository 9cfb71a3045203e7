"""Realm restarts, carried out by the orchestrators' leader (``lifecycle/restart.py``).

Each round the leader:
1. asks for the daily restart of every realm when the node file sets
   ``[restarts] daily_at`` (once per realm and day, whoever leads);
2. tells the players of each realm with a pending restart at every countdown
   mark it passes (``realmkit.countdown``; the mark told is stored, so a new
   leader does not tell it again): an ``announce`` to each, through the
   gateway that holds it (``gateway.<id>.deliver``);
3. at its time, restarts the realm: every READY space of the realm (its
   continents' cells, its dungeons; not its pool's battlegrounds and arenas)
   is frozen by its node (its players saved, as for a live migration), its
   checkpoint forgotten, loaded again from its content on the same world node,
   and its players seated back from their saves through the hand-over
   (``Handover.reseat_all``): their clients see ``transfer_pending`` with the
   reason ``restart``, then ``new_world``, where they stood; nobody is logged
   out. Up to ``PARALLEL_SPACES`` spaces restart at once, each under its
   instance lock.
A space that cannot restart (its node does not answer) goes UNHEALTHY and crash
recovery brings it back; the restart is then FAILED, with the reason. A restart
left RUNNING by a leader that died is finished as FAILED by the next one, and
the spaces it left half-way (DRAINING or LOADING, nobody holding their lock)
go to crash recovery the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

from realmkit import countdown
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.errors import RealmkitError
from realmkit.lifecycle.instance import InstanceEvent, InstanceState
from realmkit.lifecycle.restart import RestartEvent, RestartState
from realmkit.nodes.announcing import tell_realm
from realmkit.nodes.orchestrator.handover import Handover
from realmkit.nodes.orchestrator.instances import (
    LOAD_TIMEOUT,
    PARALLEL_REATTACH,
    InstanceRegistry,
)
from realmkit.protocol.client import Announcement
from realmkit.protocol.cluster import FreezeSpace, Frozen
from realmkit.settings import RestartSettings
from realmkit.store.postgres import Database
from realmkit.store.records import Instance
from realmkit.store.restarts import RealmRestart, RestartRepo
from realmkit.store.spaces import CheckpointRepo

log = logging.getLogger("realmkit.orchestrator")

PARALLEL_SPACES = 4
NOW = "The realm restarts now: you will be back where you stand in a moment."


class Restarts:
    def __init__(
        self,
        db: Database,
        bus: NatsBus,
        instances: InstanceRegistry,
        handover: Handover,
        settings: RestartSettings,
    ) -> None:
        self.db = db
        self.bus = bus
        self.instances = instances
        self.handover = handover
        self.settings = settings
        self.repo = RestartRepo(db)
        self.checkpoints = CheckpointRepo(db)
        self._daily_asked: float | None = None
        # The restarts this process carries out now, by realm.
        self._running: dict[int, asyncio.Task[None]] = {}
        self._gate = asyncio.Semaphore(PARALLEL_SPACES)
        self.done = 0
        self.failed = 0

    async def round(self) -> None:
        if self.settings.daily_at:
            due = countdown.next_daily(await self.repo.clock(), self.settings.daily_at)
            if due != self._daily_asked:
                for asked in await self.repo.daily(due):
                    log.info("realm %s restarts daily at %s", asked.realm, asked.due_at.isoformat())
                self._daily_asked = due
        for restart in await self.repo.open():
            if restart.realm_id in self._running:
                continue
            if restart.state is RestartState.RUNNING:
                await self._abandoned(restart)
            elif restart.remaining <= 0:
                task = asyncio.create_task(self._carry_out(restart), name="realm-restart")
                self._running[restart.realm_id] = task
                task.add_done_callback(partial(self._finished, restart.realm_id))
            else:
                await self._count_down(restart)

    def _finished(self, realm_id: int, task: asyncio.Task[None]) -> None:
        self._running.pop(realm_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("realm %d restart stopped", realm_id, exc_info=task.exception())

    async def close(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _count_down(self, restart: RealmRestart) -> None:
        mark = countdown.mark_to_tell(
            restart.remaining, self.settings.warnings, restart.warned_seconds
        )
        if mark is None or not await self.repo.warned(restart.restart_id, mark):
            return
        seconds = max(1, round(restart.remaining))
        told = await self.tell(
            restart.realm_id, Announcement("restart", countdown.warning(seconds), seconds)
        )
        log.info("realm %s restarts in %d s: %d players told", restart.realm, seconds, told)

    async def tell(self, realm_id: int, message: Announcement) -> int:
        return await tell_realm(self.db, self.bus, realm_id, message)

    async def _carry_out(self, restart: RealmRestart) -> None:
        started = time.perf_counter()
        if await self.repo.move(restart.restart_id, RestartEvent.BEGIN) is None:
            return  # cancelled, or another leader began it
        await self.tell(restart.realm_id, Announcement("restart", NOW, 0))
        spaces = [
            i
            for i in await self.instances.rows.of_realm(restart.realm_id)
            if i.state is InstanceState.READY
        ]
        outcomes = await asyncio.gather(
            *(self._restart_space(i) for i in spaces), return_exceptions=True
        )
        failures = []
        players = 0
        for space, outcome in zip(spaces, outcomes, strict=True):
            if isinstance(outcome, RealmkitError):
                failures.append(f"instance {space.instance_id}: {outcome.message}")
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                players += outcome
        seconds = time.perf_counter() - started
        event = RestartEvent.FAIL if failures else RestartEvent.FINISH
        detail = "; ".join(failures) or f"{seconds:.1f} s"
        await self.repo.move(
            restart.restart_id, event, spaces=len(spaces), players=players, detail=detail
        )
        if failures:
            self.failed += 1
            log.warning(
                "realm %s restart failed for %d of %d spaces (crash recovery brings them back): %s",
                restart.realm,
                len(failures),
                len(spaces),
                detail,
            )
        else:
            self.done += 1
            log.info(
                "realm %s restarted: %d spaces, %d players back where they stood in %.1f s",
                restart.realm,
                len(spaces),
                players,
                seconds,
            )

    async def _restart_space(self, instance: Instance) -> int:
        """Freeze the space, forget its checkpoint, load it again from its content on
        the same world node (it had room for it, its players included) and seat its
        players back; how many were seated. Past the freeze, a step that fails leaves
        the instance UNHEALTHY for crash recovery, never frozen and forgotten."""
        ins = self.instances
        iid = instance.instance_id
        async with self._gate, ins.restoring, self.db.advisory_lock(f"instance:{iid}"):
            current = await ins.rows.get(iid)
            if current.state is not InstanceState.READY or current.node_id is None:
                return 0  # it went away or broke meanwhile: recovery has it
            if await ins.merged_away(current):
                return 0  # a cell merged away: the balancer stops it, nobody restarts it
            node_id = current.node_id
            drained = await ins.rows.move(current, InstanceEvent.DRAIN)
            try:
                await self.bus.request(
                    subjects.node_control(node_id), FreezeSpace(iid), Frozen, timeout=LOAD_TIMEOUT
                )
                await self.checkpoints.drop(iid)
                loading = await ins.rows.move(drained, InstanceEvent.RESTART, node_id)
                await ins.load(loading, fresh=True)
                ready = await ins.rows.move(loading, InstanceEvent.LOADED)
            except RealmkitError:
                await self._to_recovery(iid)
                raise
            return await self.handover.reseat_all(ready, "restart", PARALLEL_REATTACH)

    async def _to_recovery(self, instance_id: int) -> None:
        """A space its restart left DRAINING or LOADING goes UNHEALTHY: the leader
        restores it (from its content: its checkpoint is gone) and seats its players."""
        current = await self.instances.rows.get(instance_id)
        if current.state in (InstanceState.DRAINING, InstanceState.LOADING):
            await self.instances.rows.move(current, InstanceEvent.FAIL)

    async def _abandoned(self, restart: RealmRestart) -> None:
        """A restart its leader left RUNNING: what it left half-way goes to recovery."""
        left = []
        for instance in await self.instances.rows.of_realm(restart.realm_id):
            if instance.state not in (InstanceState.DRAINING, InstanceState.LOADING):
                continue
            async with self.db.advisory_lock(f"instance:{instance.instance_id}"):
                await self._to_recovery(instance.instance_id)
                left.append(instance.instance_id)
        detail = f"its leader stopped half-way; instances {left} restored by recovery"
        if await self.repo.move(restart.restart_id, RestartEvent.FAIL, detail=detail):
            self.failed += 1
            log.warning("realm %s restart: %s", restart.realm, detail)
