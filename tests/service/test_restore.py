"""The restore drill on a PostgreSQL of its own: characters and items are written, a
base backup is taken, more are written, the moment T is noted, more still; the
server is killed and its data folder removed; `realmkit backup restore --to T`
brings back exactly what was there at T, and `realmkit db check` finds it whole."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import signal
import time
from pathlib import Path

import asyncpg
import pytest
from typer.testing import CliRunner

from realmkit.cli.main import app
from realmkit.engines.embedded import Endpoints
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.nodes.backup.node import BackupNode
from realmkit.seed import seed_if_empty
from realmkit.settings import BackupSettings, NodeSpec, Role
from realmkit.store.accounts import AccountRepo
from realmkit.store.characters import CharacterRepo, ItemRepo
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database

WAIT = 120.0


async def _play(db: Database, realm_id: int, names: list[str]) -> dict[int, set[int]]:
    """One account and character per name, with three items each: character -> items."""
    accounts, characters, items = AccountRepo(db), CharacterRepo(db), ItemRepo(db)
    ids = iter(await items.reserve_ids())
    owned: dict[int, set[int]] = {}
    for name in names:
        account = await accounts.create(f"acct_{name.lower()}", "not-a-hash")
        character = await characters.create(
            account.account_id, realm_id, name, map_id=1, position=(100.0, 100.0, 10.0), hp=100
        )
        owned[character.character_id] = set()
        for _ in range(3):
            item = await items.grant(next(ids), 1, character.character_id)
            owned[character.character_id].add(item.item_id)
    return owned


async def _held(url: str) -> dict[int, set[int]]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT c.character_id, i.item_id FROM characters.characters c "
            "LEFT JOIN characters.items i ON i.owner_character_id = c.character_id"
        )
    finally:
        await conn.close()
    held: dict[int, set[int]] = {}
    for row in rows:
        held.setdefault(row["character_id"], set())
        if row["item_id"] is not None:
            held[row["character_id"]].add(row["item_id"])
    return held


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_a_restore_to_a_moment_brings_back_exactly_what_was_there(
    engine_folder: Path, endpoints: Endpoints, eventually, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Restore to T after the database is destroyed: every character and item written
    before T is there as it was, none written after, and the integrity check is clean."""
    # Not under pytest's temp folder: another pytest session makes that owner-only,
    # and under root this PostgreSQL runs as another user.
    tmp_path = engine_folder
    data = tmp_path / "data"
    pg = EmbeddedPostgres(data / "postgres")
    pg.start()
    folder = tmp_path / "backups"
    spec = NodeSpec(name="backup-1", role=Role.BACKUP, host="127.0.0.1")
    try:
        url = pg.url()
        db = await Database.connect(url, max_size=4)
        try:
            await migrate(db)
            await seed_if_empty(db)
            realm_id = int(await db.fetchval("SELECT min(realm_id) FROM auth.realmlist"))
            before_backup = await _play(db, realm_id, ["Alden", "Brisa"])
            node = BackupNode(spec, Endpoints(endpoints.nats_url, url), BackupSettings(), folder)
            await node.start()
            try:

                async def backed_up() -> bool:
                    value = node.registry.get_sample_value(
                        "realmkit_backup_last_success_timestamp_seconds"
                    )
                    return bool(value)

                await eventually(backed_up, WAIT, "the first base backup")
                after_backup = await _play(db, realm_id, ["Corin", "Dalia"])
                # T by the server's clock: after every commit above, before those below.
                moment = await db.fetchval("SELECT clock_timestamp()")
                await _play(db, realm_id, ["Eryn", "Fael"])  # after T: must not come back
                # Everything written is streamed before the server dies (the streamer
                # reports its flush at a segment's end: end this one).
                lsn = await db.fetchval("SELECT pg_switch_wal()::text")

                async def streamed() -> bool:
                    flushed = await db.fetchval(
                        "SELECT flush_lsn >= $1::text::pg_lsn FROM pg_stat_replication", lsn
                    )
                    return bool(flushed)

                await eventually(streamed, WAIT, "the WAL streamed past the last write")
            finally:
                await node.stop()
        finally:
            await db.close()
        pid = pg.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pg.pid() is not None:
            assert time.monotonic() < deadline, "PostgreSQL outlived SIGKILL"
            await asyncio.sleep(0.1)  # the postmaster's children finish dying
        for child in sorted(pg.pgdata.rglob("*"), reverse=True):
            child.unlink() if child.is_file() or child.is_symlink() else child.rmdir()
        pg.pgdata.rmdir()

        monkeypatch.setenv("REALMKIT_DATA_DIR", str(data))
        monkeypatch.delenv("REALMKIT_DATABASE_URL", raising=False)
        monkeypatch.setenv("REALMKIT_NATS_URL", endpoints.nats_url)
        monkeypatch.setenv("REALMKIT_CONFIG", str(tmp_path / "realmkit.toml"))
        (tmp_path / "realmkit.toml").write_text(f'[backup]\nfolder = "{folder}"\n')
        # With the database lost, the operator still sees which backups there are.
        listed = await asyncio.to_thread(CliRunner().invoke, app, ["backup", "list", "--json"])
        assert listed.exit_code == 0, listed.output
        assert [b["status"] for b in json.loads(listed.output)][:1] == ["DONE"]
        restored = await asyncio.to_thread(
            CliRunner().invoke,
            app,
            ["backup", "restore", "--to", moment.isoformat(), "--json"],
        )
        assert restored.exit_code == 0, restored.output
        assert json.loads(restored.output)["target"] == moment.isoformat()
        assert pg.pid() is None, "the restore leaves PostgreSQL as it found it: stopped"
        pg.start()
        assert await _held(pg.url()) == {**before_backup, **after_backup}
        monkeypatch.setenv("REALMKIT_DATABASE_URL", pg.url())
        checked = await asyncio.to_thread(CliRunner().invoke, app, ["db", "check", "--json"])
        assert checked.exit_code == 0, checked.output
        # A restore that fails (a moment past every write the backups hold) leaves the
        # data folder as it found it, and says where its failed copy is.
        pg.stop()
        monkeypatch.delenv("REALMKIT_DATABASE_URL")
        later = moment + datetime.timedelta(days=1)
        failed = await asyncio.to_thread(
            CliRunner().invoke, app, ["backup", "restore", "--to", later.isoformat(), "--json"]
        )
        assert failed.exit_code == 1, (failed.output, failed.exception)
        assert failed.output, f"said nothing: {failed.exception!r}"
        message = json.loads(failed.output)["error"]["message"]
        assert "back as it was" in message, message
        assert list(data.glob("postgres/data.failed-restore-*")), "the failed copy is kept"
        pg.start()
        assert await _held(pg.url()) == {**before_backup, **after_backup}
    finally:
        pg.stop()
