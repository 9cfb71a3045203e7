"""Content packs by name, loaded once per process (off the event loop)."""

from __future__ import annotations

import asyncio

from realmkit.content.loader import load_pack, pack_folder
from realmkit.content.schema import ContentPack


class PackCache:
    def __init__(self) -> None:
        self._packs: dict[str, ContentPack] = {}
        self._lock = asyncio.Lock()

    async def get(self, name: str) -> ContentPack:
        pack = self._packs.get(name)
        if pack is None:
            async with self._lock:
                pack = self._packs.get(name)
                if pack is None:
                    pack = await asyncio.to_thread(load_pack, pack_folder(name))
                    self._packs[name] = pack
        return pack


def home_continent(pack: ContentPack, map_id: int) -> int:
    """``map_id`` if it is a continent of the pack, else the pack's first continent."""
    found = pack.maps.get(map_id)
    if found is not None and found.kind == "continent":
        return map_id
    return min(m.id for m in pack.maps.values() if m.kind == "continent")
