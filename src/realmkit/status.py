"""The cluster as PostgreSQL knows it: what ``realmkit status`` and ``realmkit up``
show, and what the operations page on the login node (``/api/ops/state``) reads.

One place for the queries, so the terminal and the page cannot disagree. What
the nodes report on NATS (world and gateway loads) is added by whoever listens:
``realmkit status`` for a second and a half, the login node all the time.
"""

from __future__ import annotations

import asyncio
import functools

import msgspec

from realmkit.content.loader import load_pack, pack_folder
from realmkit.errors import RealmkitError
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.instance import InstanceState
from realmkit.protocol.cluster import GatewayLoad, WorldLoad
from realmkit.store.backups import BackupSummaryRepo
from realmkit.store.cells import PartitionRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.locks import MATCHMAKER_LEADER, ORCHESTRATOR_LEADER
from realmkit.store.postgres import Database, lock_holder
from realmkit.store.records import BackupSummary, CellStatus, RealmListing
from realmkit.store.restarts import RealmRestart, RestartRepo


class NodeRow(msgspec.Struct, frozen=True):
    node_id: str
    role: str
    state: str
    heartbeat_age_s: float
    # Live instances placed on it (world nodes).
    spaces: int = 0
    # What the row means now (``realmkit.lifecycle.node.seen``): silent, drained...
    seen: str = ""
    # What its process cost at its last heartbeat (None: not reported).
    cpu_percent: float | None = None
    memory_bytes: int | None = None


class InstanceRow(msgspec.Struct, frozen=True):
    instance_id: int
    realm_id: int | None
    map_id: int
    kind: str
    state: str
    node_id: str | None
    players: int
    # Names for people: the realm (or "pool <name>" for a cross-realm instance), the map.
    realm: str = ""
    map: str = ""


class ClusterStatus(msgspec.Struct, frozen=True):
    realms: list[RealmListing]
    nodes: list[NodeRow]
    instances: list[InstanceRow]
    # The orchestrator replica running the background duties, if any.
    leader: str | None = None
    # The matchmaker replica running the queues and matches, if any.
    matchmaker: str | None = None
    # Live reports heard on NATS (empty when only PostgreSQL was asked).
    worlds: list[WorldLoad] = []
    gateways: list[GatewayLoad] = []
    # The cells of every live continent.
    cells: list[CellStatus] = []
    # What each backup node recorded: its latest backup and restore check.
    backups: list[BackupSummary] = []
    # Realm restarts pending or under way.
    restarts: list[RealmRestart] = []

    @property
    def players(self) -> int:
        return sum(r.population for r in self.realms)


@functools.cache
def map_names(content_pack: str) -> dict[int, str]:
    """Map names of a shipped content pack (none for a pack this install lacks)."""
    try:
        return {m.id: m.name for m in load_pack(pack_folder(content_pack)).maps.values()}
    except RealmkitError:
        return {}


async def cluster_status(db: Database) -> ClusterStatus:
    """The cluster as PostgreSQL knows it: realms, nodes, live instances."""
    async with db.connection() as conn:
        instances = await conn.fetch(
            "SELECT i.instance_id, i.realm_id, i.map_id, i.kind, i.state, i.node_id, "
            "coalesce(r.name, 'pool ' || p.name) AS realm, g.content_pack, "
            "(SELECT count(*) FROM characters.player_assignments a "
            " WHERE a.instance_id = i.instance_id AND a.state <> $2) AS players "
            "FROM characters.instances i "
            "JOIN cluster.games g ON g.game_id = i.game_id "
            "JOIN cluster.realm_pools p ON p.pool_id = i.pool_id "
            "LEFT JOIN auth.realmlist r ON r.realm_id = i.realm_id "
            "WHERE i.state <> $1 ORDER BY i.instance_id",
            InstanceState.GONE.value,
            AssignmentState.OFFLINE.value,
        )
    packs = {r["content_pack"] for r in instances}
    names = {pack: await asyncio.to_thread(map_names, pack) for pack in packs}
    return ClusterStatus(
        realms=await ClusterRepo(db).listing(),
        nodes=[
            NodeRow(
                n.node_id,
                n.role,
                n.state.value,
                n.heartbeat_age_s,
                n.spaces,
                n.seen,
                n.cpu_percent,
                n.memory_bytes,
            )
            for n in await ClusterRepo(db).node_rows()
        ],
        instances=[
            msgspec.convert(
                {
                    **{k: v for k, v in dict(r).items() if k != "content_pack"},
                    "map": names[r["content_pack"]].get(r["map_id"], ""),
                },
                InstanceRow,
            )
            for r in instances
        ],
        leader=await lock_holder(db, ORCHESTRATOR_LEADER),
        matchmaker=await lock_holder(db, MATCHMAKER_LEADER),
        cells=await PartitionRepo(db).live_cells(),
        backups=await BackupSummaryRepo(db).summaries(),
        restarts=await RestartRepo(db).open(),
    )
