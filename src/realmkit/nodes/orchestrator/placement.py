"""Placing a character that enters the world.

Where it goes: its realm's continent, or the dungeon instance it is bound to
when it logged out inside one that still runs (else the dungeon's exit on the
continent).

The continent instance of a realm and map is created once: the check and
create run under a cluster-wide advisory lock named after the realm and map,
and the schema allows only one live continent copy besides. No player is
routed to an instance before its world node answered that the space is
loaded ("pending until loaded", see ``instances``). The character is then
seated there through the hand-over (``handover``): its assignment written
with ``epoch + 1`` (compare-and-set on the epoch read), which fences any world
node still holding the character, and the space joining it; the answer tells
the waiting gateway where it is.
"""

from __future__ import annotations

import logging

from realmkit.content.schema import ContentPack
from realmkit.errors import NotFound, RealmUnavailable
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.instance import InstanceState
from realmkit.nodes.orchestrator.handover import Handover, Seat
from realmkit.nodes.orchestrator.instances import InstanceRegistry
from realmkit.nodes.packs import PackCache, home_continent
from realmkit.protocol.cluster import EnterWorld, Placement, ResumeWorld
from realmkit.store.cells import PartitionRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.records import Character, Instance, MapKind, Realm, RealmStatus
from realmkit.store.spaces import BindingRepo

log = logging.getLogger("realmkit.orchestrator")


def dungeon_exit(pack: ContentPack, dungeon_map: int) -> tuple[int, str]:
    """Where leaving a dungeon leads: (continent map, spawn point) of its way out."""
    for portal in pack.maps[dungeon_map].portals:
        target = pack.maps.get(portal.to_map)
        if target is not None and target.kind == MapKind.CONTINENT.value:
            return portal.to_map, portal.to_spawn
    return home_continent(pack, dungeon_map), ""


class Placer:
    def __init__(
        self, db: Database, packs: PackCache, instances: InstanceRegistry, handover: Handover
    ) -> None:
        self.db = db
        self.packs = packs
        self.instances = instances
        self.handover = handover
        self.characters = CharacterRepo(db)
        self.bindings = BindingRepo(db)
        self.cluster = ClusterRepo(db)
        self.rows = InstanceRepo(db)
        self.assignments = AssignmentRepo(db)
        self.partitions = PartitionRepo(db)

    async def enter_world(self, request: EnterWorld) -> Placement:
        character = await self.characters.get(request.character_id)
        realm = await self.online_realm(character.realm_id)
        instance, spawn = await self.destination(character, realm)
        current = await self.assignments.get(character.character_id)
        elsewhere = ""
        if current is not None and current.state is not AssignmentState.OFFLINE:
            elsewhere = current.gateway_id or ""  # told, if not this one (step 6)
        seat = Seat(
            character.character_id,
            instance.instance_id,
            request.gateway_id,
            current.epoch if current else None,
            spawn,
            entering=True,
            resume_hash=request.resume_hash or None,
            replaces=elsewhere,
        )
        return await self.handover.seat(seat)

    async def resume(self, request: ResumeWorld) -> Placement:
        """Place a character whose client came back with its resume token: where it
        stands (its space still holds it), under a new token and epoch."""
        assignment = await self.assignments.resumable(request.proof)
        if assignment is None:
            raise NotFound("resume token", "(expired or used)")
        return await self.enter_world(
            EnterWorld(assignment.character_id, request.gateway_id, request.resume_hash)
        )

    async def online_realm(self, realm_id: int) -> Realm:
        realm = await self.cluster.realm(realm_id)
        if realm.status is not RealmStatus.ONLINE:
            raise RealmUnavailable(realm.realm_id, realm.name, realm.status.value)
        return realm

    async def destination(self, character: Character, realm: Realm) -> tuple[Instance, str]:
        """Where a character entering the world from its save goes: (instance, spawn)."""
        game = await self.cluster.game(realm.game_id)
        pack = await self.packs.get(game.content_pack)
        saved = pack.maps.get(character.map_id)
        if saved is not None and saved.kind == MapKind.DUNGEON.value:
            bound = await self.bindings.bound(character.character_id, saved.id)
            if bound is not None:
                return await self.instances.running(bound), ""
            map_id, spawn = dungeon_exit(pack, saved.id)
            return await self.continent(realm, map_id), spawn
        home = home_continent(pack, character.map_id)
        at = (character.pos_x, character.pos_y) if home == character.map_id else None
        return await self.continent(realm, home, at), ""

    async def continent(
        self, realm: Realm, map_id: int, at: tuple[float, float] | None = None
    ) -> Instance:
        """The realm's continent instance of ``map_id``, READY (created on first use):
        the one of the cell that holds ``at`` when the continent has several cells
        (a player seated in another cell would be handed over at its first tick)."""
        rows = self.rows
        stored = await self.partitions.live(realm.realm_id, map_id)
        if stored is not None and len(stored.cells) > 1:
            # Never a cell merged away or a split's new half that found no node (not
            # gone yet, but no cell of the partition): the cell at ``at``, else the first.
            cell_id = stored.layout.cell_at(*at) if at is not None else min(stored.cells)
            return await self.instances.running(stored.cells[cell_id].instance_id)
        found = await rows.live_continent(realm.realm_id, map_id)
        if found is not None and found.state is InstanceState.READY:
            return found  # the common case needs no lock
        if found is None:
            async with self.db.advisory_lock(f"continent:{realm.realm_id}:{map_id}"):
                found = await rows.live_continent(realm.realm_id, map_id)
                if found is None:
                    found = await self.instances.create(
                        realm.game_id, map_id, MapKind.CONTINENT, realm.pool_id, realm.realm_id
                    )
                    log.info("continent %d of realm %s created", map_id, realm.name)
        return await self.instances.running(found.instance_id)
