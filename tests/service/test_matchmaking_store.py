"""Tickets, matches and ratings keep their invariants in PostgreSQL itself."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
import pytest

from realmkit.cells.partition import Rect
from realmkit.errors import AlreadyQueued, Conflict, IllegalTransition
from realmkit.lifecycle.match import MOVES as MATCH_MOVES
from realmkit.lifecycle.ticket import MOVES as TICKET_MOVES
from realmkit.matchmaking.ratings import RatingChange
from realmkit.store.accounts import AccountRepo
from realmkit.store.characters import CharacterRepo
from realmkit.store.cluster import ClusterRepo
from realmkit.store.matchmaking import MatchRepo, MatchRow, RatingRepo, TicketRepo, TicketRow
from realmkit.store.placement import AssignmentRepo, InstanceRepo
from realmkit.store.postgres import Database, translated
from realmkit.store.records import Character, MapKind, RealmStatus


async def _players(db: Database, count: int) -> tuple[int, list[Character]]:
    cluster = ClusterRepo(db)
    await cluster.add_game("classic", "Classic", "classic")
    pool = await cluster.add_pool("europe", "classic")
    realm = await cluster.add_realm("Azure", "classic", pool.pool_id, RealmStatus.ONLINE)
    account = await AccountRepo(db).create("player_one", "argon2id$hash")
    names = ["Aria", "Bran", "Cato", "Dara", "Evan", "Fynn"]
    repo = CharacterRepo(db)
    players = [
        await repo.create(
            account.account_id, realm.realm_id, names[i], map_id=1, position=(1, 2, 0), hp=100
        )
        for i in range(count)
    ]
    return pool.pool_id, players


async def _queue(db: Database, pool_id: int, character: Character, activity: str = "arena2v2"):
    return await TicketRepo(db).join(
        pool_id, activity, [character.character_id], [character.level], [""], 1500
    )


@dataclass
class Accepted:
    """A 2v2 arena match of four queued players, every one of whom accepted."""

    pool_id: int
    players: list[Character]
    tickets: list[TicketRow]
    teams: list[list[int]]
    match: MatchRow

    @property
    def ids(self) -> list[int]:
        return [t.ticket_id for t in self.tickets]


async def _accepted_match(db: Database) -> Accepted:
    pool_id, players = await _players(db, 4)
    tickets = [await _queue(db, pool_id, p) for p in players]
    teams = [[p.character_id for p in players[:2]], [p.character_id for p in players[2:]]]
    matches, repo = MatchRepo(db), TicketRepo(db)
    match = await matches.propose(
        pool_id, "arena2v2", teams, {}, [t.ticket_id for t in tickets], 20.0
    )
    for p in players:
        await repo.answer(match.match_id, p.character_id, True)
    assert await matches.accept(match.match_id)
    return Accepted(pool_id, players, tickets, teams, match)


async def _arena_instance(db: Database, pool_id: int) -> int:
    """An arena instance row for a match to start in."""
    async with db.connection() as conn:
        instance_id: int = await conn.fetchval(
            "INSERT INTO characters.instances (game_id, map_id, kind, pool_id, capacity) "
            "VALUES ('classic', 4, 'arena', $1, 4) RETURNING instance_id",
            pool_id,
        )
    return instance_id


async def test_ticket_moves_in_sql_equal_the_python_table(database_url: str, db: Database) -> None:
    """The database's ticket transition table is TICKET_MOVES, and an illegal move fails."""
    pool_id, (aria,) = await _players(db, 1)
    ticket = await _queue(db, pool_id, aria)
    conn = await asyncpg.connect(database_url)
    try:
        with (
            pytest.raises(IllegalTransition),
            translated(illegal=lambda: IllegalTransition("ticket", "queued", "done")),
        ):
            await conn.execute(
                "UPDATE matchmaking.tickets SET state = 'done' WHERE ticket_id = $1",
                ticket.ticket_id,
            )
        rows = await conn.fetch("SELECT from_state, to_state FROM matchmaking.ticket_moves")
    finally:
        await conn.close()
    in_sql = {(r["from_state"], r["to_state"]) for r in rows}
    in_python = {(a.value, b.value) for a, b in TICKET_MOVES}
    assert in_sql == in_python


