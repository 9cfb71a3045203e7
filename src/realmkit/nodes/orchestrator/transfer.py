"""Moving a player between spaces without dropping its connection.

``move`` (``move_player_to_instance``): the character in space S under epoch
E goes to target T through the hand-over (``handover``: announce, hand off
from S, place under E + 1, join, re-point); the client keeps its socket and
sees ``transfer_pending``, then ``new_world``. If T refuses the player (full,
gone), it goes back into S the same way.

Portals: a space reports that a player stepped into one (``UsePortal``); the
portal's target map decides where it leads: a continent (the realm's), or a
dungeon (the instance the character is bound to, else a new one, bound to
it until the dungeon resets).
"""

from __future__ import annotations

import logging

from realmkit.errors import (
    Conflict,
    LeftMeanwhile,
    NotConnected,
    NotFound,
    RealmkitError,
    RemoteError,
)
from realmkit.lifecycle.instance import InstanceState
from realmkit.nodes.orchestrator.handover import Handover, Seat
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.orchestrator.placement import Placer
from realmkit.nodes.packs import PackCache
from realmkit.protocol.cluster import MoveToInstance, Placement, ReturnHome, UsePortal
from realmkit.settings import InstanceSettings
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Instance, MapKind

log = logging.getLogger("realmkit.orchestrator")


class Transfers:
    def __init__(
        self,
        db: Database,
        packs: PackCache,
        instances: InstanceRegistry,
        handover: Handover,
        placer: Placer,
        settings: InstanceSettings,
    ) -> None:
        self.packs = packs
        self.cluster = ClusterRepo(db)
        self.rows = InstanceRepo(db)
        self.assignments = AssignmentRepo(db)
        self.instances = instances
        self.handover = handover
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
        handover = self.handover
        a = await self.assignments.get(character_id)
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
        seat = Seat(
            character_id,
            target.instance_id,
            a.gateway_id,
            a.epoch,
            spawn,
            announce=reason,
            leaving=source,
        )
        try:
            return await handover.seat(seat)
        except (NotConnected, LeftMeanwhile):
            raise  # nothing was handed off, or there is nobody to bring back
        except RealmkitError as exc:
            if isinstance(exc, Conflict | RemoteError):
                log.warning("transfer of %d to %d failed: %s", character_id, target_id, exc.message)
                back = await self.rows.get(source)
                current = await self.assignments.get(character_id)
                if back.state is InstanceState.READY and current is not None:
                    # Back into the space it left (it was handed off already).
                    home = Seat(character_id, source, a.gateway_id, current.epoch)
                    await handover.seat(home)
            raise

    # --- portals and instances on request -----------------------------------------

    async def portal(self, request: UsePortal) -> Placement:
        a = await self.assignments.get(request.character_id)
        if a is None or a.instance_id != request.instance_id:
            raise Conflict(f"character {request.character_id} is not in {request.instance_id}")
        source = await self.rows.get(request.instance_id)
        character = await self.placer.characters.get(request.character_id)
        realm = await self.placer.online_realm(character.realm_id)
        game = await self.cluster.game(source.game_id)
        pack = await self.packs.get(game.content_pack)
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
        realm = await self.cluster.realm(realm_id)
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
        a = await self.assignments.get(request.character_id)
        if a is None or a.instance_id != request.from_instance:
            raise Conflict(
                f"character {request.character_id} is not in instance {request.from_instance}"
            )
        character = await self.placer.characters.get(request.character_id)
        # Home even if the realm closed meanwhile: nobody is left in a finished match.
        realm = await self.cluster.realm(character.realm_id)
        target, spawn = await self.placer.destination(character, realm)
        return await self.move(
            request.character_id, target.instance_id, spawn=spawn, reason="return"
        )
