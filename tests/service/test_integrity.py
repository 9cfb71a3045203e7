"""`realmkit db check`: each kind of planted damage is found, repaired with a log row,
and a second check is clean."""

from __future__ import annotations

import asyncio
import json
import struct
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from test_matchmaking_store import _players

from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.procs import stop_process
from realmkit.seed import seed_if_empty
from realmkit.store import integrity
from realmkit.store.characters import ItemRepo
from realmkit.store.mail import MAILBOX_SIZE, MailRepo
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database

ORPHAN_ITEM = 5_000_000  # also beyond the item id blocks handed out so far
# Debian's postgresql-15 (scripts/system-packages installs it): it ships the amcheck
# extension, which the embedded PostgreSQL of the pgserver wheel lacks.
PG15_BIN = Path("/usr/lib/postgresql/15/bin")
NO_AMCHECK = "read-only: the amcheck extension is not installed on this server"


async def _plant(url: str) -> dict[str, Any]:
    """Damage the foreign keys and triggers would refuse, planted with them off."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET session_replication_role = replica")
        realm = await conn.fetchrow(
            "SELECT realm_id, pool_id, game_id FROM auth.realmlist ORDER BY realm_id LIMIT 1"
        )
        account = await conn.fetchval(
            "INSERT INTO auth.accounts (username, password_hash) VALUES ('victim', 'x') "
            "RETURNING account_id"
        )
        character = await conn.fetchval(
            "INSERT INTO characters.characters (account_id, realm_id, name, hp, map_id, "
            "pos_x, pos_y, pos_z) VALUES ($1, $2, 'Victim', 10, 0, 0, 0, 0) "
            "RETURNING character_id",
            account,
            realm["realm_id"],
        )
        gone = await conn.fetchval(
            "INSERT INTO characters.instances (game_id, map_id, kind, pool_id, realm_id, "
            "capacity, state) VALUES ($1, 33, 'dungeon', $2, $3, 5, 'gone') "
            "RETURNING instance_id",
            realm["game_id"],
            realm["pool_id"],
            realm["realm_id"],
        )
        await conn.execute(
            "INSERT INTO characters.player_assignments (character_id, instance_id, epoch, state) "
            "VALUES ($1, $2, 3, 'in_world')",
            character,
            gone,
        )
        await conn.execute(
            "INSERT INTO characters.items (item_id, template_id, owner_character_id) "
            "VALUES ($1, 1, 999999)",
            ORPHAN_ITEM,
        )
        await conn.execute("ALTER TABLE characters.items DROP CONSTRAINT items_stack_count_check")
        await conn.execute(
            "INSERT INTO characters.items (item_id, template_id, owner_character_id, stack_count) "
            "VALUES (7, 1, $1, -3)",
            character,
        )
        cancelled = await conn.fetchval(
            "INSERT INTO matchmaking.matches (pool_id, activity_id, state, teams, "
            "accept_deadline) VALUES ($1, 'arena', 'cancelled', '[]', now()) RETURNING match_id",
            realm["pool_id"],
        )
        ticket = await conn.fetchval(
            "INSERT INTO matchmaking.tickets (pool_id, activity_id, character_id, members, "
            "state, match_id) VALUES ($1, 'arena', $2, ARRAY[$2::bigint], 'proposed', $3) "
            "RETURNING ticket_id",
            realm["pool_id"],
            character,
            cancelled,
        )
        running = await conn.fetchval(
            "INSERT INTO matchmaking.matches (pool_id, activity_id, state, teams, "
            "accept_deadline, instance_id) VALUES ($1, 'arena', 'running', '[]', now(), $2) "
            "RETURNING match_id",
            realm["pool_id"],
            gone,
        )
        fenced = await conn.fetchval(
            "INSERT INTO characters.characters (account_id, realm_id, name, hp, map_id, "
            "pos_x, pos_y, pos_z, save_epoch) VALUES ($1, $2, 'Fenced', 10, 0, 0, 0, 0, 5) "
            "RETURNING character_id",
            account,
            realm["realm_id"],
        )
        await conn.execute(
            "INSERT INTO characters.player_assignments (character_id, epoch, state) "
            "VALUES ($1, 2, 'offline')",
            fenced,
        )
        return {"character": character, "ticket": ticket, "match": running, "fenced": fenced}
    finally:
        await conn.close()


async def test_check_finds_and_repairs_each_kind_of_damage(database_url: str, db: Database) -> None:
    """Each planted invariant break is found; --repair corrects or quarantines it with an
    ops.repairs row (before and after), and a second check finds nothing."""
    await seed_if_empty(db)
    assert await integrity.find(db) == []
    planted = await _plant(database_url)

    found = await integrity.find(db)
    by_check = {(f.check, f.key) for f in found}
    assert by_check == {
        ("item_owner_missing", str(ORPHAN_ITEM)),
        ("item_stack_not_positive", "7"),
        ("assignment_in_gone_instance", str(planted["character"])),
        ("assignment_epoch_behind_save", str(planted["fenced"])),
        ("ticket_match_state", str(planted["ticket"])),
        ("match_running_in_gone_instance", str(planted["match"])),
        ("sequence_behind", "characters.item_id_blocks"),
    }

    repairs = await integrity.repair(db, found)
    assert {r.action for r in repairs} == {"corrected", "quarantined"}
    async with db.connection() as conn:
        logged = await conn.fetch("SELECT check_name, before, after FROM ops.repairs")
        assert sorted(r["check_name"] for r in logged) == sorted(f.check for f in found)
        assert all(r["before"] is not None and r["after"] is not None for r in logged)
        mailbox = await conn.fetchrow("SELECT former_owner_id, item FROM ops.recovery_mailbox")
        assert mailbox["former_owner_id"] == 999999
        assert json.loads(mailbox["item"])["item_id"] == ORPHAN_ITEM
        quarantined = await conn.fetch(
            "SELECT source_table FROM ops.quarantine ORDER BY source_table"
        )
        assert [r[0] for r in quarantined] == ["characters.items", "matchmaking.tickets"]
        seat = await conn.fetchrow(
            "SELECT state, instance_id, epoch FROM characters.player_assignments "
            "WHERE character_id = $1",
            planted["character"],
        )
        assert (seat["state"], seat["instance_id"], seat["epoch"]) == ("offline", None, 4)
        match = await conn.fetchval(
            "SELECT state FROM matchmaking.matches WHERE match_id = $1", planted["match"]
        )
        assert match == "done"
        epoch = await conn.fetchval(
            "SELECT epoch FROM characters.player_assignments WHERE character_id = $1",
            planted["fenced"],
        )
        assert epoch == 5
    assert await integrity.find(db) == []


async def test_a_fault_put_right_before_its_repair_is_left_alone(
    database_url: str, db: Database
) -> None:
    """On a live cluster a row found at fault may be put right before --repair reaches
    it (a player placed again, a save fenced anew): the repair re-checks the fault in
    its own statement, changes nothing and logs nothing for it."""
    await seed_if_empty(db)
    planted = await _plant(database_url)
    found = [
        f
        for f in await integrity.find(db)
        if f.check in ("assignment_in_gone_instance", "assignment_epoch_behind_save")
    ]
    assert len(found) == 2
    async with db.connection() as conn:
        # Logged out meanwhile (no instance), and placed again past its saves.
        await conn.execute(
            "UPDATE characters.player_assignments SET state = 'offline', instance_id = NULL, "
            "epoch = epoch + 1 WHERE character_id = $1",
            planted["character"],
        )
        await conn.execute(
            "UPDATE characters.player_assignments SET epoch = 50 WHERE character_id = $1",
            planted["fenced"],
        )
        before = await conn.fetch(
            "SELECT * FROM characters.player_assignments ORDER BY character_id"
        )
    repairs = await integrity.repair(db, found)
    assert {r.action for r in repairs} == {"no longer needed"}
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM ops.repairs") == 0
        after = await conn.fetch(
            "SELECT * FROM characters.player_assignments ORDER BY character_id"
        )
    assert [dict(r) for r in after] == [dict(r) for r in before]


def test_cli_check_exit_codes(database_url: str, run_realmkit) -> None:  # type: ignore[no-untyped-def]
    """`realmkit db check --json` exits 1 on damage, `--repair` fixes it (exit 0) and the
    next check exits 0, with its progress on stderr."""
    env = {"REALMKIT_DATABASE_URL": database_url}
    proc = run_realmkit("db", "migrate", "--seed", "--json", env=env)
    assert proc.wait(timeout=60) == 0
    asyncio.run(_plant(database_url))

    proc = run_realmkit("db", "check", "--json", env=env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    report = json.loads(stdout)
    assert not report["ok"]
    assert len(report["findings"]) == 7
    assert report["physical"] == NO_AMCHECK
    assert "checking" in stderr
    proc = run_realmkit("db", "check", env=env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    assert "item_owner_missing" in stdout
    assert stdout.count("PostgreSQL's own check skipped") == 1
    assert "amcheck extension is not installed" in stdout

    proc = run_realmkit("db", "check", "--repair", "--json", env=env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert len(json.loads(stdout)["repairs"]) == 7

    proc = run_realmkit("db", "check", env=env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "no damage found" in stdout


async def test_an_unreadable_table_calls_for_a_restore(database_url: str, db: Database) -> None:
    """A table whose data file is lost is found by the full read and, with --repair, is
    referred to a restore from a backup (nothing else is touched)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TABLE ops.ledger (n integer); INSERT INTO ops.ledger VALUES (1)")
        await conn.execute("CHECKPOINT")
        data = await conn.fetchval("SHOW data_directory")
        path = await conn.fetchval("SELECT pg_relation_filepath('ops.ledger')")
    finally:
        await conn.close()
    await asyncio.to_thread(Path(data, path).unlink)  # the file is lost on disk

    fresh = await Database.connect(database_url, max_size=1)  # no backend has the file open
    try:
        found = await integrity.find(fresh)
        assert [(f.check, f.key, f.remedy) for f in found] == [
            ("table_unreadable", "ops.ledger", integrity.Remedy.RESTORE)
        ]
        repairs = await integrity.repair(fresh, found)
        assert [r.action for r in repairs] == ["restore from a backup"]
        assert await fresh.fetchval("SELECT count(*) FROM ops.repairs") == 0
    finally:
        await fresh.close()


