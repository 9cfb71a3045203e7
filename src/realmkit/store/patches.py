"""Patch chains: each patch overrides content values of one game on top of its parent.

A realm runs its game's pack with the chain of its active patch applied, root
first; a pool's cross-realm instances run the pool's active patch. Rolling
back re-activates the parent (the base content once the root is rolled back).
The schema keeps a chain inside one game and acyclic (a parent is older).
"""

from __future__ import annotations

from typing import Any

import msgspec

from realmkit.errors import AlreadyExists, Conflict, NotFound
from realmkit.store.postgres import Database, translated
from realmkit.store.records import Patch, Realm, RealmPool, row


def _patch(record: Any) -> Patch:
    fields = dict(record)
    # asyncpg hands jsonb over as its text.
    fields["overrides"] = msgspec.json.decode(fields["overrides"])
    return row(Patch, fields)


class PatchRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, game_id: str, name: str, overrides: dict[str, Any], parent_id: int | None
    ) -> Patch:
        """A new patch of ``game_id``; its overrides must already be checked against
        the game's pack (``realmkit.content.patches.check_overrides``)."""
        conflicts = {
            "patches_game_id_name_key": lambda: AlreadyExists("patch", name),
            "patches_game_id_fkey": lambda: NotFound("game", game_id),
            "patches_parent_id_game_id_fkey": lambda: NotFound(f"patch of {game_id}", parent_id),
        }
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO cluster.patches (game_id, name, parent_id, overrides) "
                    "VALUES ($1, $2, $3, $4::jsonb) RETURNING *",
                    game_id,
                    name,
                    parent_id,
                    msgspec.json.encode(overrides).decode(),
                )
        return _patch(record)

    async def get(self, game_id: str, key: int | str) -> Patch:
        """A patch of ``game_id`` by id or name."""
        query = (
            "SELECT * FROM cluster.patches WHERE game_id = $1 AND patch_id = $2"
            if isinstance(key, int)
            else "SELECT * FROM cluster.patches WHERE game_id = $1 AND name = $2"
        )
        async with self.db.connection() as conn:
            record = await conn.fetchrow(query, game_id, key)
        if record is None:
            raise NotFound(f"patch of {game_id}", key)
        return _patch(record)

    async def of_game(self, game_id: str) -> list[Patch]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM cluster.patches WHERE game_id = $1 ORDER BY patch_id",
                game_id,
            )
        return [_patch(r) for r in records]

    async def chain(self, patch_id: int | None) -> list[Patch]:
        """The patches from the root down to ``patch_id`` (empty for None)."""
        if patch_id is None:
            return []
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "WITH RECURSIVE up AS ("
                "  SELECT * FROM cluster.patches WHERE patch_id = $1"
                "  UNION ALL"
                "  SELECT p.* FROM cluster.patches p JOIN up ON p.patch_id = up.parent_id"
                ") SELECT * FROM up ORDER BY patch_id",
                patch_id,
            )
        if not records:
            raise NotFound("patch", patch_id)
        return [_patch(r) for r in records]

    async def activate(self, realm: Realm, patch_id: int | None) -> Realm:
        """Make ``patch_id`` (of the realm's game; None: the base content) the realm's."""
        conflicts = {"realmlist_active_patch_id_game_id_fkey": _other_game(patch_id, realm.game_id)}
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "UPDATE auth.realmlist SET active_patch_id = $2 WHERE realm_id = $1 "
                    "RETURNING *",
                    realm.realm_id,
                    patch_id,
                )
        if record is None:
            raise NotFound("realm", realm.realm_id)
        return row(Realm, record)

    async def activate_for_pool(self, pool: RealmPool, patch_id: int | None) -> RealmPool:
        """The patch a pool's cross-realm instances run."""
        conflicts = {"realm_pools_active_patch_fkey": _other_game(patch_id, pool.game_id)}
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "UPDATE cluster.realm_pools SET active_patch_id = $2 WHERE pool_id = $1 "
                    "RETURNING *",
                    pool.pool_id,
                    patch_id,
                )
        if record is None:
            raise NotFound("pool", pool.pool_id)
        return row(RealmPool, record)

    async def parent_of_active(self, active_patch_id: int | None, where: str) -> int | None:
        """What a rollback re-activates: the active patch's parent (None: base content)."""
        if active_patch_id is None:
            raise Conflict(f"{where} runs the base content: nothing to roll back")
        async with self.db.connection() as conn:
            parent: int | None = await conn.fetchval(
                "SELECT parent_id FROM cluster.patches WHERE patch_id = $1", active_patch_id
            )
        return parent


def _other_game(patch_id: int | None, game_id: str) -> Any:
    return lambda: Conflict(f"patch {patch_id} is not a patch of {game_id}", patch_id=patch_id)
