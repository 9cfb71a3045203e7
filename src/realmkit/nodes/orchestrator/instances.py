"""Bringing instances up, back, and down: the registry's side of a space's life.

Every move of an instance row runs under the advisory lock ``instance:<id>``
(re-reading the row inside it), so replicas that race, or a replica that
takes over from one that died half-way, agree on one outcome:

- REQUESTED or LOADING: (re)send ``LoadSpace`` to its node; loading is
  idempotent on the node, so a crashed replica's half-done load completes.
- UNHEALTHY (its node died): load it on another node from its latest
  checkpoint, then re-attach its players from their last fenced save, each
  under a new epoch (``reattach``); their clients see ``transfer_pending``
  then ``new_world``.
- READY: nothing to do. DRAINING or STOPPING: "not now" (``Unavailable``);
  callers retry.

Re-attaching a player: the assignment moves to ``epoch + 1`` (so the dead
node's saves are refused), the gateway is told, the space joins it, and the
gateway re-points the client. A player whose gateway no longer holds it is
released instead (it left meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.errors import Conflict, NotFound, RealmkitError, StaleEpoch, Unavailable
from realmkit.nodes.packs import PackCache
from realmkit.protocol.cluster import (
    Ack,
    Frozen,
    Joined,
    JoinSpace,
    LoadSpace,
    Occupant,
    Repoint,
    SpaceReady,
    StopSpace,
    TransferStarted,
)
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.records import (
    Assignment,
    AssignmentState,
    Instance,
    InstanceState,
    MapKind,
    WorldCandidate,
)

log = logging.getLogger("realmkit.orchestrator")

FRESH_HEARTBEAT = 3.0
LOAD_TIMEOUT = 10.0
GATEWAY_TIMEOUT = 2.0
JOIN_TIMEOUT = 5.0
PARALLEL_REATTACH = 32

_draws = random.Random()  # noqa: S311 - spreading load, not a secret


def pick_world_node(
    candidates: list[WorldCandidate], avoid: str | None = None, rng: random.Random | None = None
) -> str:
    """A node with room, drawn with odds in proportion to its free places.

    Free places: capacity less the players placed there and the seats its
    instanced maps hold for the groups they were made for. Drawn rather than
    the freest always: a burst of instances (a matchmaking round's worth) is
    placed by several orchestrators at once, each before it sees the others'
    choices, and would otherwise land on one node. ``avoid`` (the node an
    instance is moved off) only when no other has room.
    """
    room = [c for c in candidates if c.capacity > c.players]
    if not room:
        raise Unavailable("no world node has room for another player")
    others = [c for c in room if c.node_id != avoid] or room
    weights = [max(1, c.capacity - c.players - c.reserved) for c in others]
    return (rng or _draws).choices([c.node_id for c in others], weights)[0]


class Instances:
    def __init__(self, db: Database, bus: NatsBus, packs: PackCache) -> None:
        self.db = db
        self.bus = bus
        self.packs = packs
        self.cluster = ClusterRepo(db)
        self.rows = InstanceRepo(db)
        self.assignments = AssignmentRepo(db)
        # A restore holds its lock's connection while it re-attaches players, each
        # of whom needs one too: only a quarter of the pool restores at a time, so
        # those always find a connection (however many instances broke at once).
        self._restoring = asyncio.Semaphore(max(1, db.pool.get_max_size() // 4))

    async def node_for(self, avoid: str | None = None) -> str:
        return pick_world_node(await self.cluster.world_candidates(FRESH_HEARTBEAT), avoid)

    async def create(
        self, game_id: str, map_id: int, kind: MapKind, pool_id: int, realm_id: int | None
    ) -> Instance:
        """A new instance of a map, loaded and READY."""
        pack = await self.packs.get((await self.cluster.game(game_id)).content_pack)
        if map_id not in pack.maps or pack.maps[map_id].kind != kind.value:
            raise NotFound(f"{kind.value} map", map_id)
        created = await self.rows.create(
            game_id=game_id,
            map_id=map_id,
            kind=kind,
            pool_id=pool_id,
            realm_id=realm_id,
            capacity=pack.maps[map_id].max_players,
        )
        return await self.running(created.instance_id)

    async def running(self, instance_id: int) -> Instance:
        """The instance, READY (loaded or restored first when needed)."""
        instance = await self.rows.get(instance_id)
        if instance.state is InstanceState.READY:
            return instance  # the common case needs no lock
        first_load = instance.state is InstanceState.REQUESTED  # nobody to re-attach
        gate = contextlib.nullcontext() if first_load else self._restoring
        async with gate, self.db.advisory_lock(f"instance:{instance_id}"):
            instance = await self.rows.get(instance_id)
            state = instance.state
            if state is InstanceState.READY:
                return instance
            if state in (InstanceState.DRAINING, InstanceState.STOPPING):
                raise Unavailable(f"instance {instance_id} is {state.value}; try again")
            if state is InstanceState.GONE:
                raise Conflict(f"instance {instance_id} is gone", instance_id=instance_id)
            if state is not InstanceState.LOADING or instance.node_id is None:
                node_id = await self.node_for(avoid=instance.node_id)
                instance = await self.rows.set_state(instance_id, InstanceState.LOADING, node_id)
            await self.load(instance)
            ready = await self.rows.set_state(instance_id, InstanceState.READY)
            if state is not InstanceState.REQUESTED:
                await self.reattach(ready, "recovery")
            log.info(
                "instance %d (map %d) %s on %s",
                instance_id,
                ready.map_id,
                "ready" if state is InstanceState.REQUESTED else f"{state.value} -> ready",
                ready.node_id,
            )
            return ready

    async def load(self, instance: Instance, keep: list[Occupant] | None = None) -> None:
        assert instance.node_id is not None
        game = await self.cluster.game(instance.game_id)
        load = LoadSpace(
            instance.instance_id,
            game.content_pack,
            instance.map_id,
            secrets.randbits(62),
            restore=True,  # continue from a checkpoint when there is one
            keep=keep or [],
        )
        try:
            await self.bus.request(
                subjects.node_control(instance.node_id), load, SpaceReady, timeout=LOAD_TIMEOUT
            )
        except Unavailable:
            # That node cannot host it now; another will be picked next time.
            await self.rows.set_state(instance.instance_id, InstanceState.UNHEALTHY)
            raise

    async def reattach(self, instance: Instance, reason: str) -> int:
        """Put every player assigned to ``instance`` into its (restored) space."""
        placed = await self.assignments.in_instance(instance.instance_id)
        gate = asyncio.Semaphore(PARALLEL_REATTACH)

        async def one(assignment: Assignment) -> bool:
            async with gate:
                try:
                    return await self._reattach_one(instance, assignment, reason)
                except RealmkitError as exc:
                    log.warning(
                        "character %d not re-attached to %d: %s",
                        assignment.character_id,
                        instance.instance_id,
                        exc.message,
                    )
                    return False

        done = await asyncio.gather(*(one(a) for a in placed))
        return sum(done)

    async def _reattach_one(self, instance: Instance, a: Assignment, reason: str) -> bool:
        if a.gateway_id is None:
            return False
        moved = await self.assignments.place(
            a.character_id,
            instance.instance_id,
            a.gateway_id,
            expected_epoch=a.epoch,
            state=AssignmentState.TRANSFERRING,
        )
        if not await self.tell_gateway(a.gateway_id, TransferStarted(a.character_id, reason)):
            await self.release(a.character_id, moved.epoch)
            return False
        joined = await self.bus.request(
            subjects.space_control(instance.instance_id),
            JoinSpace(a.character_id, moved.epoch, a.gateway_id),
            Joined,
            timeout=JOIN_TIMEOUT,
        )
        return await self.tell_gateway(a.gateway_id, repoint(joined, moved.epoch))

    async def stop(self, instance: Instance) -> bool:
        """Stop an instance that is still empty: DRAINING, saved and unloaded, GONE."""
        async with self.db.advisory_lock(f"instance:{instance.instance_id}"):
            current = await self.rows.get(instance.instance_id)
            if current.state is not InstanceState.READY:
                return False
            if await self.assignments.in_instance(instance.instance_id):
                return False  # somebody came in meanwhile
            await self.rows.set_state(instance.instance_id, InstanceState.DRAINING)
        assert current.node_id is not None
        try:
            await self.bus.request(
                subjects.node_control(current.node_id),
                StopSpace(current.instance_id),
                Frozen,
                timeout=LOAD_TIMEOUT,
            )
        except RealmkitError as exc:
            log.warning("stopping instance %d: %s", instance.instance_id, exc.message)
            await self.rows.set_state(instance.instance_id, InstanceState.UNHEALTHY)
            await self.rows.set_state(instance.instance_id, InstanceState.GONE)
            return True
        await self.rows.set_state(instance.instance_id, InstanceState.STOPPING)
        await self.rows.set_state(instance.instance_id, InstanceState.GONE)
        log.info("instance %d (map %d) stopped: empty", instance.instance_id, instance.map_id)
        return True

    async def tell_gateway(self, gateway_id: str, message: TransferStarted | Repoint) -> bool:
        """True once the gateway confirmed; False if it no longer holds the player."""
        try:
            ack = await self.bus.request(
                subjects.gateway_control(gateway_id), message, Ack, timeout=GATEWAY_TIMEOUT
            )
        except RealmkitError as exc:
            log.warning("gateway %s did not answer: %s", gateway_id, exc.message)
            return False
        return ack.ok

    async def release(self, character_id: int, epoch: int) -> None:
        """Nobody plays the character any more: offline (if nobody moved it meanwhile)."""
        with contextlib.suppress(StaleEpoch):
            await self.assignments.release(character_id, expected_epoch=epoch)


def repoint(joined: Joined, epoch: int, *, fresh: bool = True) -> Repoint:
    return Repoint(
        joined.character_id,
        epoch,
        joined.instance_id,
        joined.map_id,
        joined.tick_rate,
        joined.bounds,
        fresh=fresh,
    )
