"""Schema migrations: idempotent, safe under concurrency, and matching the code's Enums."""

from __future__ import annotations

import json
import re
from types import ModuleType

import asyncpg
import pytest

from realmkit.engines.embedded import Endpoints
from realmkit.errors import MigrationError
from realmkit.lifecycle import assignment, instance, node, restart, trade
from realmkit.lifecycle.ticket import TicketState
from realmkit.store import records
from realmkit.store.migrate import available, migrate, status
from realmkit.store.postgres import Database


async def test_migrate_twice_is_a_no_op(empty_database_url: str) -> None:
    """The first run applies every migration, the second applies none."""
    db = await Database.connect(empty_database_url)
    try:
        assert await migrate(db) == [m.version for m in available()]
        assert await migrate(db) == []
        assert all(row.applied_at is not None for row in await status(db))
    finally:
        await db.close()


async def test_four_processes_migrate_at_once(
    empty_database_url: str, endpoints: Endpoints, run_realmkit
) -> None:
    """Four `realmkit db migrate` started together: all succeed, each version applied once."""
    env = {"REALMKIT_DATABASE_URL": empty_database_url, "REALMKIT_NATS_URL": endpoints.nats_url}
    procs = [run_realmkit("db", "migrate", "--json", env=env) for _ in range(4)]
    applied = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        applied += json.loads(stdout)["applied"]
    assert sorted(applied) == [m.version for m in available()]
    conn = await asyncpg.connect(empty_database_url)
    try:
        rows = await conn.fetch("SELECT version FROM public.schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert [r["version"] for r in rows] == [m.version for m in available()]


async def test_migrate_with_seed_adds_the_default_realms_once(
    empty_database_url: str, endpoints: Endpoints, run_realmkit
) -> None:
    """`realmkit db migrate --seed` (a deployment's setup job) seeds an empty database
    once: two classic realms sharing a pool, one frontier realm in its own; run again it
    changes nothing."""
    env = {"REALMKIT_DATABASE_URL": empty_database_url, "REALMKIT_NATS_URL": endpoints.nats_url}
    seeded = []
    for _ in range(2):
        proc = run_realmkit("db", "migrate", "--seed", "--json", env=env)
        stdout, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        seeded.append(json.loads(stdout)["seeded"])
    assert seeded == [True, False]
    conn = await asyncpg.connect(empty_database_url)
    try:
        realms = await conn.fetch(
            "SELECT r.name, r.game_id, p.name AS pool, r.status FROM auth.realmlist r "
            "JOIN cluster.realm_pools p USING (pool_id) ORDER BY r.realm_id"
        )
    finally:
        await conn.close()
    assert [tuple(r) for r in realms] == [
        ("Azure", "classic", "classic", "online"),
        ("Crimson", "classic", "classic", "online"),
        ("Dustfall", "frontier", "frontier", "online"),
    ]


async def test_edited_applied_migration_is_refused(database_url: str) -> None:
    """A migration whose file no longer matches what was applied stops the run."""
    conn = await asyncpg.connect(database_url)
    await conn.execute("UPDATE public.schema_migrations SET checksum = 'edited' WHERE version = 1")
    await conn.close()
    db = await Database.connect(database_url)
    try:
        with pytest.raises(MigrationError) as caught:
            await migrate(db)
        assert caught.value.version == 1
    finally:
        await db.close()


@pytest.mark.parametrize(
    ("table", "column", "enum"),
    [
        ("auth.realmlist", "status", records.RealmStatus),
        ("characters.instances", "kind", records.MapKind),
        ("characters.instances", "state", instance.InstanceState),
        ("characters.player_assignments", "state", assignment.AssignmentState),
        ("cluster.nodes", "state", node.NodeState),
        ("matchmaking.tickets", "state", TicketState),
        ("cluster.realm_restarts", "state", restart.RestartState),
        ("social.trades", "state", trade.TradeState),
    ],
)
async def test_state_enums_match_schema_checks(
    database_url: str, table: str, column: str, enum: type
) -> None:
    """Every Enum of states allows exactly the values the schema's CHECK allows."""
    conn = await asyncpg.connect(database_url)
    try:
        checks = await conn.fetch(
            "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint "
            "WHERE conrelid = $1::regclass AND contype = 'c'",
            table,
        )
    finally:
        await conn.close()
    pattern = re.compile(rf"\(?{column}\b.*= ANY \(ARRAY\[(.*?)\]\)")
    allowed = None
    for check in checks:
        match = pattern.search(check["def"])
        if match and match.group(0).lstrip("(").startswith(column):
            allowed = set(re.findall(r"'([a-z_]+)'", match.group(1)))
    assert allowed == {member.value for member in enum}


@pytest.mark.parametrize(
    ("table", "lifecycle"),
    [
        ("characters.instance_moves", instance),
        ("characters.assignment_moves", assignment),
        ("cluster.node_moves", node),
        ("cluster.realm_restart_moves", restart),
        ("social.trade_moves", trade),
    ],
)
async def test_sql_moves_tables_are_the_lifecycle_tables(
    database_url: str, table: str, lifecycle: ModuleType
) -> None:
    """Each SQL moves table holds exactly the (from, to) pairs of its Python table."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(f"SELECT from_state, to_state FROM {table}")  # noqa: S608
    finally:
        await conn.close()
    in_sql = {(r["from_state"], r["to_state"]) for r in rows}
    assert in_sql == {(a.value, b.value) for a, b in lifecycle.MOVES}
