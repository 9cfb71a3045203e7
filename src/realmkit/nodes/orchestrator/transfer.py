"""Moving a player between spaces without dropping its connection.

``move`` (``move_player_to_instance``), in order:
1. read the assignment: the character is in space S under epoch E;
2. the gateway is told (``transfer_pending`` to the client, inputs dropped);
3. S hands the player off: it leaves the space and its save under E is
   written before S answers. A node that does not answer is dead: the
   character continues from its last fenced save;
4. the assignment becomes target T under E + 1 (compare-and-set on E, under
   T's instance lock, T READY): from now on S can no longer save it;
5. T joins it under E + 1 (at ``spawn`` when given);
6. the gateway re-points the client to T (``new_world``, then T's frames).
If T refuses the player at 5 (full, gone), it goes back into S the same way.

Portals: a space reports that a player stepped into one (``UsePortal``); the
portal's target map decides where it leads: a continent (the realm's), or a
dungeon (the instance the character is bound to, else a new one, bound to
it until the dungeon resets).
"""

from __future__ import annotations

import logging
import time

from realmkit.bus import subjects
from realmkit.errors import (
    Conflict,
    NotFound,
    RealmkitError,
    RemoteError,
    Unavailable,
)
from realmkit.nodes.orchestrator.instances import JOIN_TIMEOUT, Instances, repoint
from realmkit.nodes.orchestrator.placement import Placer
from realmkit.protocol.cluster import (
    HandOff,
    InstanceInfo,
    Joined,
    JoinSpace,
    Left,
    MoveToInstance,
    Placement,
    RequestInstance,
    ReturnHome,
    TransferStarted,
    UsePortal,
)
from realmkit.settings import InstanceSettings
from realmkit.store.records import AssignmentState, Instance, InstanceState, MapKind

log = logging.getLogger("realmkit.orchestrator")

HANDOFF_TIMEOUT = 5.0


