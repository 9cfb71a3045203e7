"""The restore check on a PostgreSQL of its own: the backup node restores its latest
backup into a scratch folder, starts it and reads it with the integrity check,
records the outcome in its metrics and in ops.backup_checks (`realmkit status`
shows it); a backup with a data file gone is reported failed; no scratch server
or folder outlives a check, even one stopped by its deadline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from realmkit.backup.check import SCRATCH, check_latest
from realmkit.cli.main import app
from realmkit.engines.embedded import Endpoints
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.nodes.backup.node import BackupNode
from realmkit.seed import seed_if_empty
from realmkit.settings import BackupSettings, NodeSpec, Role
from realmkit.store.accounts import AccountRepo
from realmkit.store.backups import BackupSummaryRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database

WAIT = 120.0


async def _plant(db: Database, names: list[str]) -> None:
    """One account and character per name."""
    realm_id = int(await db.fetchval("SELECT min(realm_id) FROM auth.realmlist"))
    accounts, characters = AccountRepo(db), CharacterRepo(db)
    for name in names:
        account = await accounts.create(f"acct_{name.lower()}", "not-a-hash")
        await characters.create(
            account.account_id, realm_id, name, map_id=1, position=(100.0, 100.0, 10.0), hp=100
        )


def _scratch_servers(folder: Path) -> list[int]:
    """Pids of PostgreSQL processes running on a scratch copy in ``folder``."""
    scratch = str(folder / SCRATCH)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if any(scratch in part for part in proc.info["cmdline"] or []):
            found.append(proc.info["pid"])
    return found


def _assert_no_scratch(folder: Path) -> None:
    assert not (folder / SCRATCH).exists(), "the scratch folder is removed"
    assert not _scratch_servers(folder), "the scratch server is stopped"


def _sample(node: BackupNode, name: str) -> float:
    value = node.registry.get_sample_value(name)
    return 0.0 if value is None else value


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedPostgres, Database]]:
    """A migrated, seeded PostgreSQL of this test's own (its backups are damaged)."""
    pg = EmbeddedPostgres(tmp_path / "data" / "postgres")
    pg.start()
    try:
        db = await Database.connect(pg.url(), max_size=4)
        try:
            await migrate(db)
            await seed_if_empty(db)
            yield pg, db
        finally:
            await db.close()
    finally:
        pg.stop()


def _node(endpoints: Endpoints, url: str, folder: Path, check_every: float) -> BackupNode:
    spec = NodeSpec(name="backup-1", role=Role.BACKUP, host="127.0.0.1")
    settings = BackupSettings(check_every=check_every)
    return BackupNode(spec, Endpoints(endpoints.nats_url, url), settings, folder)


