"""What keeps spaces alive across nodes: checkpoints and dungeon bindings.

A checkpoint is a space's latest snapshot. Only the node that runs the
instance, while the instance is live there, may replace it (the write is
fenced by the instance row), so a node that was declared dead and carries
on cannot overwrite the checkpoint its successor restored from.

A binding ties a character to a dungeon instance until the dungeon's reset:
going through the portal again leads back to the same instance.
"""

from __future__ import annotations

import msgspec

from realmkit.lifecycle.instance import InstanceState
from realmkit.store.postgres import Database


class Checkpoint(msgspec.Struct, frozen=True):
    instance_id: int
    node_id: str
    tick: int
    snapshot: bytes


class CheckpointRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def write(self, instance_id: int, node_id: str, tick: int, snapshot: bytes) -> bool:
        """Store the checkpoint; False when ``node_id`` no longer runs the instance."""
        async with self.db.connection() as conn:
            done = await conn.fetchval(
                "INSERT INTO characters.space_checkpoints AS c "
                "(instance_id, node_id, tick, snapshot) "
                "SELECT i.instance_id, $2, $3, $4 FROM characters.instances i "
                "WHERE i.instance_id = $1 AND i.node_id = $2 AND i.state = ANY($5) "
                "ON CONFLICT (instance_id) DO UPDATE SET node_id = EXCLUDED.node_id, "
                "tick = EXCLUDED.tick, snapshot = EXCLUDED.snapshot, taken_at = now() "
                "RETURNING true",
                instance_id,
                node_id,
                tick,
                snapshot,
                [InstanceState.READY.value, InstanceState.DRAINING.value],  # live there
            )
        return bool(done)

    async def drop(self, instance_id: int) -> None:
        """Forget the instance's checkpoint: it starts again from its content (a realm
        restart), also if its node dies before it writes a new one."""
        async with self.db.connection() as conn:
            await conn.execute(
                "DELETE FROM characters.space_checkpoints WHERE instance_id = $1", instance_id
            )

    async def latest(self, instance_id: int) -> Checkpoint | None:
        async with self.db.connection() as conn:
            record = await conn.fetchrow(
                "SELECT instance_id, node_id, tick, snapshot FROM characters.space_checkpoints "
                "WHERE instance_id = $1",
                instance_id,
            )
        if record is None:
            return None
        return Checkpoint(
            record["instance_id"], record["node_id"], record["tick"], bytes(record["snapshot"])
        )


# A bound dungeon instance the character may return to: one that runs or will
# (again), not one on its way out.
_BINDABLE = (
    InstanceState.REQUESTED,
    InstanceState.LOADING,
    InstanceState.READY,
    InstanceState.UNHEALTHY,
)


class BindingRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def bound(self, character_id: int, map_id: int) -> int | None:
        """The live, unexpired instance of ``map_id`` the character is bound to."""
        async with self.db.connection() as conn:
            return await conn.fetchval(  # type: ignore[no-any-return]
                "SELECT b.instance_id FROM characters.instance_bindings b "
                "JOIN characters.instances i USING (instance_id) "
                "WHERE b.character_id = $1 AND b.map_id = $2 AND b.expires_at > now() "
                "AND i.state = ANY($3)",
                character_id,
                map_id,
                [s.value for s in _BINDABLE],
            )

    async def bind(self, character_id: int, map_id: int, instance_id: int, seconds: float) -> None:
        async with self.db.connection() as conn:
            await conn.execute(
                "INSERT INTO characters.instance_bindings "
                "(character_id, map_id, instance_id, expires_at) "
                "VALUES ($1, $2, $3, now() + make_interval(secs => $4)) "
                "ON CONFLICT (character_id, map_id) DO UPDATE "
                "SET instance_id = EXCLUDED.instance_id, expires_at = EXCLUDED.expires_at",
                character_id,
                map_id,
                instance_id,
                seconds,
            )
