"""Cluster topology: games, realm pools, realms and nodes."""

from __future__ import annotations

from realmkit.errors import AlreadyExists, Conflict, NotFound
from realmkit.lifecycle import node
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.instance import InstanceState
from realmkit.lifecycle.node import NodeEvent, NodeState
from realmkit.procs import SAMPLER
from realmkit.routing.world_nodes import WorldCandidate
from realmkit.store.moves import arrays
from realmkit.store.postgres import ConnectionLike, Database, translated
from realmkit.store.records import (
    Game,
    Node,
    NodeStatus,
    PoolListing,
    Realm,
    RealmListing,
    RealmPool,
    RealmStatus,
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

    async def pool_listing(self) -> list[PoolListing]:
        """Every pool with its active patch's name and how many realms it has."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT p.pool_id, p.name, p.game_id, p.active_patch_id, pa.name AS patch, "
                "(SELECT count(*) FROM auth.realmlist r WHERE r.pool_id = p.pool_id)::int "
                "  AS realms "
                "FROM cluster.realm_pools p "
                "LEFT JOIN cluster.patches pa ON pa.patch_id = p.active_patch_id "
                "ORDER BY p.pool_id"
            )
        return [row(PoolListing, r) for r in records]

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
                "   WHERE c.realm_id = r.realm_id AND a.state <> $1) AS population "
                "FROM auth.realmlist r JOIN cluster.realm_pools p USING (pool_id) "
                "LEFT JOIN cluster.patches pa ON pa.patch_id = r.active_patch_id "
                "ORDER BY r.realm_id",
                AssignmentState.OFFLINE.value,
            )
        return [row(RealmListing, r) for r in records]

    async def register_node(
        self,
        node_id: str,
        role: str,
        host: str,
        port: int,
        capacity: int = 0,
        *,
        metrics_port: int = 0,
    ) -> Node:
        """Insert or refresh a node's row; it starts (again) in ``starting`` (REGISTER)."""
        froms, tos = arrays(node.on(NodeEvent.REGISTER))
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "INSERT INTO cluster.nodes (node_id, role, host, port, capacity, metrics_port) "
                "VALUES ($1, $2, $3, $4, $5, $8) "
                "ON CONFLICT (node_id) DO UPDATE SET role = EXCLUDED.role, host = EXCLUDED.host, "
                "port = EXCLUDED.port, capacity = EXCLUDED.capacity, "
                "metrics_port = EXCLUDED.metrics_port, "
                "state = (SELECT m.to_state FROM unnest($6::text[], $7::text[]) "
                "  AS m(from_state, to_state) WHERE m.from_state = cluster.nodes.state), "
                "started_at = now(), last_heartbeat_at = now() RETURNING *",
                node_id,
                role,
                host,
                port,
                capacity,
                froms,
                tos,
                metrics_port,
            )
        return row(Node, record)

    async def heartbeat(self, node_id: str, event: NodeEvent, capacity: int) -> None:
        """The node is alive and reports ``event`` (UP, DRAIN or STOP); a node told to
        drain stays draining. ``IllegalTransition`` if its state does not allow it."""
        froms, tos = arrays(node.on(event))
        cpu, memory = SAMPLER.sample()  # what this process costs, for the operations page
        async with self.db.connection() as conn:
            beat = await conn.fetchval(
                "UPDATE cluster.nodes n SET state = m.to_state, capacity = $2, "
                "last_heartbeat_at = now(), cpu_percent = coalesce($5, n.cpu_percent), "
                "memory_bytes = $6 "
                "FROM unnest($3::text[], $4::text[]) AS m(from_state, to_state) "
                "WHERE n.node_id = $1 AND n.state = m.from_state RETURNING n.node_id",
                node_id,
                capacity,
                froms,
                tos,
                cpu,
                memory,
            )
            if beat is None:
                await _refuse(conn, node_id, event, "")  # an unknown node: nothing to do

    async def move_world_node(self, node_id: str, event: NodeEvent) -> None:
        """Apply ``event`` to a world node; ``NotFound`` unless ``node_id`` is a world
        node, ``IllegalTransition`` if its state does not allow it."""
        froms, tos = arrays(node.on(event))
        async with self.db.connection() as conn:
            found = await conn.fetchval(
                "UPDATE cluster.nodes n SET state = m.to_state "
                "FROM unnest($2::text[], $3::text[]) AS m(from_state, to_state) "
                "WHERE n.node_id = $1 AND n.role = 'world' AND n.state = m.from_state "
                "RETURNING n.node_id",
                node_id,
                froms,
                tos,
            )
            if found is None:
                await _refuse(conn, node_id, event, "world")

    async def overdue(self, seconds: float, role: str = "world") -> list[str]:
        """Nodes of ``role`` silent for ``seconds``: marked UNHEALTHY (TIME_OUT); their ids."""
        froms, tos = arrays(node.on(NodeEvent.TIME_OUT))
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE cluster.nodes n SET state = m.to_state "
                "FROM unnest($2::text[], $3::text[]) AS m(from_state, to_state) "
                "WHERE n.role = $4 AND n.state = m.from_state "
                "AND n.last_heartbeat_at < now() - make_interval(secs => $1) RETURNING n.node_id",
                seconds,
                froms,
                tos,
                role,
            )
        return [r["node_id"] for r in records]

    async def node_rows(self) -> list[NodeStatus]:
        """Every node with its heartbeat's age and its live spaces, for operators."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT n.node_id, n.role, n.state, "
                "extract(epoch FROM now() - n.last_heartbeat_at)::float8 AS heartbeat_age_s, "
                "(SELECT count(*) FROM characters.instances i "
                " WHERE i.node_id = n.node_id AND i.state <> $1)::int AS spaces, "
                "CASE WHEN n.metrics_port > 0 THEN n.host || ':' || n.metrics_port ELSE '' END "
                "  AS metrics, n.cpu_percent, n.memory_bytes "
                "FROM cluster.nodes n ORDER BY n.node_id",
                InstanceState.GONE.value,
            )
        return [row(NodeStatus, r) for r in records]

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
                "LEFT JOIN characters.instances i ON i.node_id = n.node_id AND i.state <> $2 "
                "LEFT JOIN (SELECT instance_id, count(*) AS players "
                "  FROM characters.player_assignments WHERE state <> $3 "
                "  GROUP BY instance_id) p ON p.instance_id = i.instance_id "
                "WHERE n.role = 'world' AND n.state = $4 "
                "  AND n.last_heartbeat_at > now() - make_interval(secs => $1) "
                "GROUP BY n.node_id, n.capacity ORDER BY n.node_id",
                fresh_seconds,
                InstanceState.GONE.value,
                AssignmentState.OFFLINE.value,
                NodeState.READY.value,  # Rule 1 of the node lifecycle
            )
        return [row(WorldCandidate, r) for r in records]


async def _refuse(conn: ConnectionLike, node_id: str, event: NodeEvent, role: str) -> None:
    """A node's update matched no row: ``IllegalTransition`` if its state is not one
    ``event`` leaves, ``NotFound`` if no node (of ``role``, when given) has that id.

    Nothing is raised if its state allows ``event`` after all (it changed between
    the two statements): the next heartbeat or command applies it."""
    stored = await conn.fetchval(
        "SELECT state FROM cluster.nodes WHERE node_id = $1 AND ($2 = '' OR role = $2)",
        node_id,
        role,
    )
    if stored is not None:
        node.next_state(NodeState(stored), event)  # raises: the row was not a source
    elif role:
        raise NotFound(f"{role} node", node_id)
