"""The restore drill on a real cluster, run as an operator runs it.

Players loot (real play: wolves killed through the gateways) and trade (ItemRepo:
clients have no trade protocol yet); a base backup is taken with `realmkit backup
create`; play goes on; the moment T is noted; play goes on; the database is
destroyed (the cluster's PostgreSQL killed, its data folder removed). Then the
procedure: the cluster is stopped (`realmkit down`), the database restored to T
(`realmkit backup restore --to T`), the cluster started again on its data folder
(`realmkit up`): every character and item is exactly as at T and the invariants
hold, and players play again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest
from invariants import check_invariants
from test_cells import FIREBOLT, MEND, _a_wolf, _next_event
from test_instances import enter_at
from test_recovery import plays

from conftest import TEST_SETTINGS, running_cluster
from realmkit.client.game import GameClient
from realmkit.engines.embedded import Endpoints
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.protocol.events import Died, LootGranted
from realmkit.store.characters import ItemMove, ItemRepo
from realmkit.store.postgres import Database

WAIT = 20.0
BACKUP_WAIT = 120.0
# Two hunters, each north of its own pack of wolves (classic pack, Greenhollow), out
# of their aggro radius and within a Firebolt of the pack's edge.
HUNTERS = {"Tamsin": (359.8, 235.0), "Orrin": (158.4, 472.0)}
NODES = [
    ("login", "login"),
    ("gateway-1", "gateway"),
    ("gateway-2", "gateway"),
    ("orchestrator-1", "orchestrator"),
    ("world-1", "world"),
    ("world-2", "world"),
    ("backup-1", "backup"),
]

Rows = dict[str, dict[int, dict[str, Any]]]


def _env(root: Path, endpoints: Endpoints) -> dict[str, str]:
    """What an operator's shell holds on the cluster's host: its node file and data
    folder; the test session's NATS; the embedded PostgreSQL (no database URL)."""
    env = {
        **os.environ,
        "REALMKIT_CONFIG": str(root / "realmkit.toml"),
        "REALMKIT_DATA_DIR": str(root / "data"),
        "REALMKIT_NATS_URL": endpoints.nats_url,
    }
    env.pop("REALMKIT_DATABASE_URL", None)
    return env


async def _realmkit(
    root: Path, endpoints: Endpoints, *args: str, timeout: float = BACKUP_WAIT
) -> subprocess.CompletedProcess[str]:
    """`realmkit ARGS` in a subprocess, as the operator types it."""
    try:
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "realmkit", *args],
            env=_env(root, endpoints),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        took = f"`realmkit {' '.join(args)}` took over {timeout:g} s"
        raise AssertionError(f"{took}\n{_logs(root)}") from None


# Wolves hunted at most for one that drops loot (its table may roll nothing, and on a
# busy machine a wolf may get away past its leash).
WOLVES_TRIED = 16


async def _kill(client: GameClient, wolf: int) -> Died | None:
    """Firebolt (and sword, once it comes to bite) until the wolf dies; None if it got
    away (a wolf past its leash goes home, immune)."""
    await client.attack(wolf)
    for _ in range(5):
        await client.cast(FIREBOLT, wolf)
        with contextlib.suppress(TimeoutError):
            # The spell's cooldown, as a player waits it out, or the wolf's death.
            return await _next_event(client, Died, lambda e: e.entity_id == wolf, 3.1)  # type: ignore[no-any-return]
    return None


async def _hunt(client: GameClient) -> list[int]:
    """Kill wolves until one drops loot: the items looted (granted in PostgreSQL)."""
    looted: list[int] = []
    for _ in range(WOLVES_TRIED):  # a wolf's loot table can roll nothing: another wolf then
        wolf = await _a_wolf(client, within=28.0)
        died = await _kill(client, wolf)
        if died is not None and died.killer_id == client.character_id:
            # The loot follows the kill within a tick or two, if the table rolled any.
            with contextlib.suppress(TimeoutError):
                while True:
                    loot = await _next_event(
                        client, LootGranted, lambda e, w=wolf: e.source_id == w, 1.0
                    )
                    looted.append(loot.item_id)
        await client.cast(MEND)  # the bites taken
        if looted:
            return looted
    raise AssertionError(f"{WOLVES_TRIED} wolves and no loot")


