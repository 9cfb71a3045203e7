"""Continents' partitions into cells (``characters.partitions`` and ``.cells``).

The layout is stored as ``realmkit.cells.partition.Partition.dump`` writes it,
and each cell's rectangle beside it: the schema checks at commit that the cells
of a live partition tile its map (migration 0010), so a change of layout is
written in one transaction and is the old layout or the new one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

import msgspec

from realmkit.cells.partition import Partition, Rect
from realmkit.errors import AlreadyExists, NotFound, StaleLayout, UsageError
from realmkit.lifecycle.assignment import AssignmentState
from realmkit.lifecycle.instance import InstanceState
from realmkit.store.postgres import ConnectionLike, Database, ErrorFactory, translated
from realmkit.store.records import CellStatus

# A cell row starts at epoch 1 (the schema's default) and every load of its space
# raises it by one: its first load runs under this epoch.
FIRST_LOAD_EPOCH = 2


class CellRow(msgspec.Struct, frozen=True):
    partition_id: int
    cell_id: int
    instance_id: int
    min_x: float
    min_y: float
    max_x: float
    max_y: float
    epoch: int

    @property
    def rect(self) -> Rect:
        return Rect(self.min_x, self.min_y, self.max_x, self.max_y)


@dataclass(frozen=True)
class StoredPartition:
    """A live partition as stored: its layout and the instance of each cell."""

    partition_id: int
    realm_id: int
    map_id: int
    zone_group: int
    layout: Partition
    cells: dict[int, CellRow]
    # Seconds since it last changed, by the database's clock, when read (``all_live``).
    age: float = 0.0

    @property
    def version(self) -> int:
        return self.layout.version


class PartitionRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        conn: ConnectionLike,
        *,
        realm_id: int,
        map_id: int,
        zone_group: int,
        bounds: Rect,
        instance_id: int,
    ) -> int:
        """A fresh continent's partition: one cell over the map, run by ``instance_id``
        (inside the caller's transaction, which creates that instance)."""
        layout = Partition.single(bounds)
        partition_id: int = await conn.fetchval(
            "INSERT INTO characters.partitions "
            "(realm_id, map_id, zone_group, min_x, min_y, max_x, max_y, version, layout) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING partition_id",
            realm_id,
            map_id,
            zone_group,
            *bounds.as_list(),
            layout.version,
            msgspec.json.encode(layout.dump()).decode(),
        )
        await self._write_cells(conn, partition_id, layout, {1: instance_id})
        return partition_id

    async def live(self, realm_id: int, map_id: int, zone_group: int = 0) -> StoredPartition | None:
        """The live partition of a realm's map, if any."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM characters.partitions "
                "WHERE realm_id = $1 AND map_id = $2 AND zone_group = $3 AND live",
                realm_id,
                map_id,
                zone_group,
            )
            if record is None:
                return None
            return await self._stored(conn, record)

    async def get(self, partition_id: int) -> StoredPartition:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM characters.partitions WHERE partition_id = $1", partition_id
            )
            if record is None:
                raise NotFound("partition", partition_id)
            return await self._stored(conn, record)

    async def ensure(
        self, *, instance_id: int, realm_id: int, map_id: int, zone_group: int, bounds: Rect
    ) -> CellRow:
        """The cell a continent instance runs; a continent that was live before
        partitions existed (migration 0010) gets its one-cell partition here."""
        found = await self.of_instance(instance_id)
        if found is not None:
            return found
        conflicts: dict[str, ErrorFactory] = {
            "partitions_one_live": partial(
                AlreadyExists, "partition", (realm_id, map_id, zone_group)
            )
        }
        async with self.db.transaction() as conn:
            with translated(conflicts):
                await self.create(
                    conn,
                    realm_id=realm_id,
                    map_id=map_id,
                    zone_group=zone_group,
                    bounds=bounds,
                    instance_id=instance_id,
                )
        made = await self.of_instance(instance_id)
        assert made is not None
        return made

    async def of_realm(self, realm_id: int) -> list[CellStatus]:
        """Every cell of the realm's live partitions, by map and cell."""
        return await self.live_cells(realm_id)

    async def live_cells(self, realm_id: int | None = None) -> list[CellStatus]:
        """Every cell of the live partitions (of one realm when named), by realm,
        map and cell."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT r.name AS realm, p.map_id, p.version, c.cell_id, "
                "c.min_x, c.min_y, c.max_x, c.max_y, c.instance_id, i.node_id, i.state, c.epoch, "
                "(SELECT count(*) FROM characters.player_assignments a "
                " WHERE a.instance_id = c.instance_id AND a.state <> $2)::int AS players "
                "FROM characters.partitions p JOIN characters.cells c USING (partition_id) "
                "JOIN characters.instances i ON i.instance_id = c.instance_id "
                "JOIN auth.realmlist r ON r.realm_id = p.realm_id "
                "WHERE p.live AND ($1::int IS NULL OR p.realm_id = $1) "
                "ORDER BY r.name, p.map_id, c.cell_id",
                realm_id,
                AssignmentState.OFFLINE.value,
            )
        return [msgspec.convert(dict(r), CellStatus) for r in records]

    async def of_instance(self, instance_id: int) -> CellRow | None:
        """The cell an instance runs, if it runs one."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM characters.cells WHERE instance_id = $1", instance_id
            )
        return None if record is None else msgspec.convert(dict(record), CellRow)

    async def relayout(
        self, stored: StoredPartition, layout: Partition, instances: Mapping[int, int | None]
    ) -> StoredPartition:
        """Write a new layout computed from ``stored`` (compare-and-set on its version):
        ``instances`` names the instance of every cell of ``layout``, None for a new
        cell, whose instance (``requested``, like the continent's others) is
        created in the same transaction. ``StaleLayout`` if another writer changed
        the partition since; nothing is written then."""
        if layout.version <= stored.version or set(instances) != set(layout.cells):
            raise UsageError(
                "a new layout names an instance for each of its cells",
                cells=sorted(layout.cells),
                instances=sorted(instances),
            )
        async with self.db.transaction() as conn:
            with translated():
                changed = await conn.execute(
                    "UPDATE characters.partitions SET version = $3, layout = $4::jsonb, "
                    "updated_at = now() WHERE partition_id = $1 AND version = $2 AND live",
                    stored.partition_id,
                    stored.version,
                    layout.version,
                    msgspec.json.encode(layout.dump()).decode(),
                )
                if changed != "UPDATE 1":
                    raise StaleLayout(stored.partition_id, stored.version)
                await conn.execute(
                    "DELETE FROM characters.cells WHERE partition_id = $1 "
                    "AND NOT (cell_id = ANY($2::int[]))",
                    stored.partition_id,
                    list(layout.cells),
                )
                named = {
                    cell: instance
                    if instance is not None
                    else await self._new_instance(conn, stored)
                    for cell, instance in instances.items()
                }
                await self._write_cells(conn, stored.partition_id, layout, named)
        return await self.get(stored.partition_id)

    async def _new_instance(self, conn: ConnectionLike, stored: StoredPartition) -> int:
        """A continent instance for a new cell, like the partition's others."""
        model = next(iter(stored.cells.values())).instance_id
        instance_id: int = await conn.fetchval(
            "INSERT INTO characters.instances "
            "(game_id, map_id, kind, pool_id, realm_id, capacity, zone_group) "
            "SELECT game_id, map_id, kind, pool_id, realm_id, capacity, zone_group "
            "FROM characters.instances WHERE instance_id = $1 RETURNING instance_id",
            model,
        )
        return instance_id

    async def standing(self, instance_ids: list[int]) -> dict[int, list[tuple[float, float]]]:
        """Where the players placed in these instances stand (their last saves)."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT a.instance_id, c.pos_x, c.pos_y FROM characters.player_assignments a "
                "JOIN characters.characters c USING (character_id) "
                "WHERE a.instance_id = ANY($1) AND a.state <> $2",
                instance_ids,
                AssignmentState.OFFLINE.value,
            )
        out: dict[int, list[tuple[float, float]]] = {i: [] for i in instance_ids}
        for r in records:
            out[r["instance_id"]].append((float(r["pos_x"]), float(r["pos_y"])))
        return out

    async def retired(self, state: InstanceState = InstanceState.READY) -> list[int]:
        """Continent instances in ``state`` that no live partition names as a cell any
        more (merged away), with nobody placed in them."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT i.instance_id FROM characters.instances i "
                "JOIN characters.partitions p ON p.realm_id = i.realm_id "
                "AND p.map_id = i.map_id AND p.live "
                "WHERE i.kind = 'continent' AND i.state = $2 "
                "AND NOT EXISTS (SELECT 1 FROM characters.cells c "
                "                WHERE c.instance_id = i.instance_id) "
                "AND NOT EXISTS (SELECT 1 FROM characters.player_assignments a "
                "                WHERE a.instance_id = i.instance_id AND a.state <> $1) "
                "ORDER BY i.instance_id",
                AssignmentState.OFFLINE.value,
                state.value,
            )
        return [int(r["instance_id"]) for r in records]

    async def all_live(self) -> list[StoredPartition]:
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT *, extract(epoch FROM clock_timestamp() - updated_at)::float8 AS age "
                "FROM characters.partitions WHERE live ORDER BY partition_id"
            )
            return [await self._stored(conn, r) for r in records]

    async def host(self, partition_id: int, cell_id: int) -> tuple[int, str, str | None] | None:
        """(instance, its state, its node) of a cell, None when the cell is gone."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT i.instance_id, i.state, i.node_id FROM characters.cells c "
                "JOIN characters.instances i USING (instance_id) "
                "WHERE c.partition_id = $1 AND c.cell_id = $2",
                partition_id,
                cell_id,
            )
        if record is None:
            return None
        return int(record["instance_id"]), str(record["state"]), record["node_id"]

    async def next_epoch(self, instance_id: int) -> int:
        """A cell's space is loaded (again): its epoch goes up; the new one
        (``FIRST_LOAD_EPOCH`` at its first load)."""
        async with self.db.connection() as conn:
            epoch = await conn.fetchval(
                "UPDATE characters.cells SET epoch = epoch + 1 WHERE instance_id = $1 "
                "RETURNING epoch",
                instance_id,
            )
        if epoch is None:
            raise NotFound("cell of instance", instance_id)
        return int(epoch)

    async def _write_cells(
        self,
        conn: ConnectionLike,
        partition_id: int,
        layout: Partition,
        instances: Mapping[int, int],
    ) -> None:
        for cell, rect in layout.cells.items():
            await conn.execute(
                "INSERT INTO characters.cells "
                "(partition_id, cell_id, instance_id, min_x, min_y, max_x, max_y) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (partition_id, cell_id) "
                "DO UPDATE SET instance_id = EXCLUDED.instance_id, min_x = EXCLUDED.min_x, "
                "min_y = EXCLUDED.min_y, max_x = EXCLUDED.max_x, max_y = EXCLUDED.max_y",
                partition_id,
                cell,
                instances[cell],
                *rect.as_list(),
            )

    async def _stored(self, conn: ConnectionLike, record: object) -> StoredPartition:
        fields = dict(record)  # type: ignore[call-overload]
        cells = await conn.fetch(
            "SELECT * FROM characters.cells WHERE partition_id = $1 ORDER BY cell_id",
            fields["partition_id"],
        )
        return StoredPartition(
            partition_id=fields["partition_id"],
            realm_id=fields["realm_id"],
            map_id=fields["map_id"],
            zone_group=fields["zone_group"],
            # asyncpg hands jsonb over as its text.
            layout=Partition.load(msgspec.json.decode(fields["layout"])),
            cells={r["cell_id"]: msgspec.convert(dict(r), CellRow) for r in cells},
            age=max(0.0, float(fields.get("age") or 0.0)),
        )
