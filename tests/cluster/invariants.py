"""The invariants every cluster test ends by checking, in SQL, and a query helper."""

from __future__ import annotations

import asyncpg


async def fetch(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Rows of one query on the cluster's database."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def owned_items(database_url: str) -> set[tuple[int, int]]:
    """Every (item, owner) pair now."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT item_id, owner_character_id FROM characters.items")
    finally:
        await conn.close()
    return {(r["item_id"], r["owner_character_id"]) for r in rows}


async def check_invariants(database_url: str, items_before: set[tuple[int, int]]) -> None:
    """No character in two instances or in a dead one, no item with two owners, no item
    lost since ``items_before``, no save applied under an epoch newer than the assignment."""
    conn = await asyncpg.connect(database_url)
    try:
        placed_in_dead = await conn.fetch(
            "SELECT a.character_id, i.instance_id, i.state FROM characters.player_assignments a "
            "JOIN characters.instances i USING (instance_id) WHERE i.state = 'gone'"
        )
        assert not placed_in_dead, f"characters placed in gone instances: {placed_in_dead}"
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT character_id FROM characters.player_assignments "
            "GROUP BY character_id HAVING count(*) > 1) t"
        )
        assert twice == 0
        item_rows = await conn.fetch("SELECT item_id, owner_character_id FROM characters.items")
        ids = [r["item_id"] for r in item_rows]
        assert len(ids) == len(set(ids)), "an item has two rows"
        now = {(r["item_id"], r["owner_character_id"]) for r in item_rows}
        lost = items_before - now
        assert not lost, f"items lost or moved: {sorted(lost)[:10]}"
        ahead = await conn.fetch(
            "SELECT c.character_id, c.save_epoch, a.epoch FROM characters.characters c "
            "JOIN characters.player_assignments a USING (character_id) "
            "WHERE c.save_epoch > a.epoch"
        )
        assert not ahead, f"saves under an epoch the assignment never had: {ahead}"
    finally:
        await conn.close()
