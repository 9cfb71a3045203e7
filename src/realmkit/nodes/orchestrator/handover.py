"""Seating a player in a space: the one path every seat takes.

Entering the world, a transfer (portal, matchmaking, going home), re-attaching
players after their node died and live migration all put a character into a
space the same way, in this order:

1. announce: when the player changes space while connected, its gateway is
   told first (``transfer_pending`` to the client, its inputs dropped); a
   gateway that no longer holds the player ends the seat there;
2. hand off (a transfer only): the space it leaves takes it out and writes
   its save under the current epoch E before answering;
3. place: the assignment becomes this instance under E + 1 (compare-and-set
   on E, under the instance's shared lock, the instance READY), so whatever
   still holds the character under E can no longer save it;
4. join: the space adds it under E + 1 (at ``spawn`` when one is named); a
   migrated space joins its players by being loaded with them kept;
5. re-point: the gateway learns the new space and epoch (``new_world`` for
   the client, or nothing when only the space's node changed). On entry the
   gateway is waiting for the answer, which is the re-point.
6. replace (an entry only): when the character was in the world through
   another gateway (the same account logged in again elsewhere), that gateway
   is told (``Replaced``), and closes its socket "connected elsewhere"; told
   after the seat and without waiting for it (it may be gone: a resume).

Live migration takes these steps in bulk (``seat_moved_space``): steps 3 to 5
for every player of the frozen space, placed one by one, joined by one load
of the space with its players kept, then re-pointed one by one; nobody is
announced, since nobody changes space.

A border crossing between two cells of a continent (``cross``) is asked for
by the cell the player crossed into, which already plays it: the two cells
did steps 2 and 4 between themselves (the ``Handoff``), so the crossing is
step 3 (``AssignmentRepo.cross``: a compare-and-set on the hand-over's epoch,
or on an older crossing's ownership version) and step 5, quiet: the gateway
keeps replicating the continent and the client sees nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.content.schema import Bounds
from realmkit.errors import (
    Conflict,
    LeftMeanwhile,
    NoResponders,
    NotConnected,
    NotFound,
    RealmkitError,
    RemoteError,
    StaleEpoch,
    Unavailable,
)
from realmkit.lifecycle.assignment import AssignmentEvent
from realmkit.lifecycle.instance import InstanceState
from realmkit.protocol.cluster import (
    Ack,
    CrossCell,
    Crossed,
    HandOff,
    Joined,
    JoinSpace,
    LeaveSpace,
    Left,
    Occupant,
    Placement,
    Replaced,
    Repoint,
    TransferStarted,
)
from realmkit.store.cells import PartitionRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Assignment, Instance

log = logging.getLogger("realmkit.orchestrator")

GATEWAY_TIMEOUT = 2.0
HANDOFF_TIMEOUT = 5.0
JOIN_TIMEOUT = 10.0
LEAVE_TIMEOUT = 10.0
# A crossing's re-point the gateway did not answer is asked again this long.
REPOINT_PATIENCE = 30.0


class Seat(msgspec.Struct, frozen=True):
    """Put ``character_id``, whose assignment holds ``epoch``, into ``instance_id``.

    ``announce``: the reason the connected player changes space (step 1), or
    "" when it does not. ``leaving``: the space to hand it off from first (a
    transfer). ``entering``: the player enters the world: the gateway waits for
    the answer (its re-point), and the assignment is PLACING until the space
    has it (TRANSFERRING otherwise).
    ``resume_hash``: a new resume token's hash (entry), else the old one stays.
    ``epoch``: None when the character was never placed.
    ``replaces``: the other gateway the character was in the world through (step 6).
    """

    character_id: int
    instance_id: int
    gateway_id: str
    epoch: int | None
    spawn: str = ""
    announce: str = ""
    leaving: int | None = None
    entering: bool = False
    resume_hash: bytes | None = None
    # The caller holds the instance's exclusive lock and saw it READY (a restore).
    locked: bool = False
    # The space itself moves node with the player inside (live migration): the
    # caller holds the lock, the instance is being moved, nothing is announced.
    moving: bool = False
    # The player crossed into another cell of its continent (which plays it).
    crossing: bool = False
    replaces: str = ""

    @property
    def event(self) -> AssignmentEvent:
        """What step 3 makes of the assignment."""
        if self.moving or self.crossing:
            return AssignmentEvent.MIGRATE
        return AssignmentEvent.PLACE if self.entering else AssignmentEvent.TRANSFER


class Handover:
    def __init__(self, db: Database, bus: NatsBus) -> None:
        self.db = db
        self.bus = bus
        self.rows = InstanceRepo(db)
        self.assignments = AssignmentRepo(db)
        self.partitions = PartitionRepo(db)
        self._telling: set[asyncio.Task[None]] = set()

    async def seat(self, seat: Seat) -> Placement:
        """Steps 1-5 for one player (see the module)."""
        started = time.perf_counter()
        if seat.announce:
            told = TransferStarted(seat.character_id, seat.announce)
            if not await self.tell_gateway(seat.gateway_id, told):
                raise NotConnected(seat.character_id)
        announced = time.perf_counter()
        if seat.leaving is not None:
            await self._hand_off(seat.leaving, seat.character_id, seat.epoch)
        handed = time.perf_counter()
        placed, instance = await self._place(seat)
        joined = await self.bus.request(
            subjects.space_control(seat.instance_id),
            JoinSpace(seat.character_id, placed.epoch, seat.gateway_id, seat.spawn),
            Joined,
            timeout=JOIN_TIMEOUT,
        )
        if not seat.entering:
            await self._repoint(
                seat, placed.epoch, joined.map_id, joined.tick_rate, joined.bounds, joined.continent
            )
        if seat.replaces and seat.replaces != seat.gateway_id:
            replaced = Replaced(seat.character_id, placed.epoch)
            task = asyncio.create_task(self._tell_replaced(seat.replaces, replaced))
            self._telling.add(task)
            task.add_done_callback(self._telling.discard)
        if seat.leaving is not None:
            log.info(
                "transfer of %d (%s) %d -> %d: %.1f ms (gateway %.1f, hand-off %.1f, land %.1f)",
                seat.character_id,
                seat.announce,
                seat.leaving,
                seat.instance_id,
                1000 * (time.perf_counter() - started),
                1000 * (announced - started),
                1000 * (handed - announced),
                1000 * (time.perf_counter() - handed),
            )
        assert instance.node_id is not None
        return Placement(
            seat.character_id,
            seat.instance_id,
            instance.node_id,
            joined.map_id,
            placed.epoch,
            joined.tick_rate,
            joined.bounds,
            seat.spawn,
            joined.continent,
        )

    async def seat_moved_space(
        self,
        instance: Instance,
        load: Callable[[list[Occupant]], Awaitable[None]],
        tick_rate: int,
        bounds: Bounds,
    ) -> list[Occupant]:
        """Steps 3-5 for every player of a space that moves to another node (live
        migration), in bulk, under the instance's lock, held by the caller with
        the space frozen: nobody changes space, so nobody is announced; step 3
        for each, then ``load`` joins them all at once (the space restored on its
        new node with them kept), then step 5 for each; the gateways' re-point
        is not ``fresh`` (their clients see nothing)."""
        seats = []
        for a in await self.assignments.in_instance(instance.instance_id):
            assert a.gateway_id is not None
            seat = Seat(a.character_id, instance.instance_id, a.gateway_id, a.epoch, moving=True)
            placed, _ = await self._place(seat)
            seats.append((seat, placed.epoch))
        kept = [Occupant(s.character_id, epoch, s.gateway_id) for s, epoch in seats]
        await load(kept)
        cell = await self.partitions.of_instance(instance.instance_id)
        continent = cell.partition_id if cell is not None else 0
        for seat, epoch in seats:
            await self._repoint(seat, epoch, instance.map_id, tick_rate, bounds, continent)
        return kept

    async def cross(self, request: CrossCell) -> Crossed:
        """Steps 3 and 5 for a player that crossed into the asking cell (see the
        module): placed under the next epoch, the gateway re-pointed quietly,
        then the cell is answered. Refused (``placed`` False, with the
        assignment as it stands) when the assignment moved on otherwise."""
        seat = Seat(request.character_id, request.instance_id, "", request.epoch, crossing=True)
        async with self.db.advisory_lock(f"instance:{request.instance_id}", shared=True):
            instance = await self.rows.get(request.instance_id)
            if instance.state is not InstanceState.READY:
                raise Conflict(f"instance {request.instance_id} is {instance.state.value}")
            placed = await self.assignments.cross(
                request.character_id,
                request.instance_id,
                partition_id=request.partition_id,
                expected_epoch=request.epoch,
                ownership=request.ownership,
            )
        if placed is None:
            current = await self.assignments.get(request.character_id)
            if current is None:
                return Crossed(request.character_id, False, 0, 0)
            return Crossed(request.character_id, False, current.instance_id or 0, current.epoch)
        assert placed.gateway_id is not None
        seat = msgspec.structs.replace(seat, gateway_id=placed.gateway_id)
        await self._repoint(
            seat,
            placed.epoch,
            request.map_id,
            request.tick_rate,
            request.bounds,
            request.partition_id,
        )
        return Crossed(request.character_id, True, request.instance_id, placed.epoch)

    async def reseat_all(self, instance: Instance, reason: str, parallel: int) -> int:
        """Seat again every player assigned to ``instance`` (restored after its node
        died), from their last fenced save; how many were seated. The caller holds
        the instance's exclusive lock. A player whose gateway no longer holds it is
        released instead (it left meanwhile)."""
        gate = asyncio.Semaphore(parallel)

        async def one(a: Assignment) -> bool:
            if a.gateway_id is None:
                return False
            async with gate:
                try:
                    await self.seat(
                        Seat(
                            a.character_id,
                            instance.instance_id,
                            a.gateway_id,
                            a.epoch,
                            announce=reason,
                            locked=True,
                        )
                    )
                    return True
                except NotConnected:
                    await self.release(a.character_id, a.epoch)
                    return False
                except RealmkitError as exc:
                    log.warning(
                        "character %d not re-attached to %d: %s",
                        a.character_id,
                        instance.instance_id,
                        exc.message,
                    )
                    return False

        placed = await self.assignments.in_instance(instance.instance_id)
        return sum(await asyncio.gather(*(one(a) for a in placed)))

    async def _hand_off(self, source: int, character_id: int, epoch: int | None) -> None:
        assert epoch is not None, "a player in a space has an epoch"
        try:
            await self.bus.request(
                subjects.space_control(source),
                HandOff(character_id, epoch),
                Left,
                timeout=HANDOFF_TIMEOUT,
            )
        except RemoteError as exc:
            if exc.remote_code == NotFound.code:  # it left (disconnected) meanwhile
                raise LeftMeanwhile(character_id, source) from exc
            raise
        except Unavailable:
            # The source node is gone: its last fenced save is the character's state.
            log.warning(
                "instance %d did not hand off %d; using its last save", source, character_id
            )

    async def _place(self, seat: Seat) -> tuple[Assignment, Instance]:
        """Step 3: the assignment names this instance under the next epoch."""
        if seat.locked or seat.moving:
            return await self._place_ready(seat)
        # Shared: seats into one instance do not wait for each other, only for a
        # stop or a move of the instance (exclusive holders).
        async with self.db.advisory_lock(f"instance:{seat.instance_id}", shared=True):
            return await self._place_ready(seat)

    async def _place_ready(self, seat: Seat) -> tuple[Assignment, Instance]:
        instance = await self.rows.get(seat.instance_id)
        # A moving space is between nodes (its lock holder moves it); any other
        # seat lands in a READY instance only.
        if instance.state is not InstanceState.READY and not seat.moving:
            raise Conflict(f"instance {seat.instance_id} is {instance.state.value}")
        placed = await self.assignments.place(
            seat.character_id,
            seat.instance_id,
            seat.gateway_id,
            expected_epoch=seat.epoch,
            event=seat.event,
            resume_hash=seat.resume_hash,
        )
        return placed, instance

    async def _repoint(
        self, seat: Seat, epoch: int, map_id: int, tick_rate: int, bounds: Bounds, continent: int
    ) -> None:
        """Step 5: the gateway learns the space and epoch (``fresh`` unless only the
        space's node changed or the player crossed into another cell)."""
        update = Repoint(
            seat.character_id,
            epoch,
            seat.instance_id,
            map_id,
            tick_rate,
            bounds,
            fresh=not (seat.moving or seat.crossing),
            continent=continent,
        )
        try:
            held = await self._ask_gateway(seat.gateway_id, update)
        except Unavailable as exc:
            if not seat.crossing:
                log.warning("gateway %s did not answer: %s", seat.gateway_id, exc.message)
                return
            # The new cell plays the player already and its frames reach the gateway
            # (one continent, one replica), but its inputs still go to the old cell,
            # which forwards them only for a while: tell the gateway until it hears.
            log.warning(
                "gateway %s did not hear that %d crossed into %d (%s); telling it again",
                seat.gateway_id,
                seat.character_id,
                seat.instance_id,
                exc.message,
            )
            task = asyncio.create_task(self._repoint_patiently(seat.gateway_id, update))
            self._telling.add(task)
            task.add_done_callback(self._telling.discard)
            return
        except RealmkitError as exc:
            log.warning("gateway %s did not answer: %s", seat.gateway_id, exc.message)
            return
        if not held:
            log.info("character %d disconnected while being seated", seat.character_id)

    async def _repoint_patiently(self, gateway_id: str, update: Repoint) -> None:
        """A crossing's quiet re-point, asked again for REPOINT_PATIENCE seconds (an
        older re-point arriving after a newer one is ignored by the gateway)."""
        try:
            await self.bus.request_patiently(
                subjects.gateway_control(gateway_id),
                update,
                Ack,
                within=REPOINT_PATIENCE,
                attempt_timeout=GATEWAY_TIMEOUT,
            )
        except RealmkitError as exc:
            log.warning(
                "gateway %s never heard that %d crossed into %d: %s",
                gateway_id,
                update.character_id,
                update.instance_id,
                exc.message,
            )

    async def _tell_replaced(self, gateway_id: str, replaced: Replaced) -> None:
        """Step 6: the gateway the player left behind closes its socket there."""
        try:
            if await self._ask_gateway(gateway_id, replaced):
                log.info(
                    "character %d connected elsewhere: closed on %s",
                    replaced.character_id,
                    gateway_id,
                )
        except NoResponders:
            pass  # that gateway is gone (the player resumed because of it)
        except RealmkitError as exc:
            log.warning("gateway %s did not answer: %s", gateway_id, exc.message)

    async def close(self) -> None:
        """Stop the re-points and replacements still being told."""
        for task in list(self._telling):
            task.cancel()
        await asyncio.gather(*self._telling, return_exceptions=True)

    async def tell_gateway(self, gateway_id: str, message: TransferStarted | Repoint) -> bool:
        """True once the gateway confirmed; False if it no longer holds the player."""
        try:
            return await self._ask_gateway(gateway_id, message)
        except RealmkitError as exc:
            log.warning("gateway %s did not answer: %s", gateway_id, exc.message)
            return False

    async def _ask_gateway(
        self, gateway_id: str, message: TransferStarted | Repoint | Replaced
    ) -> bool:
        ack = await self.bus.request(
            subjects.gateway_control(gateway_id), message, Ack, timeout=GATEWAY_TIMEOUT
        )
        return ack.ok

    async def unseat(self, a: Assignment) -> None:
        """The player leaves its space (saved, then offline), as if it had logged out."""
        assert a.instance_id is not None
        try:
            await self.bus.request(
                subjects.space_control(a.instance_id),
                LeaveSpace(a.character_id, a.epoch),
                Left,
                timeout=LEAVE_TIMEOUT,
            )
        except RemoteError as exc:
            if exc.remote_code != NotFound.code:
                raise
            # Its space does not hold it (any more): the assignment alone is left.
            await self.release(a.character_id, a.epoch)

    async def release(self, character_id: int, epoch: int | None) -> None:
        """Nobody plays the character any more: offline (if nobody moved it meanwhile)."""
        if epoch is None:
            return
        with contextlib.suppress(StaleEpoch):
            await self.assignments.release(character_id, expected_epoch=epoch)