def _cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, nats_url: str) -> None:
    monkeypatch.setenv("REALMKIT_DATABASE_URL", url)
    monkeypatch.setenv("REALMKIT_NATS_URL", nats_url)
    monkeypatch.setenv("REALMKIT_CONFIG", str(tmp_path / "realmkit.toml"))
    (tmp_path / "realmkit.toml").write_text(
        f'[backup]\nfolder = "{tmp_path / "backups"}"\n\n'
        '[[nodes]]\nname = "backup-1"\nrole = "backup"\n'
    )


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_a_good_backup_passes_and_a_broken_one_is_reported_failed(
    tmp_path: Path,
    endpoints: Endpoints,
    live: tuple[EmbeddedPostgres, Database],
    eventually,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The node checks its first backup at once: passed, on a copy holding the three
    characters written before it, in metrics and ops.backup_checks. `realmkit backup
    check` reads the copy, not the live database (two characters more there). With a
    table's file deleted from the backup, the node's next check fails, saying which
    table; metrics, the stored summary, `realmkit status` and the command say so."""
    pg, db = live
    url = pg.url()
    folder = tmp_path / "backups"
    await _plant(db, ["Alden", "Brisa", "Corin"])
    node = _node(endpoints, url, folder, check_every=3600.0)
    await node.start()
    try:

        async def checked() -> bool:
            return _sample(node, "realmkit_backup_restore_check_timestamp_seconds") > 0

        await eventually(checked, WAIT, "the first restore check")
        assert _sample(node, "realmkit_backup_restore_check_success") == 1
        assert _sample(node, "realmkit_backup_restore_check_duration_seconds") > 0
        assert _sample(node, "realmkit_backup_restore_check_failures_total") == 0
        assert _sample(node, "realmkit_backup_restore_check_interval_seconds") == 3600
        [backup] = [b for b in await node.barman.list() if b.status == "DONE"]
    finally:
        await node.stop()
    _assert_no_scratch(folder)
    [summary] = await BackupSummaryRepo(db).summaries()
    assert summary.check_ok is True, summary
    assert summary.check_backup_id == backup.backup_id == summary.backup_id
    assert summary.backup_verified is True
    assert summary.check_characters == 3, "the copy held what was written before the backup"

    # Written after the backup, in WAL never archived: the live database has them,
    # a copy restored from the backup does not.
    await _plant(db, ["Dalia", "Eryn"])
    _cli(monkeypatch, tmp_path, url, endpoints.nats_url)
    runner = CliRunner()
    passed = await asyncio.to_thread(runner.invoke, app, ["backup", "check", "--json"])
    assert passed.exit_code == 0, passed.output
    result = json.loads(passed.output)
    assert result["ok"] is True
    assert result["backup_id"] == backup.backup_id
    assert result["characters"] == 3
    assert await db.fetchval("SELECT count(*) FROM characters.characters") == 5
    _assert_no_scratch(folder)
    [summary] = await BackupSummaryRepo(db).summaries()
    assert summary.check_seconds == pytest.approx(result["seconds"]), (
        "the command's check is what realmkit status shows now",
        summary,
    )

    # Break the backup: the characters table's file is gone from Barman's copy.
    relation = await db.fetchval("SELECT pg_relation_filepath('characters.characters')")
    stored = folder / "barman" / "realmkit" / "base" / backup.backup_id / "data" / relation
    assert stored.is_file(), stored
    stored.unlink()
    node = _node(endpoints, url, folder, check_every=1.0)
    await node.start()
    try:

        async def failed() -> bool:
            return _sample(node, "realmkit_backup_restore_check_failures_total") >= 1

        await eventually(failed, WAIT, "a failed restore check")
        assert _sample(node, "realmkit_backup_restore_check_success") == 0

        async def recorded() -> bool:
            [row] = await BackupSummaryRepo(db).summaries()
            return row.check_ok is False

        await eventually(recorded, WAIT, "the failed check in ops.backup_checks")
    finally:
        await node.stop()
    _assert_no_scratch(folder)
    [summary] = await BackupSummaryRepo(db).summaries()
    assert "characters.characters" in summary.check_reason, summary.check_reason
    assert summary.check_backup_id == backup.backup_id

    status = await asyncio.to_thread(runner.invoke, app, ["status", "--json"])
    assert status.exit_code == 0, status.output
    [shown] = json.loads(status.output)["backups"]
    assert shown["check_ok"] is False
    assert shown["backup_id"] == backup.backup_id
    table = await asyncio.to_thread(runner.invoke, app, ["status"])
    assert "FAILED" in table.output, table.output

    refused = await asyncio.to_thread(runner.invoke, app, ["backup", "check", "--json"])
    assert refused.exit_code == 1, refused.output
    assert json.loads(refused.output)["ok"] is False
    _assert_no_scratch(folder)


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_a_check_past_its_deadline_is_failed_and_leaves_nothing(
    tmp_path: Path,
    endpoints: Endpoints,
    live: tuple[EmbeddedPostgres, Database],
    eventually,  # type: ignore[no-untyped-def]
) -> None:
    """A check stopped by its deadline, wherever it was (copying, starting, replaying,
    reading), is failed with the reason, and its scratch server and folder are gone."""
    pg, _ = live
    folder = tmp_path / "backups"
    node = _node(endpoints, pg.url(), folder, check_every=0.0)
    await node.start()
    try:

        async def backed_up() -> bool:
            return _sample(node, "realmkit_backup_last_success_timestamp_seconds") > 0

        await eventually(backed_up, WAIT, "a base backup")
        assert node._checks is None, "check_every = 0: no restore checks"
    finally:
        await node.stop()
    full = await check_latest(node.barman, timeout=300.0)
    assert full.ok, full.reason
    # Of a whole check: a different stage each time, with room for one check to run
    # a good deal faster than the first (caches warm, a quieter machine).
    for fraction in (0.15, 0.35, 0.55):
        result = await check_latest(node.barman, timeout=full.seconds * fraction)
        assert not result.ok
        assert "not finished within" in result.reason, result.reason
        _assert_no_scratch(folder)