class Transfers:
    def __init__(self, instances: Instances, placer: Placer, settings: InstanceSettings) -> None:
        self.instances = instances
        self.placer = placer
        self.settings = settings

    async def move_request(self, request: MoveToInstance) -> Placement:
        return await self.move(
            request.character_id,
            request.instance_id,
            spawn=request.spawn,
            reason="transfer",
            cross_realm=request.cross_realm,
        )

    async def move(
        self,
        character_id: int,
        target_id: int,
        *,
        spawn: str = "",
        reason: str = "transfer",
        cross_realm: bool = False,
    ) -> Placement:
        """Transfer a character in the world to instance ``target_id`` (see the module)."""
        assignments = self.instances.assignments
        a = await assignments.get(character_id)
        if a is None or a.instance_id is None or a.gateway_id is None:
            raise Conflict(f"character {character_id} is not in the world")
        target = await self.instances.running(target_id)
        if target.instance_id == a.instance_id:
            raise Conflict(f"character {character_id} is already in instance {target_id}")
        character = await self.placer.characters.get(character_id)
        if target.realm_id != character.realm_id and not (cross_realm and target.realm_id is None):
            raise Conflict(
                f"instance {target_id} is not of character {character_id}'s realm",
                instance_id=target_id,
            )
        source = a.instance_id
        started = time.perf_counter()
        if not await self.instances.tell_gateway(
            a.gateway_id, TransferStarted(character_id, reason)
        ):
            raise Conflict(f"character {character_id} is not connected")
        told = time.perf_counter()
        await self._hand_off(source, character_id, a.epoch)
        handed = time.perf_counter()
        try:
            placed = await self._land(character_id, target, a.epoch, a.gateway_id, spawn)
            log.info(
                "transfer of %d (%s) %d -> %d: %.1f ms (gateway %.1f, hand-off %.1f, land %.1f)",
                character_id,
                reason,
                source,
                target.instance_id,
                1000 * (time.perf_counter() - started),
                1000 * (told - started),
                1000 * (handed - told),
                1000 * (time.perf_counter() - handed),
            )
            return placed
        except RealmkitError as exc:
            if isinstance(exc, Conflict | RemoteError) and source != target.instance_id:
                log.warning("transfer of %d to %d failed: %s", character_id, target_id, exc.message)
                back = await self.instances.rows.get(source)
                current = await assignments.get(character_id)
                if back.state is InstanceState.READY and current is not None:
                    await self._land(character_id, back, current.epoch, a.gateway_id, "")
            raise

    async def _hand_off(self, source: int, character_id: int, epoch: int) -> None:
        try:
            await self.instances.bus.request(
                subjects.space_control(source),
                HandOff(character_id, epoch),
                Left,
                timeout=HANDOFF_TIMEOUT,
            )
        except RemoteError as exc:
            if exc.remote_code == "NOT_FOUND":  # it left (disconnected) meanwhile
                raise Conflict(f"character {character_id} left instance {source}") from exc
            raise
        except Unavailable:
            # The source node is gone: its last fenced save is the character's state.
            log.warning(
                "instance %d did not hand off %d; using its last save", source, character_id
            )

    async def _land(
        self, character_id: int, target: Instance, epoch: int, gateway_id: str, spawn: str
    ) -> Placement:
        """Steps 4-6: assign under ``epoch + 1``, join, re-point."""
        instances = self.instances
        # Shared: transfers into one instance do not wait for each other, only
        # for a stop or a move of the instance (exclusive holders).
        async with instances.db.advisory_lock(f"instance:{target.instance_id}", shared=True):
            current = await instances.rows.get(target.instance_id)
            if current.state is not InstanceState.READY:
                raise Conflict(f"instance {target.instance_id} is {current.state.value}")
            moved = await instances.assignments.place(
                character_id,
                target.instance_id,
                gateway_id,
                expected_epoch=epoch,
                state=AssignmentState.TRANSFERRING,
            )
        joined = await instances.bus.request(
            subjects.space_control(target.instance_id),
            JoinSpace(character_id, moved.epoch, gateway_id, spawn),
            Joined,
            timeout=JOIN_TIMEOUT,
        )
        if not await instances.tell_gateway(gateway_id, repoint(joined, moved.epoch)):
            log.info("character %d disconnected during its transfer", character_id)
        assert current.node_id is not None
        return Placement(
            character_id, target.instance_id, current.node_id, target.map_id, moved.epoch, spawn
        )

    # --- portals and instances on request -----------------------------------------

    async def portal(self, request: UsePortal) -> Placement:
        a = await self.instances.assignments.get(request.character_id)
        if a is None or a.instance_id != request.instance_id:
            raise Conflict(f"character {request.character_id} is not in {request.instance_id}")
        source = await self.instances.rows.get(request.instance_id)
        character = await self.placer.characters.get(request.character_id)
        realm = await self.placer.online_realm(character.realm_id)
        game = await self.instances.cluster.game(source.game_id)
        pack = await self.instances.packs.get(game.content_pack)
        portal = next(
            (p for p in pack.maps[source.map_id].portals if p.id == request.portal_id), None
        )
        if portal is None:
            raise NotFound("portal", request.portal_id)
        kind = pack.maps[portal.to_map].kind
        if kind == MapKind.CONTINENT.value:
            target = await self.placer.continent(realm, portal.to_map)
        elif kind == MapKind.DUNGEON.value:
            target = await self._dungeon(character.character_id, realm.realm_id, portal.to_map)
        else:
            raise Conflict(f"map {portal.to_map} is entered through matchmaking, not a portal")
        return await self.move(
            request.character_id, target.instance_id, spawn=portal.to_spawn, reason="portal"
        )

    async def _dungeon(self, character_id: int, realm_id: int, map_id: int) -> Instance:
        """The dungeon instance the character is bound to, else a new one bound to it."""
        bindings = self.placer.bindings
        bound = await bindings.bound(character_id, map_id)
        if bound is not None:
            return await self.instances.running(bound)
        realm = await self.instances.cluster.realm(realm_id)
        instance = await self.instances.create(
            realm.game_id, map_id, MapKind.DUNGEON, realm.pool_id, realm.realm_id
        )
        await bindings.bind(character_id, map_id, instance.instance_id, self.settings.dungeon_reset)
        log.info(
            "dungeon %d for character %d: instance %d", map_id, character_id, instance.instance_id
        )
        return instance

    async def return_home(self, request: ReturnHome) -> Placement:
        """Back from a cross-realm instance: the space kept the home position in the
        character's saves, so home is where entering the world would place it."""
        a = await self.instances.assignments.get(request.character_id)
        if a is None or a.instance_id != request.from_instance:
            raise Conflict(
                f"character {request.character_id} is not in instance {request.from_instance}"
            )
        character = await self.placer.characters.get(request.character_id)
        # Home even if the realm closed meanwhile: nobody is left in a finished match.
        realm = await self.instances.cluster.realm(character.realm_id)
        target, spawn = await self.placer.destination(character, realm)
        return await self.move(
            request.character_id, target.instance_id, spawn=spawn, reason="return"
        )

    async def request_instance(self, request: RequestInstance) -> InstanceInfo:
        """A new instance for another service (matchmaking): battleground, arena, dungeon."""
        game = await self.instances.cluster.game(request.game_id)
        pack = await self.instances.packs.get(game.content_pack)
        found = pack.maps.get(request.map_id)
        if found is None or found.kind == MapKind.CONTINENT.value:
            raise NotFound("instanced map", request.map_id)
        instance = await self.instances.create(
            request.game_id, request.map_id, MapKind(found.kind), request.pool_id, request.realm_id
        )
        assert instance.node_id is not None
        return InstanceInfo(
            instance.instance_id, instance.node_id, instance.map_id, instance.capacity
        )
