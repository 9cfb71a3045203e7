"""Which content each space runs: its game's pack with its realm's patch chain applied.

A realm's instances run the realm's active patch at the realm's phase; a
pool's cross-realm instances (realm_id NULL) run the pool's active patch.
PostgreSQL says which patch is active; a ``PatchActivated`` message on NATS
only tells the node to look now (it also looks every few seconds, so a
missed message delays a patch, never loses it). Resolved packs are cached
per (pack, patch, phase): many spaces of one realm share one.

World nodes run it; the login node shows clients the same content
(``GET /api/realms/{realm_id}/content``, ``nodes.login.content``).
"""

from __future__ import annotations

import asyncio

import msgspec

from realmkit.content.patches import decode_overrides, resolve
from realmkit.content.schema import ContentPack
from realmkit.nodes.packs import PackCache
from realmkit.store.cluster import ClusterRepo
from realmkit.store.patches import PatchRepo
from realmkit.store.postgres import Database


class Scope(msgspec.Struct, frozen=True):
    """Whose patch a space follows: a realm's, or (``realm_id`` None) a pool's."""

    game_id: str
    realm_id: int | None
    pool_id: int


class Version(msgspec.Struct, frozen=True):
    """A resolved content version: ``patch_id`` None is the base pack."""

    content_pack: str
    patch_id: int | None
    phase: int


class SpaceContent:
    def __init__(self, db: Database, packs: PackCache) -> None:
        self.cluster = ClusterRepo(db)
        self.patches = PatchRepo(db)
        self.packs = packs
        self._resolved: dict[Version, ContentPack] = {}

    async def version(self, scope: Scope) -> Version:
        """The content version ``scope`` should run now."""
        game = await self.cluster.game(scope.game_id)
        if scope.realm_id is None:
            pool = await self.cluster.pool(scope.pool_id)
            return Version(game.content_pack, pool.active_patch_id, 0)
        realm = await self.cluster.realm(scope.realm_id)
        return Version(game.content_pack, realm.active_patch_id, realm.current_phase)

    async def pack(self, version: Version) -> ContentPack:
        """The pack of ``version``, resolved once per process."""
        found = self._resolved.get(version)
        if found is None:
            base = await self.packs.get(version.content_pack)
            chain = [
                decode_overrides(p.overrides) for p in await self.patches.chain(version.patch_id)
            ]
            found = await asyncio.to_thread(resolve, base, chain, version.phase)
            self._resolved[version] = found
        return found
