"""A realm's content as clients draw it (``GET /api/realms/{realm_id}/content``).

The realm's spaces run its game's pack with the realm's active patch at its phase
(``realmkit.nodes.content``): the same is read here, each time from PostgreSQL
(a patch activated shows at the next request), and the JSON body is made once
per content version (pack, patch, phase), kept for a few versions.
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec

from realmkit.nodes.content import Scope, SpaceContent, Version
from realmkit.nodes.packs import PackCache
from realmkit.protocol.login import realm_content
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database

# Bodies kept: a realm's version and the one before, for a cluster of a few games.
VERSIONS_KEPT = 16


class Served(msgspec.Struct, frozen=True):
    """A body and its entity tag (what a client sends back in If-None-Match)."""

    body: bytes
    etag: str


class RealmContents:
    def __init__(self, db: Database, packs: PackCache | None = None) -> None:
        self.cluster = ClusterRepo(db)
        self.content = SpaceContent(db, packs or PackCache())
        self._bodies: OrderedDict[tuple[int, Version], Served] = OrderedDict()

    async def of(self, realm_id: int) -> Served:
        """The content of realm ``realm_id`` now (``NotFound`` for no such realm)."""
        realm = await self.cluster.realm(realm_id)
        scope = Scope(realm.game_id, realm.realm_id, realm.pool_id)
        version = await self.content.version(scope)
        key = (realm.realm_id, version)
        served = self._bodies.get(key)
        if served is None:
            pack = await self.content.pack(version)
            view = realm_content(realm.realm_id, version.patch_id or 0, version.phase, pack)
            etag = f'"{realm.realm_id}.{view.pack}.{view.version}.{view.patch_id}.{view.phase}"'
            served = self._bodies[key] = Served(msgspec.json.encode(view), etag)
            while len(self._bodies) > VERSIONS_KEPT:
                self._bodies.popitem(last=False)
        self._bodies.move_to_end(key)
        return served
