"""Placing a character that enters the world.

The continent instance of a realm and map is created once: the whole check,
create, assign-to-node and load sequence runs under a cluster-wide advisory
lock named after the realm and map, and the schema allows only one live
continent copy besides. No player is routed to an instance before its world
node answered that the space is loaded ("pending until loaded"). The
assignment is then written with ``epoch + 1`` (compare-and-set on the epoch
read), which fences any world node still holding the character.
"""

from __future__ import annotations

import logging
import secrets

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.errors import Conflict, Unavailable
from realmkit.nodes.packs import PackCache, home_continent
from realmkit.protocol.cluster import EnterWorld, LoadSpace, Placement, SpaceReady
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database
from realmkit.store.records import (
    Game,
    Instance,
    InstanceState,
    MapKind,
    Realm,
    RealmStatus,
    WorldCandidate,
)

log = logging.getLogger("realmkit.orchestrator")

FRESH_HEARTBEAT = 5.0
LOAD_TIMEOUT = 10.0


def pick_world_node(candidates: list[WorldCandidate]) -> str:
    """The node with the most free capacity (ties: the first by id)."""
    free = [(c.capacity - c.players, c.node_id) for c in candidates if c.capacity > c.players]
    if not free:
        raise Unavailable("no world node has room for another player")
    return min(free, key=lambda f: (-f[0], f[1]))[1]


class Placer:
    def __init__(self, db: Database, bus: NatsBus, packs: PackCache) -> None:
        self.db = db
        self.bus = bus
        self.packs = packs
        self.characters = CharacterRepo(db)
        self.cluster = ClusterRepo(db)
        self.instances = InstanceRepo(db)
        self.assignments = AssignmentRepo(db)

    async def enter_world(self, request: EnterWorld) -> Placement:
        character = await self.characters.get(request.character_id)
        realm = await self.cluster.realm(character.realm_id)
        if realm.status is not RealmStatus.ONLINE:
            raise Conflict(f"realm {realm.name} is {realm.status.value}", realm_id=realm.realm_id)
        game = await self.cluster.game(realm.game_id)
        pack = await self.packs.get(game.content_pack)
        map_id = home_continent(pack, character.map_id)
        instance = await self._continent(realm, game, map_id, pack.maps[map_id].max_players)
        assert instance.node_id is not None
        current = await self.assignments.get(character.character_id)
        placed = await self.assignments.place(
            character.character_id,
            instance.instance_id,
            request.gateway_id,
            expected_epoch=current.epoch if current else None,
        )
        return Placement(
            character.character_id, instance.instance_id, instance.node_id, map_id, placed.epoch
        )

    async def _continent(self, realm: Realm, game: Game, map_id: int, capacity: int) -> Instance:
        ready = await self.instances.live_continent(realm.realm_id, map_id)
        if ready is not None and ready.state is InstanceState.READY:
            return ready  # the common case needs no lock
        async with self.db.advisory_lock(f"continent:{realm.realm_id}:{map_id}"):
            instance = await self.instances.live_continent(realm.realm_id, map_id)
            if instance is not None and instance.state is InstanceState.READY:
                return instance
            if instance is None:
                node_id = pick_world_node(await self.cluster.world_candidates(FRESH_HEARTBEAT))
                created = await self.instances.create(
                    game_id=game.game_id,
                    map_id=map_id,
                    kind=MapKind.CONTINENT,
                    pool_id=realm.pool_id,
                    realm_id=realm.realm_id,
                    capacity=capacity,
                )
                instance = await self.instances.set_state(
                    created.instance_id, InstanceState.LOADING, node_id
                )
                log.info("continent %d of realm %s -> %s", map_id, realm.name, node_id)
            return await self._load(instance, game)

    async def _load(self, instance: Instance, game: Game) -> Instance:
        """Ask the instance's node to load it (again: loading is idempotent); READY after."""
        assert instance.node_id is not None
        load = LoadSpace(
            instance.instance_id, game.content_pack, instance.map_id, secrets.randbits(62)
        )
        try:
            await self.bus.request(
                subjects.node_control(instance.node_id), load, SpaceReady, timeout=LOAD_TIMEOUT
            )
        except Unavailable:
            # That node cannot host it: retire the row; the next request places anew.
            await self.instances.set_state(instance.instance_id, InstanceState.GONE)
            raise
        return await self.instances.set_state(instance.instance_id, InstanceState.READY)
