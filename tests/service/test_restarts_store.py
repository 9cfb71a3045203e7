"""Realm restarts as stored: one open per realm, moved by compare-and-set, counted in
the database's clock, the daily one asked once per realm and day."""

from __future__ import annotations

import asyncpg
import pytest

from realmkit import realms
from realmkit.errors import Conflict, NotFound
from realmkit.lifecycle.restart import RestartEvent, RestartState
from realmkit.seed import seed_if_empty
from realmkit.settings import Settings
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database
from realmkit.store.restarts import RestartRepo

SETTINGS = Settings()


async def test_asking_again_moves_the_pending_restart_and_its_countdown(db: Database) -> None:
    await seed_if_empty(db)
    first = await realms.schedule_restart(SETTINGS, db, "Azure", 600)
    assert (first.realm, first.state, first.reason) == ("Azure", RestartState.PENDING, "operator")
    assert 595 < first.remaining <= 600
    repo = RestartRepo(db)
    assert await repo.warned(first.restart_id, 600)
    again = await realms.schedule_restart(SETTINGS, db, "azure", 60)
    assert again.restart_id == first.restart_id
    assert 55 < again.remaining <= 60
    assert again.warned_seconds is None, "a new time is told again from its start"
    assert [r.restart_id for r in await repo.open()] == [first.restart_id]


async def test_a_mark_is_told_once_and_only_while_pending(db: Database) -> None:
    await seed_if_empty(db)
    restart = await realms.schedule_restart(SETTINGS, db, "Azure", 900)
    repo = RestartRepo(db)
    assert await repo.warned(restart.restart_id, 600)
    assert not await repo.warned(restart.restart_id, 600), "another leader told it"
    assert not await repo.warned(restart.restart_id, 900), "a larger mark is past"
    assert await repo.warned(restart.restart_id, 300)
    running = await repo.move(restart.restart_id, RestartEvent.BEGIN)
    assert running is not None
    assert running.state is RestartState.RUNNING
    assert not await repo.warned(restart.restart_id, 10)
    assert await repo.move(restart.restart_id, RestartEvent.BEGIN) is None, "begun once"
    with pytest.raises(Conflict):
        await realms.schedule_restart(SETTINGS, db, "Azure", 60)
    with pytest.raises(NotFound):
        await repo.cancel(restart.realm_id)
    done = await repo.move(restart.restart_id, RestartEvent.FINISH, spaces=2, players=7)
    assert done is not None
    assert (done.state, done.spaces, done.players) == (RestartState.DONE, 2, 7)
    assert done.finished_at is not None
    assert await repo.open() == []


async def test_the_schema_refuses_a_move_the_table_lacks(db: Database, database_url: str) -> None:
    await seed_if_empty(db)
    restart = await realms.schedule_restart(SETTINGS, db, "Azure", 900)
    await RestartRepo(db).cancel(restart.realm_id)
    conn = await asyncpg.connect(database_url)
    try:
        with pytest.raises(asyncpg.PostgresError) as refused:
            await conn.execute(
                "UPDATE cluster.realm_restarts SET state = 'running' WHERE restart_id = $1",
                restart.restart_id,
            )
        assert refused.value.sqlstate == "RK002"
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO cluster.realm_restarts (realm_id, due_at, reason) "
                "VALUES ($1, now(), 'operator'), ($1, now() + interval '1 hour', 'operator')",
                restart.realm_id,
            )
    finally:
        await conn.close()


async def test_a_realm_restarted_hours_before_its_daily_time_skips_it(db: Database) -> None:
    """An operator's restart done less than 6 hours before the daily time stands for
    that day's; one done earlier does not."""
    await seed_if_empty(db)
    repo = RestartRepo(db)
    azure = await ClusterRepo(db).realm("Azure")
    done = await repo.schedule(azure.realm_id, 0)
    await repo.move(done.restart_id, RestartEvent.BEGIN)
    await repo.move(done.restart_id, RestartEvent.FINISH)
    now = await repo.clock()
    assert "Azure" not in [r.realm for r in await repo.daily(now + 5 * 3600)]
    assert "Azure" in [r.realm for r in await repo.daily(now + 7 * 3600)]


async def test_the_daily_restart_is_asked_once_per_realm_and_day(db: Database) -> None:
    await seed_if_empty(db)
    repo = RestartRepo(db)
    cluster = ClusterRepo(db)
    names = sorted(r.name for r in await cluster.realms())
    tomorrow = await repo.clock() + 86_400
    asked = await repo.daily(tomorrow)
    assert sorted(r.realm for r in asked) == names
    assert {r.reason for r in asked} == {"daily"}
    assert await repo.daily(tomorrow) == [], "asked once, whoever leads"
    azure = await cluster.realm("Azure")
    await repo.cancel(azure.realm_id)
    assert await repo.daily(tomorrow) == [], "a cancelled daily restart stays off"
    assert [r.realm for r in await repo.daily(tomorrow + 86_400)] == ["Azure"]


async def test_unknown_realm_and_nothing_to_cancel_are_clear(db: Database) -> None:
    await seed_if_empty(db)
    with pytest.raises(NotFound):
        await realms.schedule_restart(SETTINGS, db, "Nowhere", 60)
    with pytest.raises(NotFound) as caught:
        await RestartRepo(db).cancel((await ClusterRepo(db).realm("Azure")).realm_id)
    assert "pending restart" in caught.value.message