async def test_match_moves_in_sql_equal_the_python_table(database_url: str, db: Database) -> None:
    """The database's match transition table is the lifecycle's MOVES, and an illegal
    move (a proposal straight to done) fails."""
    pool_id, players = await _players(db, 4)
    ids = [(await _queue(db, pool_id, p)).ticket_id for p in players]
    teams = [[p.character_id for p in players[:2]], [p.character_id for p in players[2:]]]
    match = await MatchRepo(db).propose(pool_id, "arena2v2", teams, {}, ids, 20.0)
    conn = await asyncpg.connect(database_url)
    try:
        with (
            pytest.raises(IllegalTransition),
            translated(illegal=lambda: IllegalTransition("match", "proposed", "done")),
        ):
            await conn.execute(
                "UPDATE matchmaking.matches SET state = 'done' WHERE match_id = $1",
                match.match_id,
            )
        rows = await conn.fetch("SELECT from_state, to_state FROM matchmaking.match_moves")
    finally:
        await conn.close()
    in_sql = {(r["from_state"], r["to_state"]) for r in rows}
    assert in_sql == {(a.value, b.value) for a, b in MATCH_MOVES}


async def test_joining_twice_answers_already_queued(db: Database) -> None:
    """One live ticket per character and activity; another activity is fine."""
    pool_id, (aria,) = await _players(db, 1)
    first = await _queue(db, pool_id, aria)
    with pytest.raises(AlreadyQueued) as caught:
        await _queue(db, pool_id, aria)
    assert caught.value.ticket_id == first.ticket_id
    other = await _queue(db, pool_id, aria, "battleground")
    assert other.ticket_id != first.ticket_id


async def test_a_proposal_takes_all_its_tickets_or_none(db: Database) -> None:
    """If one ticket left the queue, the proposal is refused and the others stay queued."""
    pool_id, players = await _players(db, 4)
    tickets = [await _queue(db, pool_id, p) for p in players]
    await TicketRepo(db).leave(players[3].character_id, "arena2v2")
    ids = [t.ticket_id for t in tickets]
    teams = [[p.character_id for p in players[:2]], [p.character_id for p in players[2:]]]
    with pytest.raises(Conflict):
        await MatchRepo(db).propose(pool_id, "arena2v2", teams, {}, ids, 20.0)
    states = [(await TicketRepo(db).get(i)).state for i in ids]
    assert states == ["queued", "queued", "queued", "cancelled"]
    async with db.connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM matchmaking.matches") == 0


async def test_a_decline_requeues_the_others_at_their_old_place(db: Database) -> None:
    """Accepted and silent tickets go back queued with their queued_at; the decliner's
    ticket is cancelled; the same tickets cannot be proposed twice at once."""
    pool_id, players = await _players(db, 4)
    tickets = [await _queue(db, pool_id, p) for p in players]
    ids = [t.ticket_id for t in tickets]
    teams = [[p.character_id for p in players[:2]], [p.character_id for p in players[2:]]]
    matches, repo = MatchRepo(db), TicketRepo(db)
    match = await matches.propose(pool_id, "arena2v2", teams, {}, ids, 20.0)
    with pytest.raises(Conflict):
        await matches.propose(pool_id, "arena2v2", teams, {}, ids, 20.0)
    accepted = await repo.answer(match.match_id, players[0].character_id, True)
    assert accepted.state == "accepted"
    declined = await repo.answer(match.match_id, players[1].character_id, False)
    assert declined.state == "cancelled"
    assert not await matches.accept(match.match_id)
    requeued = await matches.cancel(match.match_id)
    assert sorted(t.ticket_id for t in requeued) == sorted([ids[0], ids[2], ids[3]])
    for before in (tickets[0], tickets[2], tickets[3]):
        after = await repo.get(before.ticket_id)
        assert (after.state, after.queued_at, after.match_id) == ("queued", before.queued_at, None)
    assert (await matches.get(match.match_id)).state == "cancelled"


async def test_finishing_a_match_records_ratings_once(db: Database) -> None:
    """The result, the tickets and every rating change land in one transaction; finishing
    again (a second leader) changes nothing."""
    accepted = await _accepted_match(db)
    players, ids, teams, match = accepted.players, accepted.ids, accepted.teams, accepted.match
    matches, repo = MatchRepo(db), TicketRepo(db)
    instance_id = await _arena_instance(db, accepted.pool_id)
    await matches.start(match.match_id, instance_id, 60.0)
    assert {(await repo.get(i)).state for i in ids} == {"in_match"}
    changes = [RatingChange(c, 1516, True) for c in teams[0]] + [
        RatingChange(c, 1484, False) for c in teams[1]
    ]
    assert await matches.finish(match.match_id, 1, changes, "arena2v2")
    assert not await matches.finish(match.match_id, 2, changes, "arena2v2")
    ratings = await RatingRepo(db).of([p.character_id for p in players], "arena2v2")
    assert [ratings[p.character_id] for p in players] == [1516, 1516, 1484, 1484]
    assert {(await repo.get(i)).state for i in ids} == {"done"}
    assert (await matches.get(match.match_id)).winner == 1


