"""The invariants every cluster test ends by checking, in SQL, and a query helper."""

from __future__ import annotations

from typing import NamedTuple

import asyncpg

# Items without exactly one owner that exists: a character, or a mail (not both,
# not neither). The schema's CHECK and foreign keys refuse these; this says so
# at the end of every cluster test, whatever path the items took.
ITEMS_WITHOUT_ONE_OWNER = (
    "SELECT i.item_id, i.owner_character_id, i.mail_id FROM characters.items i "
    "WHERE (i.owner_character_id IS NULL) = (i.mail_id IS NULL) "
    "OR (i.owner_character_id IS NOT NULL AND NOT EXISTS (SELECT 1 "
    "FROM characters.characters c WHERE c.character_id = i.owner_character_id)) "
    "OR (i.mail_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM social.mail m "
    "WHERE m.mail_id = i.mail_id))"
)
# What trades and mail must conserve: items, and money in purses plus money in
# mails not yet taken.
CONSERVATION = (
    "SELECT (SELECT count(*) FROM characters.items) AS items, "
    "(SELECT coalesce(sum(money), 0) FROM characters.characters) "
    "+ (SELECT coalesce(sum(money), 0) FROM social.mail) AS money"
)


class Conservation(NamedTuple):
    items: int
    money: int


async def fetch(database_url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Rows of one query on the cluster's database."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def grant(database_url: str, character_id: int, count: int, money: int) -> list[int]:
    """``count`` new items (ids from the cluster's blocks) and ``money`` for a character;
    the item ids."""
    conn = await asyncpg.connect(database_url)
    try:
        first = int(await conn.fetchval("SELECT nextval('characters.item_id_blocks')"))
        ids = list(range(first, first + count))
        await conn.execute(
            "INSERT INTO characters.items (item_id, template_id, owner_character_id) "
            "SELECT unnest($1::bigint[]), 2589, $2",
            ids,
            character_id,
        )
        await conn.execute(
            "UPDATE characters.characters SET money = money + $2 WHERE character_id = $1",
            character_id,
            money,
        )
    finally:
        await conn.close()
    return ids


async def owned_items(database_url: str) -> set[tuple[int, int]]:
    """Every (item, owner) pair now."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT item_id, owner_character_id FROM characters.items")
    finally:
        await conn.close()
    return {(r["item_id"], r["owner_character_id"]) for r in rows}


async def conservation(database_url: str) -> Conservation:
    """The totals mail and trades never change (items; money of purses and mails):
    take them before and after, and compare."""
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(CONSERVATION)
    finally:
        await conn.close()
    return Conservation(int(row["items"]), int(row["money"]))


async def check_invariants(database_url: str, items_before: set[tuple[int, int]]) -> None:
    """No character in two instances or in a dead one, no item with two owners or none
    (a character or a mail), no item lost since ``items_before``, no save applied under an
    epoch newer than the assignment."""
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
        ownerless = await conn.fetch(ITEMS_WITHOUT_ONE_OWNER)
        assert not ownerless, f"items without exactly one owner: {ownerless[:10]}"
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
