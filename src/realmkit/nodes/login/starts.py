"""Where new characters begin: read from the content pack of the realm's game."""

from __future__ import annotations

import asyncio

from realmkit.content.loader import load_pack, pack_folder
from realmkit.content.schema import ContentPack
from realmkit.errors import NotFound
from realmkit.nodes.login.api import CharacterStart
from realmkit.store.cluster import ClusterRepo


def start_in(pack: ContentPack) -> CharacterStart:
    """The first spawn point of the pack's first continent, at full level-1 health."""
    continents = sorted(m.id for m in pack.maps.values() if m.kind == "continent")
    for map_id in continents:
        points = pack.maps[map_id].spawn_points
        if points:
            at = points[0].at
            return CharacterStart(map_id, at.x, at.y, at.z, at.o, pack.player.base_hp)
    raise NotFound("continent spawn point in pack", pack.info.name)


class Starts:
    """Start locations per game id, loading each game's pack once."""

    def __init__(self, cluster: ClusterRepo) -> None:
        self.cluster = cluster
        self._by_game: dict[str, CharacterStart] = {}

    async def of(self, game_id: str) -> CharacterStart:
        known = self._by_game.get(game_id)
        if known is None:
            game = await self.cluster.game(game_id)
            pack = await asyncio.to_thread(load_pack, pack_folder(game.content_pack))
            known = self._by_game[game_id] = start_in(pack)
        return known
