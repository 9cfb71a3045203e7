"""Changing a continent's cells: a split, a merge or a border moved, under the
partition's lock.

A split:
1. the new layout is written (``PartitionRepo.relayout``: a compare-and-set on
   the version, the new cell's instance created in the same transaction);
2. the new cell's space is loaded on a world node other than the split cell's
   (placed by free room), so the hand-overs it is about to get have a receiver;
3. every cell of the old layout hears the new one (``Relayout``) and, at its
   next tick, hands what the layout gives to another cell to it.

A crash between 1 and 2 leaves the new cell's instance REQUESTED: the next
request for it (or the leader's restore) loads it. A cell that misses the
``Relayout`` keeps its old border until it hears of the layout otherwise;
nothing is doubled meanwhile, since only a hand-over moves an entity.

A merge writes the layout without the merged-away cell, and every cell of the
old layout hears it: the merged-away cell, no longer in the layout, hands all
it holds to the cell that took its area at its next tick (its players cross
as at any border). Its space keeps running, empty, until the leader stops it
(``retire``): a merged-away cell no live layout names, with nobody placed in
it, seen so for ``RETIRE_AFTER`` seconds.

A border move shifts the line of the split between two sibling cells (both
cells, both READY): the same cells and instances under the next version
(``PartitionRepo.relayout``, the same compare-and-set, no new instance), and
every cell of the old layout hears it. At its next tick each of the two hands
what now lies in the other's rectangle to it, as at a crossing (the players'
assignments move under ``epoch + 1``, their gateways re-pointed quietly); the
other cells only learn the new version and rectangles. A crash after the write
leaves the new layout: a cell loaded again runs it, keeps only the players the
assignments give it, and hands out the rest of what lies past its new border
by the ordinary crossing rule (more than the cross margin past it).

The leader also moves borders with the load (``balance``): each partition's
cells, their players (where they stand, by their last saves) and their tick
p99 (from the world nodes' reports) go to ``realmkit.cells.balance.decide``,
and at most one split, merge or border move per partition follows, then a
``cooldown``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cells.balance import (
    CellLoad,
    Cooldowns,
    MergeAway,
    MoveBorder,
    Rules,
    SplitAt,
    border,
    decide,
)
from realmkit.cells.border import Margins
from realmkit.cells.partition import Axis, Partition
from realmkit.errors import InvalidInput, NotFound, RealmkitError, Unavailable
from realmkit.lifecycle.instance import InstanceEvent, InstanceState
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.packs import PackCache
from realmkit.protocol.cells import Relayout
from realmkit.protocol.cluster import (
    CellsChanged,
    MergeCell,
    MoveCellBorder,
    SpaceLoad,
    SplitCell,
)
from realmkit.settings import CellSettings
from realmkit.sim.cell import fastest
from realmkit.store.cells import PartitionRepo, StoredPartition
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database

log = logging.getLogger("realmkit.orchestrator")

# A merged-away cell's space is stopped once it has been empty and unnamed this long.
RETIRE_AFTER = 3.0


def _no_continent(realm_id: int, map_id: int) -> NotFound:
    return NotFound(
        "continent",
        (realm_id, map_id),
        f"no continent runs on map {map_id} of realm {realm_id} (a continent starts with "
        "its first player; dungeons and battlegrounds have no cells)",
    )


class Cells:
    def __init__(
        self, db: Database, bus: NatsBus, packs: PackCache, instances: InstanceRegistry
    ) -> None:
        self.db = db
        self.bus = bus
        self.packs = packs
        self.instances = instances
        self.partitions = PartitionRepo(db)
        self.cluster = ClusterRepo(db)

    async def split(self, request: SplitCell) -> CellsChanged:
        try:
            axis = Axis(request.axis)
        except ValueError:
            raise InvalidInput("axis", "x or y") from None
        async with self.db.advisory_lock(f"partition:{request.realm_id}:{request.map_id}"):
            stored = await self.partitions.live(request.realm_id, request.map_id)
            if stored is None:
                raise _no_continent(request.realm_id, request.map_id)
            min_cell = await self.min_cell(request.realm_id, request.map_id)
            layout = stored.layout.split(request.cell_id, axis, request.at, min_cell)
            born = layout.next_cell - 1
            named: dict[int, int | None] = {c: r.instance_id for c, r in stored.cells.items()}
            split = await self.instances.rows.get(named[request.cell_id] or 0)
            if split.state is not InstanceState.READY:
                # Its entities on the new half are handed over live: not while it is away.
                raise Unavailable(f"cell {request.cell_id} is {split.state.value}; split it later")
            after = await self.partitions.relayout(stored, layout, {**named, born: None})
            try:
                await self.instances.running(after.cells[born].instance_id, avoid=split.node_id)
            except RealmkitError:
                # No node took the new half: the layout goes back to one cell there
                # (nobody heard of the split), under the next version, and the new
                # half's instance is given up (its node, if one loads it late, drops it).
                undone = after.layout.merge(born)
                await self.partitions.relayout(
                    after, undone, {c: after.cells[c].instance_id for c in undone.cells}
                )
                await self._give_up(after.cells[born].instance_id)
                raise
            await self._announce(stored, layout)
        log.info(
            "continent %d/%d: cell %d split at %s=%.1f, new cell %d (version %d)",
            request.realm_id,
            request.map_id,
            request.cell_id,
            axis.value,
            request.at,
            born,
            layout.version,
        )
        return CellsChanged(
            after.partition_id, after.version, {c: r.instance_id for c, r in after.cells.items()}
        )

    async def _give_up(self, instance_id: int) -> None:
        """A split's new half that never ran: GONE, whatever step it stopped at."""
        async with self.db.advisory_lock(f"instance:{instance_id}"):
            instance = await self.instances.rows.get(instance_id)
            if instance.state in (InstanceState.REQUESTED, InstanceState.LOADING):
                await self.instances.rows.move(instance, InstanceEvent.CANCEL)
            elif instance.state is InstanceState.UNHEALTHY:
                await self.instances.rows.move(instance, InstanceEvent.GIVE_UP)

    async def merge(self, request: MergeCell) -> CellsChanged:
        async with self.db.advisory_lock(f"partition:{request.realm_id}:{request.map_id}"):
            stored = await self.partitions.live(request.realm_id, request.map_id)
            if stored is None:
                raise _no_continent(request.realm_id, request.map_id)
            layout = stored.layout.merge(request.cell_id)
            for cell, row in stored.cells.items():
                if cell in (request.cell_id, stored.layout.sibling(request.cell_id)):
                    state = (await self.instances.rows.get(row.instance_id)).state
                    if state is not InstanceState.READY:
                        # Its entities must be handed over live: not while it is away.
                        raise Unavailable(f"cell {cell} is {state.value}; merge it later")
            after = await self.partitions.relayout(
                stored, layout, {c: stored.cells[c].instance_id for c in layout.cells}
            )
            await self._announce(stored, layout)
        gone = sorted(set(stored.cells) - set(layout.cells))
        log.info(
            "continent %d/%d: cell %s merged away (version %d)",
            request.realm_id,
            request.map_id,
            gone,
            layout.version,
        )
        return CellsChanged(
            after.partition_id, after.version, {c: r.instance_id for c, r in after.cells.items()}
        )

    async def move(self, request: MoveCellBorder) -> CellsChanged:
        """Move the border between a cell and its sibling: the same cells and instances
        under a new version, each cell handing what the line gave away to the other."""
        async with self.db.advisory_lock(f"partition:{request.realm_id}:{request.map_id}"):
            stored = await self.partitions.live(request.realm_id, request.map_id)
            if stored is None:
                raise _no_continent(request.realm_id, request.map_id)
            stored.layout.rect(request.cell_id)  # NotFound for a cell it does not have
            found = border(stored.layout, request.cell_id)
            if found is None and len(stored.layout.cells) == 1:
                raise InvalidInput(
                    "cell", "the continent is one cell: no border to move (split it first)"
                )
            if found is None:
                raise InvalidInput(
                    "cell",
                    f"cell {request.cell_id}'s sibling is split: no single border to move "
                    "(move a border between two cells, or merge first)",
                )
            min_cell = await self.min_cell(stored.realm_id, stored.map_id)
            lowest, highest = found.room(min_cell)
            if not lowest <= request.at <= highest:
                raise InvalidInput(
                    "at",
                    f"the border of cells {found.low} and {found.high} "
                    f"({found.axis.value}={found.at:g}) moves within "
                    f"{math.ceil(lowest * 10) / 10:g}-{math.floor(highest * 10) / 10:g}: "
                    f"both cells stay at least {min_cell:.1f} wide",
                )
            if request.at == found.at:
                raise InvalidInput(
                    "at", f"the border of cells {found.low} and {found.high} is at {found.at:g}"
                )
            layout = stored.layout.move(found.path, request.at, min_cell)
            for cell in (found.low, found.high):
                row = stored.cells[cell]
                state = (await self.instances.rows.get(row.instance_id)).state
                if state is not InstanceState.READY:
                    # The moved area's entities are handed over live: not while one is away.
                    raise Unavailable(f"cell {cell} is {state.value}; move its border later")
            after = await self.partitions.relayout(
                stored, layout, {c: r.instance_id for c, r in stored.cells.items()}
            )
            await self._announce(stored, layout)
        log.info(
            "continent %d/%d: border of cells %d and %d moved from %s=%.1f to %.1f (version %d)",
            request.realm_id,
            request.map_id,
            found.low,
            found.high,
            found.axis.value,
            found.at,
            request.at,
            layout.version,
        )
        return CellsChanged(
            after.partition_id, after.version, {c: r.instance_id for c, r in after.cells.items()}
        )

    async def min_cell(self, realm_id: int, map_id: int) -> float:
        """The narrowest a cell of this realm's map may be (twice its ghost margin)."""
        realm = await self.cluster.realm(realm_id)
        pack = await self.packs.get((await self.cluster.game(realm.game_id)).content_pack)
        return Margins.of_map(pack.maps[map_id], fastest(pack)).min_cell

    async def _announce(self, stored: StoredPartition, layout: Partition) -> None:
        """Every cell of the old layout runs the new one from its next tick."""
        message = Relayout(stored.partition_id, layout.dump())
        for cell in stored.cells:
            await self.bus.publish(subjects.cell_messages(stored.partition_id, cell), message)


