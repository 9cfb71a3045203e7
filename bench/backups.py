"""Backups at realm size (issue 17): base backup, restore and integrity check times,
and the writes lost when PostgreSQL dies.

A PostgreSQL of its own in a temporary folder (the embedded one, durable) gets
`--characters` characters with `--items` items each. Then, in order:

1. a base backup by the backup node's Barman (WAL streaming first), and its
   verification: seconds for each and the backup's size;
2. `realmkit db check` on the database: seconds;
3. the restore check (the backup node's, ``realmkit backup check``): the backup
   restored into a scratch folder, started, promoted and read whole: seconds;
4. writes lost: one committed row every 10 ms for `--write-seconds`, PostgreSQL
   killed (SIGKILL) without warning, restored to the latest WAL streamed; the
   committed rows against those found after the restore;
5. the restore's seconds (copy, replay, promote).

    .venv/bin/python bench/backups.py --characters 10000 --items 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

import asyncpg

from realmkit.backup.barman import Barman
from realmkit.backup.check import check_latest
from realmkit.backup.restore import restore
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.errors import BackupFailed
from realmkit.seed import seed_if_empty
from realmkit.store.integrity import find
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database


async def fill(url: str, characters: int, items: int) -> None:
    conn = await asyncpg.connect(url)
    try:
        realm = await conn.fetchval("SELECT min(realm_id) FROM auth.realmlist")
        await conn.execute(
            "INSERT INTO auth.accounts (username, password_hash) "
            "SELECT 'bench_' || n, 'not-a-hash' FROM generate_series(1, $1) n",
            characters,
        )
        await conn.execute(
            "INSERT INTO characters.characters (account_id, realm_id, name, map_id, "
            "pos_x, pos_y, pos_z, hp) "
            "SELECT a.account_id, $1, 'Bench' || translate(a.account_id::text, "
            "'0123456789', 'abcdefghij'), 1, 100, 100, 10, 100 FROM auth.accounts a",
            realm,
        )
        # Item ids as the world nodes take them: blocks of the cluster-wide sequence.
        await conn.execute(
            "INSERT INTO characters.items (item_id, template_id, owner_character_id, stack_count) "
            "SELECT row_number() OVER (), 1, c.character_id, 1 "
            "FROM characters.characters c, generate_series(1, $1)",
            items,
        )
        await conn.execute(
            "SELECT setval('characters.item_id_blocks', "
            "(SELECT max(item_id) FROM characters.items) + 1)"
        )
    finally:
        await conn.close()


async def writes_lost(pg: EmbeddedPostgres, seconds: float) -> int:
    """Commit a row every 10 ms for ``seconds``, then SIGKILL PostgreSQL: committed rows."""
    conn = await asyncpg.connect(pg.url())
    await conn.execute("CREATE TABLE IF NOT EXISTS public.bench_writes (n integer PRIMARY KEY)")
    committed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await conn.execute("INSERT INTO public.bench_writes VALUES ($1)", committed)
        committed += 1
        await asyncio.sleep(0.01)
    pid = pg.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    conn.terminate()
    for _ in range(600):  # its children finish dying
        if pg.pid() is None:
            break
        await asyncio.sleep(0.05)
    return committed


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="realmkit-backups-"))
    pg = EmbeddedPostgres(root / "data" / "postgres")
    pg.start()
    url = pg.url()
    db = await Database.connect(url, max_size=4)
    await migrate(db)
    await seed_if_empty(db)
    started = time.monotonic()
    await fill(url, args.characters, args.items)
    print(
        f"filled: {args.characters} characters, {args.items} items each "
        f"in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    barman = Barman(root / "backups", url)
    barman.write_config()
    await barman.cron()
    started = time.monotonic()
    backup_id = await barman.backup()
    took_backup = time.monotonic() - started
    started = time.monotonic()
    await barman.verify(backup_id)
    took_verify = time.monotonic() - started
    size = (await barman.list())[0].size_bytes
    print(
        f"base backup: {took_backup:.1f} s, verify {took_verify:.1f} s, {size / 2**20:.0f} MiB",
        flush=True,
    )
    started = time.monotonic()
    found = await find(db)
    print(f"db check: {time.monotonic() - started:.1f} s, {len(found)} findings", flush=True)
    checked = await check_latest(barman, timeout=3600.0)
    print(
        f"restore check: {checked.seconds:.1f} s, "
        + (
            f"passed, {checked.characters} characters"
            if checked.ok
            else f"FAILED: {checked.reason}"
        ),
        flush=True,
    )
    await db.close()
    await barman.cron()  # the streamer runs (cron started it; make sure)
    committed = await writes_lost(pg, args.write_seconds)
    done = await restore(barman, pg, None)
    pg.start()
    conn = await asyncpg.connect(pg.url())
    kept = await conn.fetchval("SELECT count(*) FROM public.bench_writes")
    await conn.close()
    pg.stop()
    with contextlib.suppress(BackupFailed):  # it stopped with the server it streamed
        await barman.run("-q", "receive-wal", "--stop", "realmkit", timeout=30.0)
    print(
        f"restore to latest: {done.seconds:.1f} s; writes committed {committed}, "
        f"after the restore {kept}: lost {committed - kept}",
        flush=True,
    )
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--characters", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--write-seconds", type=float, default=5.0)
    asyncio.run(main(parser.parse_args()))