async def _loot(hunters: list[GameClient], db: Database) -> list[int]:
    """Every hunter loots at once; the items, once PostgreSQL has them all."""
    looted = [i for got in await asyncio.gather(*(_hunt(h) for h in hunters)) for i in got]
    async with asyncio.timeout(WAIT):
        while True:
            found = await db.fetchval(
                "SELECT count(*) FROM characters.items WHERE item_id = ANY($1::bigint[])", looted
            )
            if found == len(looted):
                return looted
            await asyncio.sleep(0.1)  # the world node grants it in its own process


async def _swap(db: Database, a: GameClient, b: GameClient) -> tuple[int, int]:
    """A trades its newest item for B's newest: one compare-and-set swap."""
    items = ItemRepo(db)
    mine = max(i.item_id for i in await items.owned_by(a.character_id))
    theirs = max(i.item_id for i in await items.owned_by(b.character_id))
    await items.trade(
        [
            ItemMove(mine, a.character_id, b.character_id),
            ItemMove(theirs, b.character_id, a.character_id),
        ]
    )
    return mine, theirs


async def _rows(conn: asyncpg.Connection) -> Rows:
    """Every character and item row, by id."""
    return {
        "characters": {
            r["character_id"]: dict(r)
            for r in await conn.fetch("SELECT * FROM characters.characters")
        },
        "items": {
            r["item_id"]: dict(r) for r in await conn.fetch("SELECT * FROM characters.items")
        },
    }


