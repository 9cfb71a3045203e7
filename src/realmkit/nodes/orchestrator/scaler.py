"""The leader's scaling duty: feed ``realmkit.scaling`` and carry out its plan.

Each round it reads the ready world nodes with their players, keeps when
each last had a player and which launches are still under way (a launch is
done when the count of ready nodes grew, or given up after
``launch_timeout``), and makes the one change the rules ask for: launch a
node, or drain an idle one (live migration) and then retire it. What it keeps
in memory only delays a change after a failover, never causes one.
"""

from __future__ import annotations

import logging

from realmkit.nodes.orchestrator.instances import FRESH_HEARTBEAT, InstanceRegistry
from realmkit.nodes.orchestrator.launcher import Launcher
from realmkit.nodes.orchestrator.migration import Migrations
from realmkit.scaling import NodeLoad, launch_reason, plan
from realmkit.settings import ScalingSettings
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.orchestrator")


class Scaler:
    def __init__(
        self,
        db: Database,
        instances: InstanceRegistry,
        migrations: Migrations,
        launcher: Launcher,
        rules: ScalingSettings,
    ) -> None:
        self.cluster = ClusterRepo(db)
        self.instances = instances
        self.migrations = migrations
        self.launcher = launcher
        self.rules = rules
        self._busy_at: dict[str, float] = {}
        # (when, ready nodes then, name) of launches not yet seen ready.
        self._launches: list[tuple[float, int, str]] = []

    async def round(self, now: float) -> None:
        ready = await self.cluster.world_candidates(FRESH_HEARTBEAT)
        for c in ready:
            if c.players or c.node_id not in self._busy_at:
                self._busy_at[c.node_id] = now
        names = {c.node_id for c in ready}
        self._busy_at = {n: t for n, t in self._busy_at.items() if n in names}
        for launch in list(self._launches):
            when, before, name = launch
            if len(ready) > before:
                self._launches.remove(launch)
            elif now - when >= self.rules.launch_timeout:
                self._launches.remove(launch)
                log.warning(
                    "world node %s not ready after %.0fs: launch given up", name, now - when
                )
        loads = [
            NodeLoad(
                c.node_id,
                c.capacity,
                c.players,
                idle_for=now - self._busy_at[c.node_id],
                retirable=self.launcher.retirable(c.node_id),
            )
            for c in ready
        ]
        change = plan(loads, len(self._launches), self.rules)
        if change.launch:
            name = self.launcher.new_name()
            log.info("launching world node %s: %s", name, launch_reason(loads, self.rules))
            # Counted as under way even if it fails: the next try comes after
            # launch_timeout, not every round.
            self._launches.append((now, len(ready), name))
            await self.launcher.launch(name, change.wanted)
        elif change.retire is not None:
            log.info("retiring idle world node %s", change.retire)
            await self.migrations.drain(change.retire)
            await self.launcher.retire(change.retire, change.wanted)
            self._busy_at.pop(change.retire, None)
