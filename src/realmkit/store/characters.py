"""Characters and their items.

Saves are fenced: a world node saves with the assignment epoch it loaded the
character under, and a save from an older epoch is refused (here and by the
schema's trigger), so a stale node can never overwrite newer state.
Items change owner by compare-and-set only; a trade moves every item in one
transaction or none.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import msgspec
from msgspec.structs import astuple

from realmkit.errors import (
    AlreadyExists,
    Conflict,
    ItemAlreadyOwned,
    NotFound,
    OwnershipChanged,
    StaleEpoch,
)
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.social.names import split_name
from realmkit.store.postgres import Database, translated
from realmkit.store.records import Character, CharacterSave, Item, row

ITEM_ID_BLOCK = 1024  # the schema's item_id_blocks increment


class ItemMove(msgspec.Struct, frozen=True):
    item_id: int
    from_owner: int
    to_owner: int


class CharacterRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        account_id: int,
        realm_id: int,
        name: str,
        *,
        map_id: int,
        position: tuple[float, float, float],
        hp: int,
        orientation: float = 0.0,
        level: int = 1,
    ) -> Character:
        """A new character; ``AlreadyExists`` if the realm has one of that name."""
        conflicts = {
            "characters_realm_name_key": lambda: AlreadyExists("character", name),
            "characters_account_id_fkey": lambda: NotFound("account", account_id),
            "characters_realm_id_fkey": lambda: NotFound("realm", realm_id),
        }
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO characters.characters (account_id, realm_id, name, level, hp, "
                    "map_id, pos_x, pos_y, pos_z, orientation) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
                    account_id,
                    realm_id,
                    name,
                    level,
                    hp,
                    map_id,
                    *position,
                    orientation,
                )
        return row(Character, record)

    async def get(self, character_id: int) -> Character:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM characters.characters WHERE character_id = $1", character_id
            )
        if record is None:
            raise NotFound("character", character_id)
        return row(Character, record)

    async def named(self, realm_id: int, name: str) -> Character:
        """The character of that name (any case) on a realm."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM characters.characters WHERE realm_id = $1 "
                "AND lower(name) = lower($2)",
                realm_id,
                name,
            )
        if record is None:
            raise NotFound("character", name)
        return row(Character, record)

    async def named_in_pool(self, realm_id: int, target: str) -> Character:
        """The character a player of realm ``realm_id`` means by ``target``: ``Name``
        on that realm, or ``Name-Realm`` on another realm of its pool (any case)."""
        name, realm = split_name(target)
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT c.* FROM characters.characters c "
                "JOIN auth.realmlist r ON r.realm_id = c.realm_id "
                "WHERE lower(c.name) = lower($1) "
                "AND r.pool_id = (SELECT pool_id FROM auth.realmlist WHERE realm_id = $2) "
                "AND CASE WHEN $3::text IS NULL THEN c.realm_id = $2 "
                "ELSE lower(r.name) = lower($3) END",
                name,
                realm_id,
                realm,
            )
        if record is None:
            raise NotFound("character", target)
        return row(Character, record)

    async def of_account(self, account_id: int, realm_id: int | None = None) -> list[Character]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM characters.characters WHERE account_id = $1 "
                "AND ($2::integer IS NULL OR realm_id = $2) ORDER BY character_id",
                account_id,
                realm_id,
            )
        return [row(Character, r) for r in records]

    async def delete(self, character_id: int, account_id: int) -> None:
        """Delete an offline character of ``account_id`` (``Conflict`` while in the world)."""
        async with self.db.transaction() as conn:
            record = await conn.fetchrow(
                "SELECT c.character_id, a.state FROM characters.characters c "
                "LEFT JOIN characters.player_assignments a USING (character_id) "
                "WHERE c.character_id = $1 AND c.account_id = $2 FOR UPDATE OF c",
                character_id,
                account_id,
            )
            if record is None:
                raise NotFound("character", character_id)
            if record["state"] not in (None, AssignmentState.OFFLINE):
                raise Conflict("the character is in the world", character_id=character_id)
            # Mail waiting for it that holds items or money keeps it (the mail's RESTRICT).
            waiting = Conflict("mail holding items or money waits for the character")
            with translated(
                {"items_mail_id_fkey": lambda: waiting, "mail_money_kept": lambda: waiting}
            ):
                await conn.execute(
                    "DELETE FROM characters.characters WHERE character_id = $1", character_id
                )

    async def save(self, state: CharacterSave, epoch: int) -> None:
        """Write ``state`` under assignment ``epoch``; ``StaleEpoch`` if a newer one exists."""
        if state.character_id not in await self.save_many([(state, epoch)]):
            await self.get(state.character_id)  # NotFound when it does not exist
            raise StaleEpoch(state.character_id, epoch)

    async def save_many(
        self, saves: list[tuple[CharacterSave, int]], *, keep_home: bool = False
    ) -> set[int]:
        """``save`` for many characters in one statement; the ids actually saved.

        A character missing from the result had a newer epoch: its save was refused.
        ``keep_home``: the characters play away from home (a cross-realm match);
        their saved position and health stay those of home.
        """
        if not saves:
            return set()
        cols = list(zip(*((*astuple(s), epoch) for s, epoch in saves), strict=True))
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE characters.characters c SET level = s.level, "
                "hp = CASE WHEN $10 THEN c.hp ELSE s.hp END, "
                "map_id = CASE WHEN $10 THEN c.map_id ELSE s.map_id END, "
                "pos_x = CASE WHEN $10 THEN c.pos_x ELSE s.pos_x END, "
                "pos_y = CASE WHEN $10 THEN c.pos_y ELSE s.pos_y END, "
                "pos_z = CASE WHEN $10 THEN c.pos_z ELSE s.pos_z END, "
                "orientation = CASE WHEN $10 THEN c.orientation ELSE s.orientation END, "
                "save_epoch = s.epoch, saved_at = now() "
                "FROM unnest($1::bigint[], $2::int[], $3::int[], $4::int[], $5::float8[], "
                "$6::float8[], $7::float8[], $8::float8[], $9::bigint[]) "
                "AS s(character_id, level, hp, map_id, pos_x, pos_y, pos_z, orientation, epoch) "
                "WHERE c.character_id = s.character_id AND NOT EXISTS ("
                "  SELECT 1 FROM characters.player_assignments a"
                "  WHERE a.character_id = s.character_id AND a.epoch > s.epoch) "
                "RETURNING c.character_id",
                *(list(col) for col in cols),
                keep_home,
            )
        return {r["character_id"] for r in records}


class ItemRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def reserve_ids(self) -> range:
        """A fresh block of item ids, unique cluster-wide."""
        start = int(await self.db.fetchval("SELECT nextval('characters.item_id_blocks')"))
        return range(start, start + ITEM_ID_BLOCK)

    async def grant(
        self,
        item_id: int,
        template_id: int,
        owner: int,
        *,
        stack_count: int = 1,
        slot: int | None = None,
    ) -> Item:
        """Create item ``item_id`` owned by ``owner``; ``ItemAlreadyOwned`` if it exists."""
        conflicts = {
            "items_pkey": lambda: ItemAlreadyOwned(item_id),
            "items_owner_character_id_fkey": lambda: NotFound("character", owner),
            "items_owner_character_id_slot_key": lambda: AlreadyExists("slot", (owner, slot)),
        }
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO characters.items "
                    "(item_id, template_id, owner_character_id, stack_count, slot) "
                    "VALUES ($1, $2, $3, $4, $5) RETURNING *",
                    item_id,
                    template_id,
                    owner,
                    stack_count,
                    slot,
                )
        return row(Item, record)

    async def move(self, item_id: int, from_owner: int, to_owner: int) -> Item:
        """Compare-and-set the owner; ``OwnershipChanged`` if ``from_owner`` no longer owns it."""
        return (await self.trade([ItemMove(item_id, from_owner, to_owner)]))[0]

    async def trade(self, moves: Sequence[ItemMove]) -> list[Item]:
        """Move every item or none (one transaction of compare-and-sets)."""
        moved = []
        async with self.db.transaction() as conn:
            for move in moves:
                conflicts = {
                    "items_owner_character_id_fkey": partial(NotFound, "character", move.to_owner)
                }
                with translated(conflicts):
                    record = await conn.fetchrow(
                        "UPDATE characters.items SET owner_character_id = $3, slot = NULL "
                        "WHERE item_id = $1 AND owner_character_id = $2 RETURNING *",
                        move.item_id,
                        move.from_owner,
                        move.to_owner,
                    )
                if record is None:
                    raise OwnershipChanged(move.item_id, move.from_owner)
                moved.append(row(Item, record))
        return moved

    async def owned_by(self, character_id: int) -> list[Item]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM characters.items WHERE owner_character_id = $1 ORDER BY item_id",
                character_id,
            )
        return [row(Item, r) for r in records]