class Balancer:
    """The leader's duties for cells: borders that follow the load, merged-away
    cells stopped (see the module)."""

    def __init__(self, cells: Cells, settings: CellSettings) -> None:
        self.cells = cells
        self.settings = settings
        self.cooldowns = Cooldowns(settings.cooldown)
        self._retired_since: dict[int, float] = {}
        self._looked_at = 0.0

    async def round(self, now: float, loads: Mapping[int, SpaceLoad]) -> None:
        """One look, at most every ``check_every`` seconds: stop what was merged away,
        then one change per partition whose load asks for it."""
        if now - self._looked_at < self.settings.check_every:
            return
        self._looked_at = now
        await self.retire(now)
        if not self.settings.balance:
            return
        for stored in await self.cells.partitions.all_live():
            pid = stored.partition_id
            if not self.cooldowns.ready(pid, stored.version, stored.age, now):
                continue
            try:
                if await self._balance(stored, loads):
                    self.cooldowns.changed(pid, now)
            except RealmkitError as exc:  # a concurrent change, a node without room...
                self.cooldowns.changed(pid, now)  # not again before the cooldown
                log.warning("cells of partition %d left as they are: %s", pid, exc.message)

    async def _balance(self, stored: StoredPartition, loads: Mapping[int, SpaceLoad]) -> bool:
        instances = {c: r.instance_id for c, r in stored.cells.items()}
        standing = await self.cells.partitions.standing(list(instances.values()))
        known = {}
        for cell, instance_id in instances.items():
            spots = standing[instance_id]
            load = loads.get(instance_id)
            known[cell] = CellLoad(
                len(spots),
                load.tick_p99_ms if load is not None else 0.0,
                tuple(x for x, _ in spots),
                tuple(y for _, y in spots),
            )
        rules = Rules(
            self.settings.split_players,
            self.settings.merge_players,
            self.settings.split_tick_ms,
            await self.cells.min_cell(stored.realm_id, stored.map_id),
        )
        change = decide(stored.layout, known, rules)
        if isinstance(change, SplitAt):
            log.info("cell %d of partition %d is busy: split", change.cell, stored.partition_id)
            await self.cells.split(
                SplitCell(stored.realm_id, stored.map_id, change.cell, change.axis.value, change.at)
            )
        elif isinstance(change, MergeAway):
            log.info("cell %d of partition %d is cold: merged", change.cell, stored.partition_id)
            await self.cells.merge(MergeCell(stored.realm_id, stored.map_id, change.cell))
        elif isinstance(change, MoveBorder):
            log.info(
                "cell %d of partition %d is busier than its sibling: border moved",
                change.cell,
                stored.partition_id,
            )
            await self.cells.move(
                MoveCellBorder(stored.realm_id, stored.map_id, change.cell, change.at)
            )
        return change is not None

    async def retire(self, now: float) -> None:
        """Stop the spaces of merged-away cells once they have been empty a while; one
        whose node died meanwhile is not restored, only given up (GONE)."""
        for instance_id in await self.cells.partitions.retired(InstanceState.UNHEALTHY):
            async with self.cells.db.advisory_lock(f"instance:{instance_id}"):
                instance = await self.cells.instances.rows.get(instance_id)
                if instance.state is InstanceState.UNHEALTHY:
                    await self.cells.instances.rows.move(instance, InstanceEvent.GIVE_UP)
                    log.info("instance %d given up: its cell was merged away", instance_id)
        retired = await self.cells.partitions.retired()
        self._retired_since = {i: self._retired_since.get(i, now) for i in retired}
        for instance_id, since in list(self._retired_since.items()):
            if now - since < RETIRE_AFTER:
                continue
            instance = await self.cells.instances.rows.get(instance_id)
            if await self.cells.instances.stop(instance):
                del self._retired_since[instance_id]
                log.info("instance %d stopped: its cell was merged away", instance_id)