async def test_without_amcheck_the_check_says_so_and_runs_the_rest(
    database_url: str, db: Database
) -> None:
    """On the embedded PostgreSQL (no amcheck extension) the report says PostgreSQL's own
    check was skipped and why, and every other check still finds its damage."""
    await seed_if_empty(db)
    await _plant(database_url)
    report = await integrity.check(db)
    assert report.physical == NO_AMCHECK
    assert len(report.findings) == 7
    assert await integrity.find(db) == report.findings


@pytest.fixture
async def amcheck_server(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    """Debian's PostgreSQL 15, which has amcheck, with a migrated, seeded realmkit
    database; the server is this test's own, stopped by its PID at the end."""
    if not (PG15_BIN / "postgres").is_file():
        pytest.skip(
            f"no {PG15_BIN}/postgres: `bash scripts/system-packages` installs postgresql-15"
        )
    server = EmbeddedPostgres(tmp_path / "pg15", durable=False, bin_dir=PG15_BIN)
    try:
        await asyncio.to_thread(server.start)
        db = await Database.connect(server.url(), max_size=2)
        try:
            await migrate(db)
            await seed_if_empty(db)
        finally:
            await db.close()
        yield server
    finally:
        pid = server.pid()  # the test may have restarted it
        if pid is not None:
            stop_process(pid, 15.0)


@pytest.fixture
def amcheck_url(amcheck_server: EmbeddedPostgres) -> str:
    return amcheck_server.url()


async def _hide_a_row_from(url: str, index: str) -> int:
    """Insert an account that ``index`` does not hold: the index is marked not ready
    for inserts around the insert, as a lost index write would leave it."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE pg_index SET indisready = false WHERE indexrelid = $1::regclass", index
        )
        account: int = await conn.fetchval(
            "INSERT INTO auth.accounts (username, password_hash) VALUES ('unindexed', 'x') "
            "RETURNING account_id"
        )
        await conn.execute(
            "UPDATE pg_index SET indisready = true WHERE indexrelid = $1::regclass", index
        )
        return account
    finally:
        await conn.close()


async def test_amcheck_finds_an_index_missing_rows_and_reindex_repairs_it(
    amcheck_url: str,
) -> None:
    """With amcheck, a clean database passes; an index that misses a row of its table is
    found by bt_index_check (heapallindexed), --repair rebuilds it with a log row in
    ops.repairs, and the next check is clean."""
    db = await Database.connect(amcheck_url, max_size=2)
    try:
        clean = await integrity.check(db)
        assert (clean.physical, clean.findings) == (integrity.AMCHECK, [])
        assert (
            await db.fetchval(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
                "ON n.oid = e.extnamespace WHERE e.extname = 'amcheck'"
            )
            == "ops"
        )

        account = await _hide_a_row_from(amcheck_url, "auth.accounts_pkey")
        found = await integrity.find(db)
        assert [(f.check, f.key, f.remedy) for f in found] == [
            ("index_corrupt", "auth.accounts_pkey", integrity.Remedy.CORRECT)
        ]
        assert found[0].detail["sqlstate"] == "XX001"  # data_corrupted
        assert "lacks matching index tuple" in found[0].detail["error"]

        repairs = await integrity.repair(db, found)
        assert repairs == [
            integrity.Repair(
                "index_corrupt",
                "auth.accounts_pkey",
                "corrected",
                {"reindexed": "auth.accounts_pkey"},
            )
        ]
        logged = await db.fetchval(
            "SELECT count(*) FROM ops.repairs WHERE check_name = 'index_corrupt' "
            "AND target = 'auth.accounts_pkey' AND before IS NOT NULL AND after IS NOT NULL"
        )
        assert logged == 1
        async with db.transaction() as conn:
            await conn.execute("SET LOCAL enable_seqscan = off")  # found through the index
            assert (
                await conn.fetchval(
                    "SELECT username FROM auth.accounts WHERE account_id = $1", account
                )
                == "unindexed"
            )
        assert await integrity.find(db) == []
    finally:
        await db.close()


async def test_amcheck_finds_a_damaged_index_page_the_full_read_misses(
    amcheck_server: EmbeddedPostgres,
) -> None:
    """Bytes overwritten in an index's file on disk (the table's own pages intact) are
    found by bt_index_check alone; the rest of the check does not trust that index, and
    --repair rebuilds it so the next check is clean."""
    url = amcheck_server.url()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO auth.accounts (username, password_hash) "
            "SELECT 'player' || g, 'x' FROM generate_series(1, 2000) g"
        )
        path = await conn.fetchval("SELECT pg_relation_filepath('auth.accounts_pkey')")
    finally:
        await conn.close()
    pid = amcheck_server.pid()
    assert pid is not None
    stop_process(pid, 15.0)  # a clean stop: every page is on disk, none in memory
    index_file = amcheck_server.pgdata / path
    pages = index_file.stat().st_size // 8192
    assert pages > 3
    with index_file.open("r+b") as f:  # the last leaf, which max(account_id) reads
        f.seek((pages - 1) * 8192 + 4096)
        f.write(b"\xde\xad\xbe\xef" * 64)
    await asyncio.to_thread(amcheck_server.start, create=False)

    db = await Database.connect(amcheck_server.url(), max_size=2)
    try:
        found = await integrity.find(db)
        assert [(f.check, f.key, f.remedy) for f in found] == [
            ("index_corrupt", "auth.accounts_pkey", integrity.Remedy.CORRECT)
        ]
        assert "invalid page in block" in found[0].detail["error"]  # its checksum failed
        await integrity.repair(db, found)
        assert await integrity.find(db) == []
    finally:
        await db.close()


async def test_amcheck_refused_to_a_role_that_is_not_superuser(
    amcheck_server: EmbeddedPostgres,
) -> None:
    """A role that may read every table but is no superuser gets the rest of the check,
    and the report says PostgreSQL's own check was refused: creating the extension,
    then (once a superuser created it) running its functions."""
    admin = await asyncpg.connect(amcheck_server.url())
    try:
        await admin.execute(
            "CREATE ROLE watcher LOGIN PASSWORD 'watching' IN ROLE pg_read_all_data"
        )
    finally:
        await admin.close()
    url = f"postgresql://watcher:watching@127.0.0.1:{amcheck_server.port()}/realmkit"
    db = await Database.connect(url, max_size=2)
    try:
        report = await integrity.check(db)
        assert report.findings == []
        assert report.physical == (
            "read-only: creating the amcheck extension was refused (permission denied to create "
            'extension "amcheck"); a superuser can run: CREATE EXTENSION amcheck WITH SCHEMA ops'
        )

        admin = await asyncpg.connect(amcheck_server.url())
        try:
            await admin.execute("CREATE EXTENSION amcheck WITH SCHEMA ops")
        finally:
            await admin.close()
        report = await integrity.check(db)
        assert report.findings == []
        assert report.physical == (
            "read-only: running amcheck's functions was refused (permission denied for function "
            "verify_heapam); a superuser can GRANT EXECUTE on them"
        )
    finally:
        await db.close()


async def test_amcheck_finds_a_damaged_heap_tuple_and_calls_for_a_restore(
    amcheck_server: EmbeddedPostgres,
) -> None:
    """A tuple header damaged on disk where no checksum sees it (checksums turned off,
    as on an old cluster) reads back as garbage without an error; verify_heapam finds
    it, and --repair refers it to a restore from a backup, touching nothing."""
    conn = await asyncpg.connect(amcheck_server.url())
    try:
        await conn.execute("CREATE TABLE ops.ledger (n integer, m integer)")
        await conn.execute("INSERT INTO ops.ledger VALUES (1, 2)")
        path = await conn.fetchval("SELECT pg_relation_filepath('ops.ledger')")
    finally:
        await conn.close()
    pid = amcheck_server.pid()
    assert pid is not None
    stop_process(pid, 15.0)
    await asyncio.to_thread(
        subprocess.run,
        [str(PG15_BIN / "pg_checksums"), "--disable", "-D", str(amcheck_server.pgdata)],
        user=amcheck_server.run_as,
        capture_output=True,
        check=True,
    )
    with (amcheck_server.pgdata / path).open("r+b") as f:
        (pointer,) = struct.unpack("<I", f.read(28)[24:])  # the first tuple's line pointer
        f.seek((pointer & 0x7FFF) + 22)  # its header's t_hoff: where its data begins
        f.write(bytes([32]))  # 8 bytes late: it reads beyond itself
    await asyncio.to_thread(amcheck_server.start, create=False)

    db = await Database.connect(amcheck_server.url(), max_size=2)
    try:
        found = await integrity.find(db)
        assert [(f.check, f.key, f.remedy) for f in found] == [
            ("heap_corrupt", "ops.ledger", integrity.Remedy.RESTORE)
        ]
        assert found[0].detail["problems"][0]["offnum"] == 1
        repairs = await integrity.repair(db, found)
        assert [r.action for r in repairs] == ["restore from a backup"]
        assert await db.fetchval("SELECT count(*) FROM ops.repairs") == 0
    finally:
        await db.close()


def test_cli_check_says_amcheck_ran(amcheck_url: str, run_realmkit) -> None:  # type: ignore[no-untyped-def]
    """`realmkit db check` on a server with amcheck says PostgreSQL's own check ran, once,
    in --json (physical: amcheck) and in its text, and exits 0 on a clean database."""
    env = {"REALMKIT_DATABASE_URL": amcheck_url}
    proc = run_realmkit("db", "check", "--json", env=env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    report = json.loads(stdout)
    assert (report["ok"], report["physical"]) == (True, integrity.AMCHECK)
    assert "amcheck index auth.accounts_pkey" in stderr
    proc = run_realmkit("db", "check", env=env)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert stdout.count("PostgreSQL's own check: amcheck") == 1
    assert "no damage found" in stdout


SPAM = MAILBOX_SIZE + 1


async def _plant_social(url: str) -> dict[str, Any]:
    """Damage to items, money, mail and trades that the schema's constraints refuse,
    planted with those constraints dropped and the foreign keys and triggers off."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT nextval('characters.item_id_blocks')")  # ids below 1025 given
        for table, constraint in (
            ("characters.items", "items_one_owner"),
            ("characters.characters", "characters_money_not_negative"),
            ("social.mail", "mail_money_not_negative"),
        ):
            await conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}")
        await conn.execute("SET session_replication_role = replica")
        realm = await conn.fetchval("SELECT realm_id FROM auth.realmlist ORDER BY realm_id LIMIT 1")
        account = await conn.fetchval(
            "INSERT INTO auth.accounts (username, password_hash) VALUES ('broke', 'x') "
            "RETURNING account_id"
        )
        ids = []
        for name, money in (("Broke", -5), ("Spammed", 0), ("Trader", 0), ("Partner", 0)):
            ids.append(
                await conn.fetchval(
                    "INSERT INTO characters.characters (account_id, realm_id, name, hp, map_id, "
                    "pos_x, pos_y, pos_z, money) VALUES ($1, $2, $3, 10, 0, 0, 0, 0, $4) "
                    "RETURNING character_id",
                    account,
                    realm,
                    name,
                    money,
                )
            )
        broke, spammed, trader, partner = ids
        await conn.execute(
            "INSERT INTO characters.items (item_id, template_id, mail_id) VALUES (10, 1, 999999)"
        )
        await conn.execute("INSERT INTO characters.items (item_id, template_id) VALUES (11, 1)")
        minus = await conn.fetchval(
            "INSERT INTO social.mail (recipient_id, subject, money) VALUES ($1, 'debt', -3) "
            "RETURNING mail_id",
            broke,
        )
        oldest = None
        for n in range(SPAM, 0, -1):
            mail_id = await conn.fetchval(
                "INSERT INTO social.mail (sender_id, recipient_id, subject, sent_at) "
                "VALUES ($1, $2, 'spam', now() - make_interval(secs => $3)) RETURNING mail_id",
                broke,
                spammed,
                n,
            )
            oldest = oldest or mail_id
        for character_id in (trader, partner):
            await conn.execute(
                "INSERT INTO characters.player_assignments (character_id, epoch, state, "
                "updated_at) VALUES ($1, 2, 'offline', now() - interval '1 hour')",
                character_id,
            )
        trade = await conn.fetchval(
            "INSERT INTO social.trades (a_id, b_id, a_epoch, b_epoch) VALUES ($1, $2, 1, 1) "
            "RETURNING trade_id",
            trader,
            partner,
        )
        await conn.execute(
            "INSERT INTO social.trade_offers (trade_id, character_id, open) "
            "VALUES ($1, $2, true), ($1, $3, true)",
            trade,
            trader,
            partner,
        )
        return {"broke": broke, "minus": minus, "oldest": oldest, "trade": trade}
    finally:
        await conn.close()


