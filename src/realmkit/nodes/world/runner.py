"""Drives one ``Space`` at its map's tick rate and flushes what it produces.

The space is only touched from this event loop's thread, between ticks or
inside one, so it needs no lock. Per tick: step, publish one frame per
gateway that has players here (only that gateway's observers), publish the
events that concern each gateway's players, and queue database work.

Database work (granting looted items, reserving item-id blocks, saving
characters) runs in order on one writer task, so the tick never waits for
PostgreSQL and a save is never written before the grants that preceded it.
Saves are fenced by the epoch each player joined with. Every few seconds the
whole space is snapshotted and written as its checkpoint (fenced by the
instance row), so another node can restore it after a crash.

A player stepping into a portal is the orchestrator's business: the runner
asks it (``UsePortal``) off the tick and carries on. So is a player that
crossed into this cell from a neighbour: the cell plays it at once, under the
epoch the hand-over carried, and asks the orchestrator (``CrossCell``) to
move its assignment here under the next epoch; until the answer, its inputs
still reach the old cell, which forwards them. A cell that missed a new
layout (``Relayout``) reads it from PostgreSQL as soon as a neighbour writes to
it under a newer one, and every few seconds in any case. A match space's decided
win rule (``MatchWon``) goes to the matchmaker as ``MatchDecided``.

Timing: ticks are scheduled on a fixed grid (drift-corrected). A tick that
starts late is still run once; the ticks it should have overlapped are
counted in ``late_ticks``, never queued (back-pressure, not a pile-up). Under
time dilation (``[instances] time_dilation``, for benchmarks) the grid is that
many times wider; the space's own clock counts ticks, so it does not notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from typing import Any

import msgspec

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cells.ghosts import Incarnations
from realmkit.cells.handover import Resends
from realmkit.cells.partition import Partition
from realmkit.content.schema import ContentPack
from realmkit.errors import Conflict, ContentError, RealmkitError, RemoteError, Unavailable
from realmkit.nodes.content import Scope, Version
from realmkit.nodes.world.crossings import Crossings
from realmkit.nodes.world.metrics import SpaceMeter, detached_meter
from realmkit.protocol.cells import (
    CellEvents,
    CellMessage,
    ForwardedInput,
    GhostBatch,
    GhostHit,
    Handoff,
    Heard,
    Relayout,
)
from realmkit.protocol.cluster import (
    CellCost,
    CrossCell,
    Crossed,
    GatewayEvents,
    InputBatch,
    Occupant,
    Placement,
    PlayerInput,
    UsePortal,
)
from realmkit.protocol.events import (
    Event,
    ItemIdsNeeded,
    LootGranted,
    MatchWon,
    PortalReached,
    concerned,
)
from realmkit.protocol.frames import select_observers
from realmkit.protocol.matchmaking import MatchDecided
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState
from realmkit.store.characters import CharacterRepo, ItemRepo
from realmkit.store.records import CharacterSave
from realmkit.store.spaces import CheckpointRepo

log = logging.getLogger("realmkit.world")

SAVE_EVERY_SECONDS = 5.0
CHECKPOINT_EVERY_SECONDS = 3.0
PORTAL_TIMEOUT = 10.0
# How long a crossing waits for the orchestrators, and how often it is asked
# again while this cell's instance is not READY (being moved).
CROSS_PATIENCE = 20.0
CROSS_ATTEMPTS = 5
CROSS_RETRY_SECONDS = 0.5
# A seated player's ownership version is its epoch shifted by this: above every
# version its older bodies reached by crossings (one each).
OWNERSHIP_EPOCH_SHIFT = 24
# How often a cell looks at the crossings out of it that are not placed yet.
REVIEW_SECONDS = 0.5
# How often a cell reads its partition's layout, in case it missed a ``Relayout``.
LAYOUT_CHECK_SECONDS = 5.0
TICK_SAMPLES = 400
# How long database work waits for an unreachable PostgreSQL before it is dropped.
STORE_PATIENCE = 120.0
JOB_ATTEMPTS = 5


class SpaceRunner:
    def __init__(
        self,
        space: Space,
        instance_id: int,
        tick_rate: int,
        bus: NatsBus,
        characters: CharacterRepo,
        items: ItemRepo,
        checkpoints: CheckpointRepo,
        node_id: str,
        *,
        version: Version | None = None,
        scope: Scope | None = None,
        crossings: Crossings | None = None,
        time_dilation: float = 1.0,
        meter: SpaceMeter | None = None,
    ) -> None:
        self.space = space
        # Its latencies for Prometheus (a runner outside a node keeps them unseen).
        realm_id = None if scope is None else scope.realm_id
        self.meter = meter or detached_meter(realm_id, space.world.map.id, instance_id)
        # Ticks are this many times farther apart than the map's rate asks.
        self.time_dilation = time_dilation
        space.clock = time.perf_counter  # its ghost work is measured (``cell_cost``)
        # A cell's players handed to a neighbour, until their crossing is placed.
        self.crossings = crossings
        # The content version the space runs, and whose patch it follows.
        self.version = version
        self.scope = scope
        self._next_content: ContentPack | None = None
        # A pool's cross-realm space (battleground, arena, dungeon finder) is not
        # its players' home: their saves keep the home position and health, so
        # after the match they return to where they queued from.
        self.away_from_home = scope is not None and scope.realm_id is None
        self.checkpoints = checkpoints
        self.node_id = node_id
        self.instance_id = instance_id
        self.tick_rate = tick_rate
        self.bus = bus
        self.characters = characters
        self.items = items
        self.occupants: dict[int, Occupant] = {}
        # A cell's incarnation, and the latest heard of each neighbour's.
        self.cell_epoch = 0
        self.incarnations = Incarnations()
        # Creatures handed to a neighbour, sent again to its next incarnation.
        self.resends: Resends[Handoff] = Resends()
        self.tick_seconds: deque[float] = deque(maxlen=TICK_SAMPLES)
        # What being a cell costs (``CellCost``): since the space was loaded.
        self.crossing_ms: deque[float] = deque(maxlen=TICK_SAMPLES)
        self.crossed_in = 0
        self.ghost_bytes: dict[int, int] = {}
        self.cell_seconds = 0.0
        self.ticks_run = 0
        self.tick_seconds_total = 0.0
        self._arriving: dict[int, float] = {}  # player -> when its old owner's tick began
        self._tick_began = 0.0
        self.late_ticks = 0
        self.failed_ticks = 0
        self.stale_saves = 0
        self.saves = 0
        self._halting = False
        self._checkpointing: asyncio.Task[None] | None = None
        self._catching_up: asyncio.Task[None] | None = None
        self._asks: set[asyncio.Task[None]] = set()
        self._jobs: asyncio.Queue[Callable[[], Awaitable[object]]] = asyncio.Queue()
        self._last_job: Callable[[], Awaitable[object]] | None = None
        self._leaving: list[tuple[CharacterSave, int, asyncio.Future[bool]]] | None = None
        self._leaving_job: Callable[[], Awaitable[object]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._save_every = max(1, round(SAVE_EVERY_SECONDS * tick_rate))
        self._checkpoint_every = max(1, round(CHECKPOINT_EVERY_SECONDS * tick_rate))

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._ticking(), name=f"space-{self.instance_id}"),
            asyncio.create_task(self._writing(), name=f"space-{self.instance_id}-writer"),
        ]
        if self.crossings is not None:
            name = f"space-{self.instance_id}-crossings"
            self._tasks.append(asyncio.create_task(self._reviewing(self.crossings), name=name))

    async def halt(self) -> None:
        """Stop ticking after the tick in progress (the space stays as it is)."""
        self._halting = True
        if self._tasks:
            await asyncio.wait({self._tasks[0]})

    async def stop(self) -> None:
        """Save everyone still here, finish queued writes, stop the tasks."""
        await self.halt()
        self._queue_saves(self.space.saves_to_write())
        await self._finish_writes()

    async def freeze(self) -> int:
        """Halt, flush every save, write the checkpoint last; the tick it stopped at."""
        await self.halt()
        self._queue_saves(self.space.saves_to_write())
        blob, tick = self.space.snapshot(), self.space.tick
        await self._finish_writes()
        if self._checkpointing is not None:
            await asyncio.wait({self._checkpointing})
        await self.checkpoints.write(self.instance_id, self.node_id, tick, blob)
        return tick

    def abandon(self) -> None:
        """This node lost the space (declared dead meanwhile): stop without writing."""
        for task in (*self._tasks, *self._asks):
            task.cancel()
        for lane in (self._checkpointing, self._catching_up):
            if lane is not None:
                lane.cancel()

    async def _finish_writes(self) -> None:
        await self._jobs.join()
        for task in (*self._tasks[1:], *self._asks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- players --------------------------------------------------------------

    def join(self, state: PlayerState, occupant: Occupant, team: int = 0) -> None:
        self.space.add_player(state, team)
        self.occupants[occupant.character_id] = occupant
        if self.space.cell is not None:
            # Seated under a new epoch: its body outranks every older one (each
            # crossing adds one to the version; epochs grow with every seat).
            self.space.claim(state.character_id, occupant.epoch << OWNERSHIP_EPOCH_SHIFT)

    async def leave(self, character_id: int) -> tuple[Occupant, bool]:
        """Take the player out and write its final save; (occupant, saved).

        Players leaving together (a match starting: dozens of hand-offs at once)
        share one write: a leave joins the batch of the last queued job when that
        job is such a batch, so no write overtakes work queued before it.
        """
        occupant = self.occupants.pop(character_id)
        final = self.space.remove_player(character_id)
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry = (CharacterSave.of(final), occupant.epoch, done)
        if self._leaving is not None and self._last_job is self._leaving_job:
            self._leaving.append(entry)
        else:
            batch = [entry]

            async def write() -> None:
                await self._write_leaves(batch)

            self._leaving, self._leaving_job = batch, write
            self._put(write)
        return occupant, await done

    async def _write_leaves(
        self, batch: list[tuple[CharacterSave, int, asyncio.Future[bool]]]
    ) -> None:
        if self._leaving is batch:  # running: later leaves start a batch of their own
            self._leaving = self._leaving_job = None
        saved = await self._save_batch([(save, epoch) for save, epoch, _ in batch])
        for save, _, done in batch:
            if not done.done():
                done.set_result(save.character_id in saved)

    def _put(self, job: Callable[[], Awaitable[object]]) -> None:
        self._last_job = job
        self._jobs.put_nowait(job)

    def save_now(self, character_id: int) -> None:
        """Queue a save of the player as it stands."""
        self._queue_saves([self.space.player_state(character_id)])

    def use_content(self, pack: ContentPack, version: Version) -> None:
        """Switch to another content version at the next tick boundary."""
        self._next_content = pack
        self.version = version

    def receive(self, batch: InputBatch) -> None:
        for item in batch.inputs:
            occupant = self.occupants.get(item.character_id)
            # A gateway may only speak for its own players.
            if occupant is not None and occupant.gateway_id == batch.gateway_id:
                self.space.receive_input(item.character_id, item.input)
            elif self.space.cell is not None:
                self._forward(batch.gateway_id, item)

    async def _cross(self, handoff: Handoff) -> None:
        """The assignment of a player handed here follows it (see the module).

        Refused means the character was seated elsewhere meanwhile (a resume
        after its gateway died): this body is stale and goes, unsaved."""
        role = self.space.cell
        assert role is not None
        cid, game_map = handoff.entity_id, self.space.world.map
        ask = CrossCell(
            cid,
            role.partition_id,
            self.instance_id,
            handoff.epoch,
            handoff.ownership,
            game_map.id,
            self.tick_rate,
            game_map.bounds,
        )
        for attempt in range(CROSS_ATTEMPTS):
            try:
                crossed = await self.bus.request_patiently(
                    subjects.ORCHESTRATOR_REQUESTS, ask, Crossed, within=CROSS_PATIENCE
                )
                break
            except RemoteError as exc:  # this cell's instance is being moved: again
                if exc.remote_code != Conflict.code or attempt + 1 == CROSS_ATTEMPTS:
                    log.warning("crossing of %d into %d: %s", cid, self.instance_id, exc.message)
                    return
            except RealmkitError as exc:
                log.warning("crossing of %d into %d: %s", cid, self.instance_id, exc.message)
                return
            await asyncio.sleep(CROSS_RETRY_SECONDS)
        occupant = self.occupants.get(cid)
        if occupant is None or self.space.ownership(cid) != handoff.ownership:
            self._arriving.pop(cid, None)
            return  # it moved on (crossed again, or left): that cell asks for itself
        if crossed.placed or crossed.instance_id == self.instance_id:
            # Placed (or placed by an earlier attempt whose answer was lost).
            if crossed.epoch > occupant.epoch:
                self.occupants[cid] = msgspec.structs.replace(occupant, epoch=crossed.epoch)
            return
        log.warning(
            "character %d was seated in %d under epoch %d meanwhile: its body here goes",
            cid,
            crossed.instance_id,
            crossed.epoch,
        )
        self._drop(cid)

    def _drop(self, cid: int) -> None:
        """Someone else plays the character now: this body goes, unsaved."""
        del self.occupants[cid]
        self._arriving.pop(cid, None)
        self.space.remove_player(cid)

    async def _reviewing(self, crossings: Crossings) -> None:
        """Crossings out of this cell that were never placed are taken back; now and
        then the layout is read again (``_catch_up``)."""
        reviews = 0
        while not self._halting:
            await asyncio.sleep(REVIEW_SECONDS)
            reviews += 1
            try:
                for handoff in await crossings.review():
                    self._take_back(handoff)
            except RealmkitError as exc:
                log.warning("crossings of space %d not reviewed: %s", self.instance_id, exc.message)
            if reviews % round(LAYOUT_CHECK_SECONDS / REVIEW_SECONDS) == 0:
                await self._catch_up(crossings, heard=False)

    def _heard_version(self, version: int) -> None:
        """A neighbour wrote under a newer layout than this cell runs: this cell
        missed its ``Relayout`` (the bus delivers at most once) and reads it."""
        role = self.space.cell
        if self.crossings is None or role is None or version <= role.partition.version:
            return
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._catch_up(self.crossings, heard=True))

    async def _catch_up(self, crossings: Crossings, *, heard: bool) -> None:
        """Run the partition's layout as PostgreSQL has it, when it is newer than this
        cell's: what it gives to another cell is handed out at the next tick, as after
        a ``Relayout``."""
        role = self.space.cell
        assert role is not None
        try:
            stored = await crossings.partitions.get(role.partition_id)
        except RealmkitError as exc:
            log.warning("layout of space %d not read: %s", self.instance_id, exc.message)
            return
        if self.space.relayout(stored.layout):
            # Usual right after a split, when a neighbour's first ghosts come before
            # the announcement (``heard``); a warning when nothing told this cell.
            log.log(
                logging.INFO if heard else logging.WARNING,
                "space %d heard of the layout of version %d from the store: runs it now",
                self.instance_id,
                stored.layout.version,
            )

    def _take_back(self, handoff: Handoff) -> None:
        """Play a player this cell handed over again, from what it handed (see
        ``crossings``), as if the neighbour had handed it back."""
        role = self.space.cell
        assert role is not None
        ownership = handoff.ownership + 1
        back = msgspec.structs.replace(
            handoff,
            from_cell=handoff.to_cell,
            to_cell=role.cell,
            ownership=ownership,
            row={**handoff.row, "version": ownership},
            from_epoch=0,  # from this cell itself: no neighbour's incarnation
        )
        log.warning(
            "crossing of %d into cell %d was never placed: taken back",
            handoff.entity_id,
            handoff.to_cell,
        )
        self.from_cell(back)

    async def _settle(self, crossings: Crossings, refused: list[int]) -> None:
        """Refused saves of a cell's players: a newer epoch here is adopted, a body
        someone else plays now goes, unsaved (``Crossings.settle``)."""
        adopt, drop = await crossings.settle(refused, self.occupants)
        for cid, epoch in adopt.items():
            occupant = self.occupants.get(cid)
            if occupant is not None and occupant.epoch < epoch:
                self.occupants[cid] = msgspec.structs.replace(occupant, epoch=epoch)
        for cid in drop:
            if cid in self.occupants:
                log.warning("character %d is played elsewhere now: its body here goes", cid)
                self._drop(cid)

    def _ask(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._asks.add(task)
        task.add_done_callback(self._asks.discard)

    def _forward(self, gateway_id: str, item: PlayerInput) -> None:
        """An input for a player this cell handed to a neighbour follows it there, on
        the subject the hand-over took, so it arrives after it (CELLS.md case 5)."""
        role = self.space.cell
        if role is None or self.crossings is None:
            return
        onward = self.crossings.forward_to(item.character_id, gateway_id)
        if onward is None:
            return
        subject = subjects.cell_messages(role.partition_id, onward)
        forwarded = ForwardedInput(gateway_id, item.character_id, item.input)
        self._ask(self.bus.publish(subject, forwarded))

    def from_cell(self, message: CellMessage) -> None:
        """What a neighbouring cell sends: ghosts, a hand-over, a hit, a new layout,
        or inputs that followed a player handed here."""
        if isinstance(message, GhostBatch | Handoff):
            source = message.source_cell if isinstance(message, GhostBatch) else message.from_cell
            epoch = message.epoch if isinstance(message, GhostBatch) else message.from_epoch
            if self.incarnations.renewed(source, epoch):
                self._resend(source)
            if not self.incarnations.heard(source, epoch):
                return  # an older incarnation of that cell, still running somewhere
            self._heard_version(message.version)
        if (
            isinstance(message, GhostHit)
            and message.source_cell
            and not self.incarnations.heard(message.source_cell, message.epoch)
        ):
            return  # as above: hits are fenced like ghosts and hand-overs
        if isinstance(message, GhostBatch):
            started = time.perf_counter()
            self.space.receive_ghosts(
                message.source_cell, message.version, message.source_tick, message.rows()
            )
            self.cell_seconds += time.perf_counter() - started
        elif isinstance(message, Handoff):
            taken = self.space.take_handoff(message)
            if taken:
                self.resends.back(message.entity_id)
            if taken and message.player is not None:
                self.occupants[message.entity_id] = Occupant(
                    message.entity_id, message.epoch, message.gateway_id
                )
                self.crossed_in += 1
                if message.sent_at:
                    self._arriving[message.entity_id] = message.sent_at
                if self.crossings is not None:
                    self.crossings.arrived(message.entity_id)
                self._ask(self._cross(message))
        elif isinstance(message, GhostHit):
            self.space.receive_hit(message)
        elif isinstance(message, Relayout):
            self.space.relayout(Partition.load(message.layout))
        elif isinstance(message, CellEvents):
            self._ask(self._deliver(message.events))
        elif isinstance(message, Heard):
            self.space.hear(message)
        else:
            item = PlayerInput(message.character_id, message.input)
            self.receive(InputBatch(message.gateway_id, [item]))

    def _resend(self, cell: int) -> None:
        """``cell`` was loaded again (restored or moved): the creatures handed to it
        lately go again, in case its checkpoint was older than their hand-over (it
        refuses those it holds). Not those that came back here since."""
        role = self.space.cell
        if role is None:
            return
        again = [
            msgspec.structs.replace(
                h,
                version=role.partition.version,
                from_epoch=self.cell_epoch,
                sent_at=0.0,
                again=True,
            )
            for h in self.resends.renewed(cell, time.monotonic())
            if self.space.ownership(h.entity_id) is None
        ]
        if again:
            log.info("cell %d came back: %d creatures handed to it sent again", cell, len(again))
        subject = subjects.cell_messages(role.partition_id, cell)
        for handoff in again:
            self._ask(self.bus.publish(subject, handoff))

    @property
    def continent(self) -> int:
        """The partition this space is a cell of, else 0."""
        role = self.space.cell
        return role.partition_id if role is not None else 0

    def cell_cost(self) -> CellCost | None:
        """What being a cell has cost this space so far (None: not a cell)."""
        role = self.space.cell
        if role is None:
            return None
        return CellCost(
            self.crossed_in,
            list(self.crossing_ms),
            dict(self.ghost_bytes),
            self.cell_seconds + role.work_seconds,
            self.tick_seconds_total,
            self.ticks_run,
            role.work_seconds,
        )

    def tick_p99_ms(self) -> float:
        if not self.tick_seconds:
            return 0.0
        ordered = sorted(self.tick_seconds)
        return 1000.0 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]

    # --- the tick ---------------------------------------------------------------

    async def _ticking(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.time_dilation / self.tick_rate
        deadline = loop.time()
        tick = self.space.tick
        while not self._halting:
            tick += 1
            started = time.perf_counter()
            self._tick_began = time.time()
            try:
                await self._tick(tick)
            except RealmkitError as exc:
                # NATS away fails every tick: its adapter logs the outage once.
                self.failed_ticks += 1
                log.log(
                    exc.log_level,
                    "space %d tick %d failed: %s",
                    self.instance_id,
                    tick,
                    exc.message,
                )
            except Exception:
                # One bad tick must not stop the space: log it and keep the beat.
                self.failed_ticks += 1
                log.exception("space %d tick %d failed", self.instance_id, tick)
            took = time.perf_counter() - started
            self.tick_seconds.append(took)
            self.meter.tick_seconds.observe(took)
            self.tick_seconds_total += took
            self.ticks_run += 1
            deadline += period
            behind = loop.time() - deadline
            if behind > 0:
                missed = int(behind / period)
                self.late_ticks += missed
                deadline += missed * period
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    async def _tick(self, tick: int) -> None:
        if self._next_content is not None:
            pack, self._next_content = self._next_content, None
            try:
                self.space.apply_content(pack)
                log.info("space %d now runs %s", self.instance_id, self.version)
            except ContentError as exc:  # the space is left as it was
                log.error("space %d keeps its content: %s", self.instance_id, exc.message)
        self.space.step(tick, frame=self.space.frame_due(tick))
        frames = self.space.frames_to_send()
        # Which gateway serves whom, read once for the frames and events of this tick
        # (a tick without either, every other one at 10 frames a second, needs none).
        by_gateway = self._by_gateway() if frames else None
        for frame in frames:
            assert by_gateway is not None
            for gateway_id, players in by_gateway.items():
                part = select_observers(frame, players)
                await self.bus.publish(subjects.gateway_frames(gateway_id), part)
        if self._arriving:
            now = time.time()
            for cid in list(self._arriving):
                if cid in self.occupants:
                    self.crossing_ms.append(1000.0 * (now - self._arriving.pop(cid)))
                elif now - self._arriving[cid] > 1.0:
                    del self._arriving[cid]  # it left before its first frame here
        events = self.space.events_to_emit()
        if events:
            await self._route(tick, events, by_gateway or self._by_gateway())
        if self.space.cell is not None:
            await self._to_neighbours(tick)
        if tick % self._save_every == 0:
            self._queue_saves(self.space.saves_to_write())
        if tick % self._checkpoint_every == 0 and (
            self._checkpointing is None or self._checkpointing.done()
        ):
            # Its own lane: saves never wait behind a snapshot write. A checkpoint
            # still being written when the next is due makes that one skip.
            self._checkpointing = asyncio.create_task(self._checkpoint(self.space.snapshot(), tick))

    def _by_gateway(self) -> dict[str, set[int]]:
        by_gateway: dict[str, set[int]] = {}
        for occupant in self.occupants.values():
            by_gateway.setdefault(occupant.gateway_id, set()).add(occupant.character_id)
        return by_gateway

    async def _to_neighbours(self, tick: int) -> None:
        """Ghosts to every neighbour, hand-overs and hits to their cells."""
        role = self.space.cell
        assert role is not None
        started = time.perf_counter()
        pid, version = role.partition_id, role.partition.version
        for cell, rows in self.space.ghosts_to_send().items():
            batch = GhostBatch.of(pid, version, role.cell, tick, rows, self.cell_epoch)
            self.ghost_bytes[cell] = self.ghost_bytes.get(cell, 0) + sum(
                len(col) for col in batch.cols.values()
            )
            await self.bus.publish(subjects.cell_messages(pid, cell), batch)
        for handoff in self.space.handoffs_to_send():
            handoff = msgspec.structs.replace(
                handoff, sent_at=self._tick_began, from_epoch=self.cell_epoch
            )
            occupant = self.occupants.pop(handoff.entity_id, None)
            if occupant is not None:
                handoff = msgspec.structs.replace(
                    handoff, epoch=occupant.epoch, gateway_id=occupant.gateway_id
                )
                if self.crossings is not None:
                    self.crossings.sent(handoff)
            else:
                self.resends.sent(handoff.entity_id, handoff.to_cell, handoff, time.monotonic())
            await self.bus.publish(subjects.cell_messages(pid, handoff.to_cell), handoff)
        for hit in self.space.hits_to_send():
            hit = msgspec.structs.replace(hit, source_cell=role.cell, epoch=self.cell_epoch)
            await self.bus.publish(subjects.cell_messages(pid, hit.owner_cell), hit)
        self.cell_seconds += time.perf_counter() - started

    async def _route(self, tick: int, events: list[Event], by_gateway: dict[str, set[int]]) -> None:
        for event in events:
            if isinstance(event, ItemIdsNeeded):
                self._put(self._reserve_ids)
            elif isinstance(event, LootGranted):
                self._put(partial(self._grant, event))
            elif isinstance(event, PortalReached) and event.character_id in self.occupants:
                self._ask(self._use_portal(event))
            elif isinstance(event, MatchWon):
                await self._announce(event)
        await self._deliver(events, tick, by_gateway)
        role = self.space.cell
        if role is not None:
            pid = role.partition_id
            for cell, mine in self.space.events_across(events).items():
                across = CellEvents(pid, role.cell, mine)
                await self.bus.publish(subjects.cell_messages(pid, cell), across)
            for cell, said in self.space.speech_across(events).items():
                for heard in said:
                    await self.bus.publish(subjects.cell_messages(pid, cell), heard)

    async def _deliver(
        self,
        events: list[Event],
        tick: int | None = None,
        by_gateway: dict[str, set[int]] | None = None,
    ) -> None:
        """Each event to the gateways of the players here it concerns."""
        if by_gateway is None:
            by_gateway = self._by_gateway()
        for gateway_id, players in by_gateway.items():
            mine = [e for e in events if concerned(e) & players]
            if mine:
                at = self.space.tick if tick is None else tick
                message = GatewayEvents(self.instance_id, at, mine, self.continent)
                await self.bus.publish(subjects.gateway_frames(gateway_id), message)

    # --- database work, in order ------------------------------------------------

    def _queue_saves(self, states: list[PlayerState]) -> None:
        """One job writes them all, in one statement."""
        batch = [
            (CharacterSave.of(state), self.occupants[state.character_id].epoch)
            for state in states
            if state.character_id in self.occupants
        ]
        if batch:
            self._put(partial(self._save_batch, batch))

    async def _save_batch(self, batch: list[tuple[CharacterSave, int]]) -> set[int]:
        with self.meter.save_seconds.time():
            saved = await self.characters.save_many(batch, keep_home=self.away_from_home)
        self.saves += len(saved)
        refused = []
        for save, epoch in batch:
            if save.character_id not in saved:
                self.stale_saves += 1
                refused.append(save.character_id)
                log.warning("stale save refused: character %d epoch %d", save.character_id, epoch)
        if refused and self.crossings is not None:
            await self._settle(self.crossings, refused)
        return saved

    async def _grant(self, event: LootGranted) -> None:
        await self.items.grant(
            event.item_id, event.template_id, event.character_id, stack_count=event.count
        )

    async def _checkpoint(self, blob: bytes, tick: int) -> None:
        try:
            with self.meter.checkpoint_seconds.time():
                await self.checkpoints.write(self.instance_id, self.node_id, tick, blob)
        except RealmkitError as exc:
            log.warning("checkpoint of space %d skipped: %s", self.instance_id, exc.message)

    async def _use_portal(self, event: PortalReached) -> None:
        ask = UsePortal(event.character_id, self.instance_id, event.portal_id)
        try:
            await self.bus.request(
                subjects.ORCHESTRATOR_REQUESTS, ask, Placement, timeout=PORTAL_TIMEOUT
            )
        except RealmkitError as exc:
            log.warning(
                "portal %d for character %d: %s", event.portal_id, event.character_id, exc.message
            )

    async def _announce(self, event: MatchWon) -> None:
        """Tell the matchmaker the match is decided (it ends the match by time otherwise)."""
        decided = MatchDecided(self.instance_id, event.winner)
        try:
            await self.bus.publish(subjects.space_results(self.instance_id), decided)
        except RealmkitError as exc:
            log.warning("result of space %d not published: %s", self.instance_id, exc.message)

    async def _reserve_ids(self) -> None:
        block = await self.items.reserve_ids()
        self.space.add_item_ids(block.start, block.stop)

    async def _writing(self) -> None:
        while True:
            job = await self._jobs.get()
            try:
                await _patiently(job)
            except Exception:
                log.exception("database work for space %d dropped", self.instance_id)
            finally:
                self._jobs.task_done()


async def _patiently(job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job``; while PostgreSQL is unreachable, retry it for up to
    ``STORE_PATIENCE`` seconds (the jobs behind it wait: order is kept); other
    database errors get ``JOB_ATTEMPTS`` tries."""
    deadline = time.monotonic() + STORE_PATIENCE
    failures = 0
    while True:
        try:
            await job()
            return
        except Unavailable as exc:
            if time.monotonic() > deadline:
                raise
            if failures == 0:
                log.warning("database unreachable (%s); holding writes and retrying", exc.code)
        except RealmkitError as exc:
            if failures + 1 >= JOB_ATTEMPTS:
                raise
            log.warning("database work failed (%s); retrying", exc.code)
        failures += 1
        await asyncio.sleep(min(0.1 * 2**failures, 1.0))  # back off while PostgreSQL recovers