async def test_tickets_of_players_out_of_the_world_are_cancelled(db: Database) -> None:
    """Queued tickets with a member who logged out, or never entered, are cancelled;
    those of players in the world (placing, playing, transferring) stay."""
    pool_id, (aria, bran, cato, dara) = await _players(db, 4)
    (realm,) = await ClusterRepo(db).realms()
    home = await InstanceRepo(db).create(
        game_id="classic",
        map_id=1,
        kind=MapKind.CONTINENT,
        pool_id=pool_id,
        realm_id=realm.realm_id,
        capacity=100,
        bounds=Rect(0.0, 0.0, 2048.0, 2048.0),
    )
    assignments = AssignmentRepo(db)
    for c in (aria, bran, dara):
        await assignments.place(c.character_id, home.instance_id, "gw-1", expected_epoch=None)
    await assignments.release(dara.character_id, expected_epoch=1)  # logged out
    tickets = TicketRepo(db)
    solo = await _queue(db, pool_id, aria)
    party = await tickets.join(
        pool_id, "arena2v2", [bran.character_id, dara.character_id], [1, 1], ["", ""], 1500
    )
    never = await _queue(db, pool_id, cato)  # never entered the world
    cancelled = await tickets.cancel_offline()
    assert sorted(t.ticket_id for t in cancelled) == sorted([party.ticket_id, never.ticket_id])
    assert all(t.state == "cancelled" for t in cancelled)
    assert (await tickets.get(solo.ticket_id)).state == "queued"
    assert await tickets.cancel_offline() == []


async def test_a_start_after_a_decline_fails_and_requeues_the_others(db: Database) -> None:
    """A ticket declined once the match was accepted, before the leader heard it: the
    start is refused (Conflict, nothing in_match, the match still accepted) and calling
    the match off requeues the others at their old place, at once."""
    accepted = await _accepted_match(db)
    players, tickets, ids, match = accepted.players, accepted.tickets, accepted.ids, accepted.match
    matches, repo = MatchRepo(db), TicketRepo(db)
    declined = await repo.answer(match.match_id, players[1].character_id, False)
    assert declined.state == "cancelled"
    instance_id = await _arena_instance(db, accepted.pool_id)
    with pytest.raises(Conflict) as refused:
        await matches.start(match.match_id, instance_id, 60.0)
    assert refused.value.data["tickets"] == [ids[1]]
    states = [(await repo.get(i)).state for i in ids]
    assert states == ["accepted", "cancelled", "accepted", "accepted"]
    after = await matches.get(match.match_id)
    assert (after.state, after.instance_id) == ("accepted", None)
    requeued = await matches.cancel(match.match_id)  # what the failed start leads to
    assert sorted(t.ticket_id for t in requeued) == [ids[0], ids[2], ids[3]]
    for before in (tickets[0], tickets[2], tickets[3]):
        again = await repo.get(before.ticket_id)
        assert (again.state, again.queued_at, again.match_id) == ("queued", before.queued_at, None)
    assert (await matches.get(match.match_id)).state == "cancelled"


async def _blocked_on_a_lock(conn: asyncpg.Connection, within: float = 5.0) -> None:
    """Return once another session of this database waits for a row lock."""

    async def blocked() -> None:
        # PostgreSQL shows a lock wait in pg_stat_activity only: no event to await.
        while not await conn.fetchval(  # noqa: ASYNC110
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        ):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(blocked(), within)


async def test_a_start_waits_for_a_decline_under_way_and_is_refused(
    database_url: str, db: Database
) -> None:
    """A decline written but not committed when the start runs: the start waits for the
    ticket (locked FOR UPDATE), sees it cancelled and is refused, not a match with a
    cancelled ticket in it."""
    accepted = await _accepted_match(db)
    ids, match = accepted.ids, accepted.match
    matches, repo = MatchRepo(db), TicketRepo(db)
    instance_id = await _arena_instance(db, accepted.pool_id)
    decliner, watcher = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        declining = decliner.transaction()
        await declining.start()
        await decliner.execute(
            "UPDATE matchmaking.tickets SET state = 'cancelled' WHERE ticket_id = $1", ids[3]
        )
        start = asyncio.create_task(matches.start(match.match_id, instance_id, 60.0))
        await _blocked_on_a_lock(watcher)
        await declining.commit()
        with pytest.raises(Conflict):
            await start
    finally:
        await decliner.close()
        await watcher.close()
    states = [(await repo.get(i)).state for i in ids]
    assert states == ["accepted", "accepted", "accepted", "cancelled"]
    assert (await matches.get(match.match_id)).state == "accepted"
