"""The default realm a new cluster starts with, written only into an empty database."""

from __future__ import annotations

from realmkit.store.postgres import Database

DEFAULT_GAME = ("classic", "Classic", "classic")
DEFAULT_POOL = "default"
DEFAULT_REALM = "Azure"


async def seed_if_empty(db: Database) -> bool:
    """Add the ``classic`` game, a pool and one online realm unless any game exists."""
    async with db.transaction() as conn:
        # Two `realmkit up` at once must not both seed: one transaction, one lock.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('seed', 0))")
        if await conn.fetchval("SELECT count(*) FROM cluster.games"):
            return False
        await conn.execute(
            "INSERT INTO cluster.games (game_id, name, content_pack) VALUES ($1, $2, $3)",
            *DEFAULT_GAME,
        )
        pool_id = await conn.fetchval(
            "INSERT INTO cluster.realm_pools (name) VALUES ($1) RETURNING pool_id", DEFAULT_POOL
        )
        await conn.execute(
            "INSERT INTO auth.realmlist (name, game_id, pool_id, status) "
            "VALUES ($1, $2, $3, 'online')",
            DEFAULT_REALM,
            DEFAULT_GAME[0],
            pool_id,
        )
    return True