async def _note_the_moment(url: str) -> tuple[datetime, Rows]:
    """T and every character and item row at T, exactly: the two tables are locked
    against writers (who wait; they commit after T) while they are read and the
    server's clock is read."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            # Characters first: a delete of a character (its items cascade) takes them
            # in that order too, so the two never wait on each other.
            await conn.execute("LOCK TABLE characters.characters, characters.items IN SHARE MODE")
            rows = await _rows(conn)
            moment = await conn.fetchval("SELECT clock_timestamp()")
    finally:
        await conn.close()
    return moment, rows


async def _streamed_past_now(db: Database, eventually) -> None:  # type: ignore[no-untyped-def]
    """The backup node was sent every write so far (the WAL it streams is all it has
    when the database is lost)."""
    lsn = await db.fetchval("SELECT pg_current_wal_lsn()::text")

    async def sent() -> bool:
        return bool(
            await db.fetchval(
                "SELECT bool_or(sent_lsn >= $1::text::pg_lsn) FROM pg_stat_replication", lsn
            )
        )

    await eventually(sent, WAIT, "the WAL sent to the backup node")


async def _destroy(pg: EmbeddedPostgres) -> None:
    """SIGKILL the postmaster, wait for its backends to follow, remove its data."""
    pid = pg.pid()
    assert pid is not None
    postmaster = psutil.Process(pid)
    backends = postmaster.children()
    os.kill(pid, signal.SIGKILL)
    _, alive = await asyncio.to_thread(psutil.wait_procs, [postmaster, *backends], WAIT)
    assert not alive, f"PostgreSQL processes outlived their postmaster: {alive}"
    await asyncio.to_thread(_remove, pg.pgdata)


def _logs(root: Path) -> str:
    """What `realmkit up` and its nodes said last (for a failure's message)."""
    said = [(root / "up.log").read_text(errors="replace")[-3000:]]
    data = root / "data"
    for log in [*sorted((data / "logs").glob("*.log")), data / "postgres" / "postgres.log"]:
        with contextlib.suppress(OSError):
            said.append(f"--- {log.name}\n" + log.read_text(errors="replace")[-1500:])
    return "\n".join(said)


def _remove(folder: Path) -> None:
    for child in sorted(folder.rglob("*"), reverse=True):
        child.unlink() if child.is_file() or child.is_symlink() else child.rmdir()
    folder.rmdir()


@pytest.mark.slow
@pytest.mark.timeout(400)
async def test_a_destroyed_database_is_restored_to_a_moment_and_the_realm_plays_on(
    http,  # type: ignore[no-untyped-def]
    engine_folder: Path,
    endpoints: Endpoints,
    eventually,
) -> None:
    """Restore to T after the database is destroyed: every character and item row is
    as it was at T, the loot and trades after T are gone, the invariants hold, and
    the realm plays on; `backup restore` beside the running cluster is refused."""
    # Not under pytest's temp folder: another pytest session makes that owner-only,
    # and under root the embedded PostgreSQL runs as another user.
    root = engine_folder
    pg = EmbeddedPostgres(root / "data" / "postgres")
    try:
        with running_cluster(root, endpoints, None, TEST_SETTINGS, nodes=NODES) as cluster:
            db = await Database.connect(cluster.database_url, max_size=2)
            hunters = [
                await enter_at(http, cluster, name, at, gateway=i % 2)
                for i, (name, at) in enumerate(HUNTERS.items())
            ]
            try:
                await _loot(hunters, db)
                await _swap(db, *hunters)

                # The backup node takes its first base backup as it starts; another
                # one, by hand, must wait for it.
                async def first_backup() -> bool:
                    listed = await _realmkit(root, endpoints, "backup", "list", "--json")
                    assert listed.returncode == 0, listed.stdout + listed.stderr
                    return any(b["status"] == "DONE" for b in json.loads(listed.stdout))

                await eventually(first_backup, BACKUP_WAIT, "the backup node's first backup")
                taken = await _realmkit(root, endpoints, "backup", "create", "--json")
                assert taken.returncode == 0, taken.stdout + taken.stderr
                await _loot(hunters, db)
                await _swap(db, *hunters)
                moment, at_t = await _note_the_moment(cluster.database_url)
                traded_after_t = await _swap(db, *hunters)
                after_t = await _loot(hunters, db)
                await _streamed_past_now(db, eventually)
            finally:
                for hunter in hunters:
                    await hunter.close()
                await db.close()
            await _destroy(pg)
            # The database is gone but the nodes run on, retrying: no restore now.
            beside = await _realmkit(
                root, endpoints, "backup", "restore", "--to", moment.isoformat(), "--json"
            )
            assert beside.returncode == 2, beside.stdout + beside.stderr
            refused = json.loads(beside.stdout)["error"]
            assert refused["code"] == "CONFLICT"
            assert "stop it first (`realmkit down`)" in refused["message"]
            assert not pg.pgdata.exists(), "a refused restore copies nothing"
            down = await _realmkit(root, endpoints, "down", "--json")
            assert down.returncode == 0, down.stdout + down.stderr + _logs(root)
        restored = await _realmkit(
            root, endpoints, "backup", "restore", "--to", moment.isoformat(), "--json"
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr + _logs(root)
        assert json.loads(restored.stdout)["target"] == moment.isoformat()
        with running_cluster(root, endpoints, None, TEST_SETTINGS, nodes=NODES) as cluster:
            conn = await asyncpg.connect(cluster.database_url)
            try:
                now = await _rows(conn)
            finally:
                await conn.close()
            assert now == at_t
            assert not set(after_t) & set(now["items"])
            for item_id in traded_after_t:
                assert now["items"][item_id] == at_t["items"][item_id]
            owned = {(i, r["owner_character_id"]) for i, r in at_t["items"].items()}
            await check_invariants(cluster.database_url, owned)
            again = await enter_at(http, cluster, "Tamsin", HUNTERS["Tamsin"])
            try:
                await plays(again)
            finally:
                await again.close()
            # The restored database is on a timeline of its own: backups go on from it.
            taken = await _realmkit(root, endpoints, "backup", "create", "--json")
            assert taken.returncode == 0, taken.stdout + taken.stderr + _logs(root)
            down = await _realmkit(root, endpoints, "down", "--json")
            assert down.returncode == 0, down.stdout + down.stderr
    finally:
        pg.stop()