async def test_check_finds_and_repairs_mail_money_and_trade_damage(
    database_url: str, db: Database
) -> None:
    """Mail and trades in use are no finding; an item whose mail is gone, an item with
    two owners or none, negative money in a purse or a mail, an open trade whose sides
    left long ago and an over-full mailbox are found, repaired with their log rows, and
    the next check is clean."""
    _, (aria, bran) = await _players(db, 2)
    [item] = list((await ItemRepo(db).reserve_ids())[:1])
    await ItemRepo(db).grant(item, 1, aria.character_id)
    await MailRepo(db).send(aria.character_id, bran.character_id, "fine", "", [item])
    assert await integrity.find(db) == []
    planted = await _plant_social(database_url)

    found = await integrity.find(db)
    assert {(f.check, f.key) for f in found} == {
        ("item_mail_missing", "10"),
        ("item_owner_count", "11"),
        ("character_money_negative", str(planted["broke"])),
        ("mail_money_negative", str(planted["minus"])),
        ("trade_open_while_away", str(planted["trade"])),
        ("mailbox_over_full", str(planted["oldest"])),
    }
    repairs = await integrity.repair(db, found)
    assert {r.action for r in repairs} == {"corrected", "quarantined"}
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM ops.repairs") == len(found)
        kept = await conn.fetchrow(
            "SELECT former_owner_id, former_mail_id FROM ops.recovery_mailbox"
        )
        assert (kept["former_owner_id"], kept["former_mail_id"]) == (None, 999999)
        assert (
            await conn.fetchval(
                "SELECT money FROM characters.characters WHERE character_id = $1", planted["broke"]
            )
            == 0
        )
        trade = await conn.fetchrow(
            "SELECT state, reason FROM social.trades WHERE trade_id = $1", planted["trade"]
        )
        assert (trade["state"], trade["reason"]) == ("cancelled", "db check: a side left")
        assert await conn.fetchval("SELECT count(*) FROM social.trade_offers WHERE open") == 0
        quarantined = await conn.fetch(
            "SELECT source_table FROM ops.quarantine ORDER BY source_table"
        )
        assert [r[0] for r in quarantined] == ["characters.items", "social.mail"]
        assert (
            await conn.fetchval(
                "SELECT owner_character_id FROM characters.items WHERE item_id = $1", item
            )
            is None
        )
    assert await integrity.find(db) == []
