"""Cluster topology: games, realm pools, realms and nodes."""

from __future__ import annotations

from realmkit.errors import AlreadyExists, Conflict, NotFound
from realmkit.store.postgres import Database, translated
from realmkit.store.records import (
    Game,
    Node,
    NodeState,
    Realm,
    RealmListing,
    RealmPool,
    RealmStatus,
    WorldCandidate,
    row,
)


class ClusterRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_game(self, game_id: str, name: str, content_pack: str) -> Game:
        async with self.db.connection() as conn:
            with translated({"games_pkey": lambda: AlreadyExists("game", game_id)}):
                record = await conn.fetchrow(
                    "INSERT INTO cluster.games (game_id, name, content_pack) VALUES ($1, $2, $3) "
                    "RETURNING *",
                    game_id,
                    name,
                    content_pack,
                )
        return row(Game, record)

    async def game(self, game_id: str) -> Game:
        async with self.db.connection() as conn:
            record = await conn.fetchrow("SELECT * FROM cluster.games WHERE game_id = $1", game_id)
        if record is None:
            raise NotFound("game", game_id)
        return row(Game, record)

    async def add_pool(self, name: str, game_id: str) -> RealmPool:
        """A new pool for realms of ``game_id`` (a pool's realms all run one game)."""
        conflicts = {
            "realm_pools_name_key": lambda: AlreadyExists("pool", name),
            "realm_pools_game_id_fkey": lambda: NotFound("game", game_id),
        }
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO cluster.realm_pools (name, game_id) VALUES ($1, $2) RETURNING *",
                    name,
                    game_id,
                )
        return row(RealmPool, record)

    async def pools(self) -> list[RealmPool]:
        async with self.db.connection() as conn:
            records = await conn.fetch("SELECT * FROM cluster.realm_pools ORDER BY pool_id")
        return [row(RealmPool, r) for r in records]

    async def pool(self, key: int | str) -> RealmPool:
        """A pool by id or by name."""
        query = (
            "SELECT * FROM cluster.realm_pools WHERE pool_id = $1"
            if isinstance(key, int)
            else "SELECT * FROM cluster.realm_pools WHERE lower(name) = lower($1)"
        )
        async with self.db.connection() as conn:
            record = await conn.fetchrow(query, key)
        if record is None:
            raise NotFound("pool", key)
        return row(RealmPool, record)

    async def add_realm(
        self,
        name: str,
        game_id: str,
        pool_id: int,
        status: RealmStatus = RealmStatus.OFFLINE,
    ) -> Realm:
        conflicts = {
            "realmlist_name_key": lambda: AlreadyExists("realm", name),
            "realmlist_game_id_fkey": lambda: NotFound("game", game_id),
            "realmlist_pool_id_fkey": lambda: NotFound("pool", pool_id),
            "realmlist_pool_game_fkey": lambda: Conflict(
                f"pool {pool_id} is not a pool of game {game_id}: a pool's realms share a game",
                pool_id=pool_id,
                game_id=game_id,
            ),
        }
        async with self.db.connection() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO auth.realmlist (name, game_id, pool_id, status) "
                    "VALUES ($1, $2, $3, $4) RETURNING *",
                    name,
                    game_id,
                    pool_id,
                    status.value,
                )
        return row(Realm, record)

    async def realms(self) -> list[Realm]:
        async with self.db.connection() as conn:
            records = await conn.fetch("SELECT * FROM auth.realmlist ORDER BY realm_id")
        return [row(Realm, r) for r in records]

    async def realm(self, key: int | str) -> Realm:
        """A realm by id or by name."""
        query = (
            "SELECT * FROM auth.realmlist WHERE realm_id = $1"
            if isinstance(key, int)
            else "SELECT * FROM auth.realmlist WHERE lower(name) = lower($1)"
        )
        async with self.db.connection() as conn:
            record = await conn.fetchrow(query, key)
        if record is None:
            raise NotFound("realm", key)
        return row(Realm, record)

    async def update_realm(
        self, realm_id: int, *, status: RealmStatus | None = None, phase: int | None = None
    ) -> Realm:
        """Change a realm's status and/or phase (None keeps the value)."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "UPDATE auth.realmlist SET status = coalesce($2, status), "
                "current_phase = coalesce($3, current_phase) WHERE realm_id = $1 RETURNING *",
                realm_id,
                status.value if status is not None else None,
                phase,
            )
        if record is None:
            raise NotFound("realm", realm_id)
        return row(Realm, record)

    async def listing(self) -> list[RealmListing]:
        """Every realm with its pool, game, active patch and population (players in
        the world), for the realm list and ``realmkit status``."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT r.*, p.name AS pool, pa.name AS patch, "
                "  (SELECT count(*) FROM characters.player_assignments a "
                "   JOIN characters.characters c USING (character_id) "
                "   WHERE c.realm_id = r.realm_id AND a.state <> 'offline') AS population "
                "FROM auth.realmlist r JOIN cluster.realm_pools p USING (pool_id) "
                "LEFT JOIN cluster.patches pa ON pa.patch_id = r.active_patch_id "
                "ORDER BY r.realm_id"
            )
        return [row(RealmListing, r) for r in records]

    async def register_node(
        self, node_id: str, role: str, host: str, port: int, capacity: int = 0
    ) -> Node:
        """Insert or refresh a node's row; it starts (again) in ``starting``."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "INSERT INTO cluster.nodes (node_id, role, host, port, capacity) "
                "VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (node_id) DO UPDATE SET role = EXCLUDED.role, host = EXCLUDED.host, "
                "port = EXCLUDED.port, capacity = EXCLUDED.capacity, state = 'starting', "
                "started_at = now(), last_heartbeat_at = now() RETURNING *",
                node_id,
                role,
                host,
                port,
                capacity,
            )
        return row(Node, record)

    async def heartbeat(self, node_id: str, state: NodeState, capacity: int) -> None:
        """The node is alive in ``state``; a node told to drain stays draining."""
        async with self.db.connection() as conn:
            await conn.execute(
                "UPDATE cluster.nodes SET state = CASE WHEN state = 'draining' AND $2 = 'ready' "
                "THEN 'draining' ELSE $2 END, capacity = $3, last_heartbeat_at = now() "
                "WHERE node_id = $1",
                node_id,
                state.value,
                capacity,
            )

    async def set_world_node_state(self, node_id: str, state: NodeState) -> None:
        """``NotFound`` unless ``node_id`` is a world node."""
        async with self.db.connection() as conn:
            found = await conn.fetchval(
                "UPDATE cluster.nodes SET state = $2 WHERE node_id = $1 AND role = 'world' "
                "RETURNING node_id",
                node_id,
                state.value,
            )
        if found is None:
            raise NotFound("world node", node_id)

    async def overdue(self, seconds: float) -> list[str]:
        """World nodes silent for ``seconds``: marked UNHEALTHY; their ids."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE cluster.nodes SET state = 'unhealthy' WHERE role = 'world' "
                "AND state IN ('starting', 'ready', 'draining') "
                "AND last_heartbeat_at < now() - make_interval(secs => $1) RETURNING node_id",
                seconds,
            )
        return [r["node_id"] for r in records]

    async def nodes(self) -> list[Node]:
        async with self.db.connection() as conn:
            records = await conn.fetch("SELECT * FROM cluster.nodes ORDER BY node_id")
        return [row(Node, r) for r in records]

    async def world_candidates(self, fresh_seconds: float) -> list[WorldCandidate]:
        """Ready world nodes that reported lately, with the players placed on them
        and the seats their instanced maps (not continents) keep for the rest of
        the group they were made for."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT n.node_id, n.capacity, "
                "  coalesce(sum(p.players), 0)::int AS players, "
                "  coalesce(sum(greatest(i.capacity - coalesce(p.players, 0), 0)) "
                "    FILTER (WHERE i.kind <> 'continent'), 0)::int AS reserved "
                "FROM cluster.nodes n "
                "LEFT JOIN characters.instances i ON i.node_id = n.node_id AND i.state <> 'gone' "
                "LEFT JOIN (SELECT instance_id, count(*) AS players "
                "  FROM characters.player_assignments WHERE state <> 'offline' "
                "  GROUP BY instance_id) p ON p.instance_id = i.instance_id "
                "WHERE n.role = 'world' AND n.state = 'ready' "
                "  AND n.last_heartbeat_at > now() - make_interval(secs => $1) "
                "GROUP BY n.node_id, n.capacity ORDER BY n.node_id",
                fresh_seconds,
            )
        return [row(WorldCandidate, r) for r in records]
