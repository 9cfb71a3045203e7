"""The instance registry and player assignments: where every character is.

``player_assignments`` has one row per character that ever entered the world
(``offline`` once it leaves), so its ``epoch`` only grows. Every placement,
transfer or release is a compare-and-set on the epoch the caller last saw and
writes ``epoch + 1``; two racing orchestrators cannot both win, and the
winner's epoch fences the loser's world node out of saving.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial

from realmkit.cells.partition import Rect
from realmkit.errors import (
    AlreadyAssigned,
    AlreadyExists,
    IllegalTransition,
    NotFound,
    StaleEpoch,
    UsageError,
)
from realmkit.lifecycle import assignment, instance
from realmkit.lifecycle.assignment import AssignmentEvent, AssignmentState
from realmkit.lifecycle.instance import InstanceEvent, InstanceState
from realmkit.lifecycle.node import NodeState
from realmkit.store.cells import PartitionRepo
from realmkit.store.postgres import Database, ErrorFactory, translated
from realmkit.store.records import Assignment, Character, Instance, MapKind, row


class InstanceRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        *,
        game_id: str,
        map_id: int,
        kind: MapKind,
        pool_id: int,
        realm_id: int | None,
        capacity: int,
        zone_group: int = 0,
        bounds: Rect | None = None,
    ) -> Instance:
        """Register a new instance in ``requested``.

        A continent (whose map's ground ``bounds`` are given) comes with its
        partition, of one cell run by this instance, in the same transaction;
        ``AlreadyExists`` if the realm's map has a live partition already.
        """
        if (kind is MapKind.CONTINENT) != (bounds is not None):
            raise UsageError("a continent, and only a continent, is created with its bounds")
        conflicts: dict[str, ErrorFactory] = {
            "partitions_one_live": partial(
                AlreadyExists, "continent instance", (realm_id, map_id, zone_group)
            ),
            "instances_realm_id_pool_id_fkey": partial(NotFound, "realm", (realm_id, pool_id)),
            "instances_realm_id_game_id_fkey": partial(NotFound, "realm", (realm_id, game_id)),
        }
        async with self.db.transaction() as conn:
            with translated(conflicts):
                record = await conn.fetchrow(
                    "INSERT INTO characters.instances "
                    "(game_id, map_id, kind, pool_id, realm_id, capacity, zone_group) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
                    game_id,
                    map_id,
                    kind.value,
                    pool_id,
                    realm_id,
                    capacity,
                    zone_group,
                )
                if bounds is not None:
                    # The schema's: an INSERT returns its row; continents have a realm.
                    assert record is not None
                    assert realm_id is not None
                    await PartitionRepo(self.db).create(
                        conn,
                        realm_id=realm_id,
                        map_id=map_id,
                        zone_group=zone_group,
                        bounds=bounds,
                        instance_id=record["instance_id"],
                    )
        return row(Instance, record)

    async def live_continent(
        self, realm_id: int, map_id: int, zone_group: int = 0
    ) -> Instance | None:
        """The continent instance of a realm and map that is not gone, if any: the one
        its live partition names as a cell when there is one (a continent of one cell;
        ``PartitionRepo.live`` gives the cells of one cut in several), else the oldest."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT i.* FROM characters.instances i WHERE i.realm_id = $1 "
                "AND i.map_id = $2 AND i.zone_group = $3 AND i.kind = 'continent' "
                "AND i.state <> $4 "
                "ORDER BY EXISTS (SELECT 1 FROM characters.cells c "
                "                 WHERE c.instance_id = i.instance_id) DESC, i.instance_id "
                "LIMIT 1",
                realm_id,
                map_id,
                zone_group,
                InstanceState.GONE.value,
            )
        return None if record is None else row(Instance, record)

    async def get(self, instance_id: int) -> Instance:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM characters.instances WHERE instance_id = $1", instance_id
            )
        if record is None:
            raise NotFound("instance", instance_id)
        return row(Instance, record)

    async def move(
        self, current: Instance, event: InstanceEvent, node_id: str | None = None
    ) -> Instance:
        """Apply ``event`` to the instance (and move it to ``node_id``, when given).

        The lifecycle table is asked first, from the state the caller holds
        (``current``): ``IllegalTransition`` before anything is written. The
        schema's trigger checks the same move against the stored state, so two
        racing writers cannot slip an illegal move past a stale read either.
        """
        target = instance.next_state(current.state, event)
        async with self.db.connection() as conn:
            with translated(
                {"instances_node_id_fkey": partial(NotFound, "node", node_id)},
                illegal=partial(IllegalTransition, "instance", "(stored state)", target.value),
            ):
                record = await conn.fetchrow(
                    "UPDATE characters.instances SET state = $2, "
                    "node_id = COALESCE($3, node_id), updated_at = now() "
                    "WHERE instance_id = $1 RETURNING *",
                    current.instance_id,
                    target.value,
                    node_id,
                )
        if record is None:
            raise NotFound("instance", current.instance_id)
        return row(Instance, record)

    async def on_node(self, node_id: str) -> list[Instance]:
        """The instances a node should be running (loading, ready or draining there)."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM characters.instances WHERE node_id = $1 "
                "AND state = ANY($2) ORDER BY instance_id",
                node_id,
                [s.value for s in instance.HOSTED],
            )
        return [row(Instance, r) for r in records]

    async def live(self) -> list[Instance]:
        """Every instance that is not gone, oldest first."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM characters.instances WHERE state <> $1 ORDER BY instance_id",
                InstanceState.GONE.value,
            )
        return [row(Instance, r) for r in records]

    async def of_realm(self, realm_id: int) -> list[Instance]:
        """The realm's live instances (its continents' cells and its dungeons; not
        its pool's battlegrounds and arenas), oldest first."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM characters.instances WHERE realm_id = $1 AND state <> $2 "
                "ORDER BY instance_id",
                realm_id,
                InstanceState.GONE.value,
            )
        return [row(Instance, r) for r in records]

    async def mark_unhealthy_on(self, node_id: str) -> list[int]:
        """Every live instance of a node that died: UNHEALTHY (FAIL); their ids."""
        fail = instance.LIFECYCLE.compare_and_set(InstanceEvent.FAIL)
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "UPDATE characters.instances SET state = $2, updated_at = now() "
                "WHERE node_id = $1 AND state = ANY($3) RETURNING instance_id",
                node_id,
                fail.to,
                fail.froms,
            )
        return [r["instance_id"] for r in records]

    async def empty(self) -> list[Instance]:
        """READY dungeons, battlegrounds and arenas with nobody placed in them."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT i.* FROM characters.instances i WHERE i.kind <> 'continent' "
                "AND i.state = $1 AND NOT EXISTS (SELECT 1 FROM "
                "characters.player_assignments a WHERE a.instance_id = i.instance_id)",
                InstanceState.READY.value,
            )
        return [row(Instance, r) for r in records]


class AssignmentRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def gateways_of(self, character_ids: Sequence[int]) -> dict[int, str]:
        """The gateway of each of these characters that is in the world."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT character_id, gateway_id FROM characters.player_assignments "
                "WHERE character_id = ANY($1) AND state <> $2 AND gateway_id IS NOT NULL",
                list(character_ids),
                AssignmentState.OFFLINE.value,
            )
        return {r["character_id"]: r["gateway_id"] for r in records}

    async def instances_of(self, character_ids: Sequence[int]) -> dict[int, int]:
        """The instance of each of these characters that is in the world."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT character_id, instance_id FROM characters.player_assignments "
                "WHERE character_id = ANY($1) AND state <> $2 AND instance_id IS NOT NULL",
                list(character_ids),
                AssignmentState.OFFLINE.value,
            )
        return {r["character_id"]: r["instance_id"] for r in records}

    async def get(self, character_id: int) -> Assignment | None:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM characters.player_assignments WHERE character_id = $1",
                character_id,
            )
        return None if record is None else row(Assignment, record)

    async def place(
        self,
        character_id: int,
        instance_id: int,
        gateway_id: str,
        *,
        expected_epoch: int | None,
        event: AssignmentEvent = AssignmentEvent.PLACE,
        resume_hash: bytes | None = None,
    ) -> Assignment:
        """Put the character in ``instance_id``, in the state ``event`` leads to.

        ``expected_epoch`` is the epoch the caller read (None: the character
        was never placed). Raises ``AlreadyAssigned`` or ``StaleEpoch`` when
        someone else moved the character first, ``IllegalTransition`` when the
        lifecycle does not let ``event`` leave its state. ``resume_hash``
        replaces the hash of the resume token (None keeps it: a transfer).
        """
        if expected_epoch is None:
            async with self.db.connection() as conn:
                with translated(
                    {
                        "player_assignments_pkey": partial(AlreadyAssigned, character_id),
                        "player_assignments_character_id_fkey": partial(
                            NotFound, "character", character_id
                        ),
                        "player_assignments_instance_id_fkey": partial(
                            NotFound, "instance", instance_id
                        ),
                    }
                ):
                    record = await conn.fetchrow(
                        "INSERT INTO characters.player_assignments "
                        "(character_id, instance_id, gateway_id, epoch, state, resume_hash) "
                        "VALUES ($1, $2, $3, 1, $4, $5) RETURNING *",
                        character_id,
                        instance_id,
                        gateway_id,
                        assignment.target(event).value,  # a first row: Rule 2
                        resume_hash,
                    )
            return row(Assignment, record)
        return await self._advance(
            character_id, expected_epoch, instance_id, gateway_id, event, resume_hash
        )

    async def cross(
        self,
        character_id: int,
        instance_id: int,
        *,
        partition_id: int,
        expected_epoch: int,
        ownership: int,
    ) -> Assignment | None:
        """Move a player that crossed a border to ``instance_id``, a cell of
        ``partition_id``, under the next epoch (``MIGRATE``: its gateway and
        socket stay); None when refused.

        Placed when the assignment is in a cell of the same partition and holds
        ``expected_epoch`` (the hand-over's), or its last move was a crossing of a
        lower ownership version (the player crossed again before that one was
        placed). A login, a resume or a transfer since (``crossing`` 0, another
        epoch) refuses it: the cell no longer plays that character.
        """
        cas = assignment.LIFECYCLE.compare_and_set(AssignmentEvent.MIGRATE)
        async with self.db.connection() as conn:
            with translated():
                record = await conn.fetchrow(
                    "UPDATE characters.player_assignments a SET instance_id = $2, "
                    "state = $5, epoch = a.epoch + 1, crossing = $4, updated_at = now() "
                    "WHERE a.character_id = $1 AND a.state = ANY($6) "
                    "AND a.crossing < $4 AND (a.epoch = $3 OR a.crossing > 0) "
                    # From any continent instance of the partition's map: a cell, or one
                    # just merged away (it hands out all it holds).
                    "AND EXISTS (SELECT 1 FROM characters.instances i "
                    "            JOIN characters.partitions p ON p.realm_id = i.realm_id "
                    "            AND p.map_id = i.map_id AND p.partition_id = $7 "
                    "            WHERE i.instance_id = a.instance_id AND i.kind = $8) "
                    "AND EXISTS (SELECT 1 FROM characters.cells c "
                    "            WHERE c.partition_id = $7 AND c.instance_id = $2) "
                    "RETURNING *",
                    character_id,
                    instance_id,
                    expected_epoch,
                    ownership,
                    cas.to,
                    cas.froms,
                    partition_id,
                    MapKind.CONTINENT.value,
                )
        return None if record is None else row(Assignment, record)

    async def resumable(self, resume_hash: bytes) -> Assignment | None:
        """The character in the world whose resume token hashes to ``resume_hash``."""
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT * FROM characters.player_assignments "
                "WHERE resume_hash = $1 AND state <> $2",
                resume_hash,
                AssignmentState.OFFLINE.value,
            )
        return None if record is None else row(Assignment, record)

    async def orphans(self, grace: float) -> list[Assignment]:
        """Characters in the world whose gateway was lost ``grace`` seconds ago or more:
        its last heartbeat that long ago, and since judged silent (UNHEALTHY, by a
        leader that could have seen it beat) or stopped; or it restarted that long ago
        after they were placed through it. Only stored times: every leader, a new one
        too, finds the same deadline."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT a.* FROM characters.player_assignments a "
                "JOIN cluster.nodes g ON g.node_id = a.gateway_id AND g.role = 'gateway' "
                "WHERE a.state = $2 AND ("
                "  (g.state = ANY($3::text[]) "
                "      AND g.last_heartbeat_at < now() - make_interval(secs => $1)) "
                "  OR (g.started_at > a.updated_at "
                "      AND g.started_at < now() - make_interval(secs => $1)))",
                grace,
                AssignmentState.IN_WORLD.value,
                [NodeState.UNHEALTHY.value, NodeState.STOPPED.value],
            )
        return [row(Assignment, r) for r in records]

    async def seated_without(
        self, gateway_id: str, here: Sequence[int], older_than: float, *, since: datetime
    ) -> list[Assignment]:
        """Characters in the world under ``gateway_id`` other than ``here`` (those it
        serves, seats or lets go), their seats made at ``since`` or later and unchanged
        for ``older_than`` seconds."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                # The state as a literal: the partial index on seats in the world
                # serves any plan of this statement.
                "SELECT * FROM characters.player_assignments "
                "WHERE gateway_id = $1 AND state = 'in_world' "
                "AND NOT (character_id = ANY($2::bigint[])) "
                "AND updated_at < now() - make_interval(secs => $3) AND updated_at >= $4 "
                "ORDER BY character_id",
                gateway_id,
                list(here),
                older_than,
                since,
            )
        return [row(Assignment, r) for r in records]

    async def of_characters(self, character_ids: Sequence[int]) -> dict[int, Assignment]:
        """The assignments of these characters (those that have one)."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM characters.player_assignments WHERE character_id = ANY($1)",
                list(character_ids),
            )
        return {r["character_id"]: row(Assignment, r) for r in records}

    async def in_instance(self, instance_id: int) -> list[Assignment]:
        """The characters placed in an instance."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT * FROM characters.player_assignments WHERE instance_id = $1 "
                "ORDER BY character_id",
                instance_id,
            )
        return [row(Assignment, r) for r in records]

    async def in_world_of_realm(self, realm_id: int) -> list[Assignment]:
        """The realm's characters in the world, wherever they are (a battleground of
        the pool too), with the gateway that holds each."""
        async with self.db.connection() as conn:
            records = await conn.fetch(
                "SELECT a.* FROM characters.player_assignments a "
                "JOIN characters.characters c USING (character_id) "
                "WHERE c.realm_id = $1 AND a.instance_id IS NOT NULL "
                "AND a.gateway_id IS NOT NULL ORDER BY a.character_id",
                realm_id,
            )
        return [row(Assignment, r) for r in records]

    async def arrive(self, character_id: int, instance_id: int, epoch: int) -> Character:
        """The character is in ``instance_id`` under ``epoch``: ARRIVE (``in_world``
        now), and its stored state (one round trip); ``StaleEpoch`` if it was placed
        elsewhere or moved on meanwhile."""
        # Every state with an instance is a source of ARRIVE: a row not updated
        # was moved on (another epoch or instance), not refused by the table.
        arrive = assignment.LIFECYCLE.compare_and_set(AssignmentEvent.ARRIVE)
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "WITH arrived AS (UPDATE characters.player_assignments "
                "  SET state = $4, updated_at = now() "
                "  WHERE character_id = $1 AND instance_id = $2 AND epoch = $3 "
                "  AND state = ANY($5) RETURNING character_id) "
                "SELECT c.* FROM characters.characters c JOIN arrived USING (character_id)",
                character_id,
                instance_id,
                epoch,
                arrive.to,
                arrive.froms,
            )
        if record is None:
            raise StaleEpoch(character_id, epoch)
        return row(Character, record)

    async def move(self, character_id: int, epoch: int, event: AssignmentEvent) -> Assignment:
        """Apply ``event`` within ``epoch`` (same instance); ``StaleEpoch`` if it moved
        on, ``IllegalTransition`` if the lifecycle does not let ``event`` leave its state."""
        cas = assignment.LIFECYCLE.compare_and_set(event)
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "UPDATE characters.player_assignments SET state = $3, updated_at = now() "
                "WHERE character_id = $1 AND epoch = $2 AND state = ANY($4) RETURNING *",
                character_id,
                epoch,
                cas.to,
                cas.froms,
            )
        if record is None:
            raise await self._refused(character_id, epoch, event)
        return row(Assignment, record)

    async def release(self, character_id: int, *, expected_epoch: int) -> Assignment:
        """The character left the world (RELEASE): ``offline``, no instance, next epoch."""
        return await self._advance(
            character_id, expected_epoch, None, None, AssignmentEvent.RELEASE
        )

    async def _advance(
        self,
        character_id: int,
        expected_epoch: int,
        instance_id: int | None,
        gateway_id: str | None,
        event: AssignmentEvent,
        resume_hash: bytes | None = None,
    ) -> Assignment:
        # The epoch fences the row; the table says which states ``event`` may
        # leave (the caller need not have read the state that epoch holds).
        cas = assignment.LIFECYCLE.compare_and_set(event)
        stale = partial(StaleEpoch, character_id, expected_epoch)
        async with self.db.connection() as conn:
            with translated(
                {"player_assignments_instance_id_fkey": partial(NotFound, "instance", instance_id)},
                stale=stale,
            ):
                record = await conn.fetchrow(
                    "UPDATE characters.player_assignments SET instance_id = $3, "
                    "gateway_id = $4, state = $5, epoch = epoch + 1, updated_at = now(), "
                    "crossing = 0, "
                    "resume_hash = CASE WHEN $7 THEN NULL ELSE COALESCE($6, resume_hash) END "
                    "WHERE character_id = $1 AND epoch = $2 AND state = ANY($8) RETURNING *",
                    character_id,
                    expected_epoch,
                    instance_id,
                    gateway_id,
                    cas.to,
                    resume_hash,
                    cas.to == AssignmentState.OFFLINE,  # nothing to resume any more
                    cas.froms,
                )
        if record is None:
            raise await self._refused(character_id, expected_epoch, event)
        return row(Assignment, record)

    async def _refused(
        self, character_id: int, epoch: int, event: AssignmentEvent
    ) -> StaleEpoch | IllegalTransition:
        """Why an update of the assignment under ``epoch`` matched no row."""
        current = await self.get(character_id)
        if current is None or current.epoch != epoch:
            return StaleEpoch(character_id, epoch)
        try:
            assignment.next_state(current.state, event)
        except IllegalTransition as refused:
            return refused
        return StaleEpoch(character_id, epoch)  # its state changed meanwhile, within the epoch
