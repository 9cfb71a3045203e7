"""The backup node against a real PostgreSQL: Barman streams the WAL and takes a
verified base backup; ``realmkit backup`` lists and verifies it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from realmkit.backup.barman import SLOT
from realmkit.cli.main import app
from realmkit.engines.embedded import Endpoints
from realmkit.nodes.backup.node import BackupNode
from realmkit.settings import BackupSettings, NodeSpec, Role

WAIT = 90.0


@contextlib.asynccontextmanager
async def backup_node(
    folder: Path, endpoints: Endpoints, database_url: str
) -> AsyncIterator[BackupNode]:
    spec = NodeSpec(name="backup-1", role=Role.BACKUP, host="127.0.0.1")
    node = BackupNode(spec, Endpoints(endpoints.nats_url, database_url), BackupSettings(), folder)
    await node.start()
    try:
        yield node
    finally:
        await node.stop()
        # The slot is the server's, shared by the session's tests: it would hold WAL.
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name = $1 AND NOT active",
                SLOT,
            )
        finally:
            await conn.close()


def _sample(node: BackupNode, name: str) -> float:
    value = node.registry.get_sample_value(name)
    return 0.0 if value is None else value


@pytest.mark.slow
async def test_the_backup_node_takes_a_verified_base_backup_and_streams_wal(
    tmp_path: Path, endpoints: Endpoints, database_url: str, eventually, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """A new backup node takes a base backup at once (none is there), verifies it,
    says so in its metrics, streams the WAL through its slot; `realmkit backup list`
    shows the backup DONE and `realmkit backup verify` passes on it."""
    folder = tmp_path / "backups"
    async with backup_node(folder, endpoints, database_url) as node:

        async def backed_up() -> bool:
            return (
                _sample(node, "realmkit_backup_last_success_timestamp_seconds") > 0
                and _sample(node, "realmkit_backup_size_bytes") > 0
            )

        await eventually(backed_up, WAIT, "a verified base backup")
        assert _sample(node, "realmkit_backup_failures_total") == 0

        async def streaming() -> bool:
            conn = await asyncpg.connect(database_url)
            try:
                return bool(
                    await conn.fetchval(
                        "SELECT active FROM pg_replication_slots WHERE slot_name = $1", SLOT
                    )
                )
            finally:
                await conn.close()

        await eventually(streaming, WAIT, "the WAL streamed through the slot")

        async def metered() -> bool:
            return _sample(node, "realmkit_backup_wal_streaming") == 1

        await eventually(metered, WAIT, "the node's metrics say the WAL streams")
        assert _sample(node, "realmkit_backup_wal_lag_bytes") >= 0
        assert not (folder / "barman.conf").stat().st_mode & 0o077, "the configuration is private"
        assert "password" not in (folder / "barman.conf").read_text().lower()

        monkeypatch.setenv("REALMKIT_DATABASE_URL", database_url)
        monkeypatch.setenv("REALMKIT_NATS_URL", endpoints.nats_url)
        monkeypatch.setenv("REALMKIT_CONFIG", str(tmp_path / "realmkit.toml"))
        (tmp_path / "realmkit.toml").write_text(f'[backup]\nfolder = "{folder}"\n')
        runner = CliRunner()
        listed = await asyncio.to_thread(runner.invoke, app, ["backup", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        [backup] = json.loads(listed.output)
        assert backup["status"] == "DONE"
        assert backup["size_bytes"] > 0
        verified = await asyncio.to_thread(
            runner.invoke, app, ["backup", "verify", backup["backup_id"]]
        )
        assert verified.exit_code == 0, verified.output
        missing = await asyncio.to_thread(
            runner.invoke, app, ["backup", "verify", "20000101T000000"]
        )
        assert missing.exit_code != 0

        # A backup the node did not take (`realmkit backup create`) is verified by the
        # node too, and shown so: it was stored as "not verified".
        created = await asyncio.to_thread(runner.invoke, app, ["backup", "create", "--json"])
        assert created.exit_code == 0, created.output
        taken = json.loads(created.output)["backup_id"]

        async def verified_by_node() -> bool:
            conn = await asyncpg.connect(database_url)
            try:
                row = await conn.fetchrow(
                    "SELECT backup_id, backup_verified FROM ops.backup_checks WHERE node_id = $1",
                    "backup-1",
                )
            finally:
                await conn.close()
            return row is not None and row["backup_id"] == taken and row["backup_verified"] is True

        await eventually(verified_by_node, WAIT, "the command's backup verified by the node")
