"""The realms a new cluster starts with, written only into an empty database.

Two realms of ``classic`` share one pool (their players meet in battlegrounds,
arenas and dungeon finder groups); one realm of ``frontier``, the second
game, has a pool of its own.
"""

from __future__ import annotations

from realmkit.store.postgres import Database

# (game_id, name, content pack)
DEFAULT_GAMES = [("classic", "Classic", "classic"), ("frontier", "Frontier", "frontier")]
# pool name -> (game, realm names)
DEFAULT_POOLS = {
    "classic": ("classic", ["Azure", "Crimson"]),
    "frontier": ("frontier", ["Dustfall"]),
}
DEFAULT_REALM = "Azure"


async def seed_if_empty(db: Database) -> bool:
    """Add the default games, pools and online realms unless any game exists."""
    async with db.transaction() as conn:
        # Two `realmkit up` at once must not both seed: one transaction, one lock.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('seed', 0))")
        if await conn.fetchval("SELECT count(*) FROM cluster.games"):
            return False
        for game in DEFAULT_GAMES:
            await conn.execute(
                "INSERT INTO cluster.games (game_id, name, content_pack) VALUES ($1, $2, $3)",
                *game,
            )
        for pool, (game_id, realms) in DEFAULT_POOLS.items():
            pool_id = await conn.fetchval(
                "INSERT INTO cluster.realm_pools (name, game_id) VALUES ($1, $2) RETURNING pool_id",
                pool,
                game_id,
            )
            for name in realms:
                await conn.execute(
                    "INSERT INTO auth.realmlist (name, game_id, pool_id, status) "
                    "VALUES ($1, $2, $3, 'online')",
                    name,
                    game_id,
                    pool_id,
                )
    return True
