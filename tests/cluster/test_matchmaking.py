"""Cross-realm matchmaking on a real cluster: queue, match, play, come home; leader failover."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal

import pytest
from cluster_procs import node_pid
from invariants import check_invariants, fetch, owned_items
from test_instances import enter_at

from realmkit.bus import subjects
from realmkit.client.game import GameClient
from realmkit.errors import RemoteError
from realmkit.nodes.matchmaker.leader import MATCHMAKER_LOCK
from realmkit.protocol.matchmaking import TicketChanged
from realmkit.settings import load_settings
from realmkit.sim.store import FLAG_DEAD
from realmkit.store.postgres import Database, lock_holder

WAIT = 30.0
BATTLEGROUND_MAP = 3
TEAM = 10
KIND_PLAYER = 1
ARENA_MAP = 4
ARENA_Y = 40.0


async def _continent_of_own_realm(cluster, client: GameClient) -> bool:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT i.kind, i.realm_id = c.realm_id AS own FROM characters.player_assignments a "
        "JOIN characters.instances i USING (instance_id) "
        "JOIN characters.characters c USING (character_id) WHERE a.character_id = $1",
        client.character_id,
    )
    return bool(rows) and rows[0]["kind"] == "continent" and rows[0]["own"]


async def _first_frame(client: GameClient) -> None:
    async with asyncio.timeout(WAIT):
        while client.position is None:
            await client.wait_frame()


async def test_two_realms_meet_in_a_battleground_and_come_home(http, cluster) -> None:  # type: ignore[no-untyped-def]
    """Ten players of Azure and ten of Crimson queue, are matched together, land in one
    battleground instance and see their team; when the match ends each is back on its
    own realm's continent where it queued, with its items, and nobody disconnected."""
    items = await owned_items(cluster.database_url)
    clients: list[GameClient] = []
    realm_of: dict[int, int] = {}
    for realm_index, prefix in ((0, "Az"), (1, "Cr")):
        for i in range(TEAM):
            name = f"{prefix}bg{chr(97 + i)}"
            spot = (200.0 + 6 * i, 180.0 + 20 * realm_index)
            client = await enter_at(
                http, cluster, name, spot, gateway=i % 2, realm_index=realm_index
            )
            clients.append(client)
            realm_of[client.character_id] = realm_index
    before = {c.character_id: c.position for c in clients}
    for client in clients:
        status = await client.queue_join("battleground")
        assert status.state == "queued"
        assert status.ticket_id > 0
    proposals = []
    for client in clients:
        async with asyncio.timeout(WAIT):
            proposals.append(await client.proposals.get())
    assert len({p.match_id for p in proposals}) == 1
    assert sorted(p.team for p in proposals) == [1] * TEAM + [2] * TEAM
    for client, proposal in zip(clients, proposals, strict=True):
        await client.accept(proposal.match_id)
    async with asyncio.timeout(WAIT):
        for client in clients:
            while client.transfers < 1:
                await client.moved.wait()
                client.moved.clear()
    instances = {c.world.instance_id for c in clients if c.world is not None}
    assert len(instances) == 1
    assert {c.world.map_id for c in clients if c.world is not None} == {BATTLEGROUND_MAP}
    team_of = {c.character_id: p.team for c, p in zip(clients, proposals, strict=True)}
    for client in clients:
        await _first_frame(client)
        mates = {cid for cid, team in team_of.items() if team == team_of[client.character_id]}
        async with asyncio.timeout(WAIT):
            while not mates <= {i for i, r in client.visible().items() if r.kind == KIND_PLAYER}:
                await client.wait_frame()
    mixed = [
        team for team in (1, 2) if len({realm_of[c] for c, t in team_of.items() if t == team}) == 2
    ]
    assert mixed, "every team is of one realm: nobody met a player of the other"
    results = []
    for client in clients:
        async with asyncio.timeout(WAIT):
            results.append(await client.results.get())
    assert {(r.outcome, r.match_id) for r in results} == {("draw", proposals[0].match_id)}
    async with asyncio.timeout(WAIT):
        for client in clients:
            while client.transfers < 2:
                await client.moved.wait()
                client.moved.clear()
    for client in clients:
        await _first_frame(client)
        assert client.world is not None
        assert client.world.map_id == 1
        assert await _continent_of_own_realm(cluster, client)
        x, y, _, _ = client.position or (0.0, 0.0, 0.0, 0.0)
        bx, by, _, _ = before[client.character_id] or (0.0, 0.0, 0.0, 0.0)
        assert math.hypot(x - bx, y - by) < 1.0
        assert not client.closed.is_set()
    assert (await clients[0].queue_status("battleground")).state == "none"
    await check_invariants(cluster.database_url, items)
    for client in clients:
        await client.close()


async def _wait_transfers(clients: list[GameClient], count: int) -> None:
    async with asyncio.timeout(WAIT):
        for client in clients:
            while client.transfers < count:
                await client.moved.wait()
                client.moved.clear()


async def test_an_arena_is_won_by_the_last_team_standing_and_rated(
    http, cluster, eventually
) -> None:  # type: ignore[no-untyped-def]
    """Two wounded players of each realm meet in a rated 2v2 arena (each told its ticket
    is in the match as it starts); team 1 kills team 2.
    The space's win rule decides (not the time limit): team 1 wins and gains what team 2
    loses, in the ratings table too; everyone comes home alive with the hp it queued
    with (a match space saves no health)."""
    wounded = 12  # one hit of a level-1 player
    clients: list[GameClient] = []
    for realm_index, prefix in ((0, "Az"), (1, "Cr")):
        for i in range(2):
            spot = (240.0 + 6 * i, 180.0 + 20 * realm_index)
            clients.append(
                await enter_at(
                    http,
                    cluster,
                    f"{prefix}ar{chr(97 + i)}",
                    spot,
                    gateway=i,
                    realm_index=realm_index,
                    hp=wounded,
                )
            )
    for client in clients:
        assert (await client.queue_join("arena2v2")).state == "queued"
    proposals = []
    for client in clients:
        async with asyncio.timeout(WAIT):
            proposals.append(await client.proposals.get())
    assert len({p.match_id for p in proposals}) == 1
    for client, proposal in zip(clients, proposals, strict=True):
        await client.accept(proposal.match_id)
    await _wait_transfers(clients, 1)

    async def told_in_match() -> bool:
        return all(
            c.queue.get("arena2v2") is not None and c.queue["arena2v2"].state == "in_match"
            for c in clients
        )

    await eventually(told_in_match, WAIT, "every player told its ticket is in the match")
    team_of = {c.character_id: p.team for c, p in zip(clients, proposals, strict=True)}
    winners = [c for c in clients if team_of[c.character_id] == 1]
    losers = [c for c in clients if team_of[c.character_id] == 2]
    assert len(winners) == len(losers) == 2
    for client in clients:
        await _first_frame(client)
        assert client.world is not None
        assert client.world.map_id == ARENA_MAP

    # Both teams walk to the middle; each winner strikes one loser, who strikes nobody.
    async def fight(client: GameClient, x: float, target: int) -> None:
        for _ in range(int(WAIT / 0.1)):
            if await client.walk_towards(x, ARENA_Y, speed=6.0, step_seconds=0.1):
                break
            await asyncio.sleep(0.1)  # the client's own pace: ten reports a second
        if target:
            await client.attack(target)

    await asyncio.gather(
        *(fight(c, 38.0, loser.character_id) for c, loser in zip(winners, losers, strict=True)),
        *(fight(c, 42.0, 0) for c in losers),
    )
    results = {}
    for client in clients:
        async with asyncio.timeout(WAIT):
            results[client.character_id] = await client.results.get()
    changes = {cid: r.rating_change for cid, r in results.items()}
    for client in winners:
        result = results[client.character_id]
        assert (result.outcome, result.winner) == ("win", 1)
        assert result.rating == 1500 + result.rating_change
        assert result.rating_change > 0
    for client in losers:
        result = results[client.character_id]
        assert (result.outcome, result.winner) == ("loss", 1)
        assert result.rating_change < 0
    assert sum(changes.values()) == 0
    match = await fetch(
        cluster.database_url,
        "SELECT state, winner FROM matchmaking.matches WHERE match_id = $1",
        proposals[0].match_id,
    )
    assert (match[0]["state"], match[0]["winner"]) == ("done", 1)
    stored = await fetch(
        cluster.database_url,
        "SELECT character_id, rating, wins, losses FROM matchmaking.ratings "
        "WHERE activity_id = 'arena2v2' AND character_id = ANY($1)",
        list(results),
    )
    assert {r["character_id"]: (r["rating"], r["wins"], r["losses"]) for r in stored} == {
        cid: (r.rating, int(r.outcome == "win"), int(r.outcome == "loss"))
        for cid, r in results.items()
    }
    await _wait_transfers(clients, 2)
    for client in clients:
        await _first_frame(client)
        assert await _continent_of_own_realm(cluster, client)
        me = client.me()
        assert me is not None
        assert me.hp > 0
        assert not me.flags & FLAG_DEAD
    saved = await fetch(
        cluster.database_url,
        "SELECT hp FROM characters.characters WHERE character_id = ANY($1)",
        list(results),
    )
    assert [r["hp"] for r in saved] == [wounded] * 4
    for client in clients:
        await client.close()


async def _until(client: GameClient, party_size: int) -> None:
    async with asyncio.timeout(WAIT):
        while len(client.party.members) != party_size:
            client.party_changed.clear()
            await client.party_changed.wait()


async def _pool_arenas(cluster) -> dict[int, str]:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT instance_id, state FROM characters.instances "
        "WHERE realm_id IS NULL AND map_id = $1",
        ARENA_MAP,
    )
    return {r["instance_id"]: r["state"] for r in rows}


async def test_a_party_queues_as_one_and_leaving_it_cancels_its_ticket(  # type: ignore[no-untyped-def]
    http, cluster, eventually
) -> None:
    """Through the client protocol: Azure's Aleader invites Amember by name; only the
    leader queues the party, for both; the arena proposal puts them on one team
    against two Crimson players, and its instance loads before anyone answers. A
    Crimson player declines, the others are queued again; Amember leaves the party,
    and the party's ticket is cancelled for both."""
    arenas_before = await _pool_arenas(cluster)
    names = [("Apleader", 0), ("Apmember", 0), ("Crsoloa", 1), ("Crsolob", 1)]
    leader, member, solo_a, solo_b = [
        await enter_at(http, cluster, name, (300.0 + 6 * i, 180.0), gateway=i % 2, realm_index=r)
        for i, (name, r) in enumerate(names)
    ]
    made = await leader.party_invite("apmember")  # names are found in any case
    assert made.leader_id == leader.character_id
    async with asyncio.timeout(WAIT):
        invitation = await member.invitations.get()
    assert (invitation.party_id, invitation.inviter) == (made.party_id, "Apleader")
    with pytest.raises(RemoteError) as cross_realm:
        await leader.party_invite("Crsoloa")  # another realm's character: no such name here
    assert cross_realm.value.remote_code == "NOT_FOUND"
    joined = await member.party_accept(invitation.party_id)
    assert [m.character_id for m in joined.members] == [
        leader.character_id,
        member.character_id,
    ]
    await _until(leader, 2)
    with pytest.raises(RemoteError) as not_leader:
        await member.queue_join("arena2v2")
    assert not_leader.value.remote_code == "NOT_PARTY_LEADER"
    queued = await leader.queue_join("arena2v2")
    assert queued.state == "queued"
    assert (await member.queue_status("arena2v2")).ticket_id == queued.ticket_id
    for solo in (solo_a, solo_b):
        assert (await solo.queue_join("arena2v2")).state == "queued"
    clients = [leader, member, solo_a, solo_b]
    proposals = {}
    for client in clients:
        async with asyncio.timeout(WAIT):
            proposals[client.character_id] = await client.proposals.get()
    assert len({p.match_id for p in proposals.values()}) == 1
    teams = {c.character_id: proposals[c.character_id].team for c in clients}
    assert teams[leader.character_id] == teams[member.character_id]
    assert teams[solo_a.character_id] == teams[solo_b.character_id] != teams[member.character_id]
    match_id = proposals[leader.character_id].match_id

    async def prepared() -> bool:  # nobody has answered yet
        arenas = await _pool_arenas(cluster)
        return any(s == "ready" for i, s in arenas.items() if i not in arenas_before)

    await eventually(prepared, WAIT, "the proposed match's arena instance ready")
    for client in (leader, member, solo_b):
        await client.accept(match_id)
    await solo_a.decline(match_id)
    async with asyncio.timeout(WAIT):
        for client in (leader, member, solo_b):
            assert (await client.results.get()).outcome == "cancelled"
            while client.queue["arena2v2"].state != "queued":  # queued again
                await client.queue_status("arena2v2")
    assert (await solo_a.queue_status("arena2v2")).state == "none"
    left = await member.party_leave()
    assert left.party_id == 0
    await _until(leader, 0)  # a party of one is no party
    assert (await leader.queue_status("arena2v2")).state == "none"
    assert (await member.queue_status("arena2v2")).state == "none"
    assert (await solo_b.queue_leave("arena2v2")).state == "cancelled"
    assert not any(c.closed.is_set() for c in clients)
    for client in clients:
        await client.close()


async def test_a_party_spans_two_realms_of_the_pool(http, cluster) -> None:  # type: ignore[no-untyped-def]
    """Azure's Xleader invites Crimson's Xmember (on the other gateway): by the bare
    name there is none on Azure; by Name-Realm the invitation comes, naming the
    leader Name-Realm. The party's members carry their realms, its chat reaches
    both, and the leader's arena ticket is the member's too."""
    leader = await enter_at(http, cluster, "Xleader", (330.0, 200.0), gateway=0, realm_index=0)
    member = await enter_at(http, cluster, "Xmember", (336.0, 200.0), gateway=1, realm_index=1)
    try:
        with pytest.raises(RemoteError) as bare:
            await leader.party_invite("Xmember")  # Azure has no Xmember
        assert bare.value.remote_code == "NOT_FOUND"
        made = await leader.party_invite("xmember-crimson")  # any case, as whispers
        async with asyncio.timeout(WAIT):
            invitation = await member.invitations.get()
        assert (invitation.party_id, invitation.inviter) == (made.party_id, "Xleader-Azure")
        joined = await member.party_accept(invitation.party_id)
        assert [(m.name, m.realm) for m in joined.members] == [
            ("Xleader", "Azure"),
            ("Xmember", "Crimson"),
        ]
        await _until(leader, 2)
        await member.chat_send("party", "from Crimson")
        async with asyncio.timeout(WAIT):
            while not any(c.text == "from Crimson" for c in leader.chat_in("party")):
                leader.chat_arrived.clear()
                await leader.chat_arrived.wait()
        heard = leader.chat_in("party")[-1]
        assert heard.sender == "Xmember-Crimson"
        queued = await leader.queue_join("arena2v2")
        assert queued.state == "queued"
        assert (await member.queue_status("arena2v2")).ticket_id == queued.ticket_id
        assert (await leader.queue_leave("arena2v2")).state == "cancelled"
        assert not any(c.closed.is_set() for c in (leader, member))
    finally:
        for client in (leader, member):
            await client.close()


async def test_leaving_the_world_leaves_the_queue(http, cluster, eventually) -> None:  # type: ignore[no-untyped-def]
    """A party of two queues for the battleground; the member logs out: the party's
    ticket is cancelled (nobody is proposed a match they cannot answer) and the
    leader, still playing, hears it."""
    leader = await enter_at(http, cluster, "Qleader", (320.0, 200.0), gateway=0)
    member = await enter_at(http, cluster, "Qmember", (326.0, 200.0), gateway=1)
    try:
        await leader.party_invite("Qmember")
        async with asyncio.timeout(WAIT):
            invitation = await member.invitations.get()
        await member.party_accept(invitation.party_id)
        await _until(leader, 2)
        queued = await leader.queue_join("battleground")
        assert queued.state == "queued"
        await member.close()

        async def told() -> bool:
            return leader.queue["battleground"].state == "cancelled"

        await eventually(told, WAIT, "the leader told its party's ticket is cancelled")
        rows = await fetch(
            cluster.database_url,
            "SELECT state FROM matchmaking.tickets WHERE ticket_id = $1",
            queued.ticket_id,
        )
        assert rows[0]["state"] == "cancelled"
        assert not leader.closed.is_set()
    finally:
        for client in (leader, member):
            await client.close()


async def test_bots_form_parties_queue_and_enter_their_match(  # type: ignore[no-untyped-def]
    cluster, run_realmkit, eventually
) -> None:
    """`realmkit bots -n 4 --queue arena2v2 --party 2`: each pair of bots forms a party
    through the client protocol, each leader queues its party (two tickets of two), the
    four accept the arena proposal, land in its instance and wander there (inside its
    80 x 80 bounds, which new_world tells them) until the match ends; stopped with
    Ctrl-C, the summary counts it all, and no bot was cut off."""
    proc = run_realmkit(
        "bots",
        "-n",
        "4",
        "--queue",
        "arena2v2",
        "--party",
        "2",
        "--duration",
        "60",
        "--login",
        cluster.login_url,
        "--json",
        env={"REALMKIT_CONFIG": str(cluster.node_file)},
    )

    async def in_the_arena() -> bool:
        rows = await fetch(
            cluster.database_url,
            "SELECT t.members, m.state, m.instance_id, "
            "  (SELECT count(*) FROM characters.player_assignments a "
            "   WHERE a.instance_id = m.instance_id) AS inside "
            "FROM matchmaking.tickets t JOIN matchmaking.matches m USING (match_id) "
            "JOIN characters.characters c ON c.character_id = t.character_id "
            "WHERE c.name LIKE 'Bot%' AND t.activity_id = 'arena2v2'",
        )
        return (
            len(rows) == 2
            and all(len(r["members"]) == 2 for r in rows)
            and {(r["state"], r["inside"]) for r in rows} == {("running", 4)}
        )

    await eventually(in_the_arena, WAIT, "both bot parties in one running arena")

    async def played_out() -> bool:  # the time limit (15 s) ends it: bots fight creatures
        rows = await fetch(
            cluster.database_url,
            "SELECT DISTINCT m.match_id, m.state FROM matchmaking.tickets t "
            "JOIN matchmaking.matches m USING (match_id) "
            "JOIN characters.characters c ON c.character_id = t.character_id "
            "WHERE c.name LIKE 'Bot%' AND t.activity_id = 'arena2v2' ORDER BY m.match_id",
        )
        # The leaders queue again once they have the result: a second match is proposed.
        return len(rows) >= 2 and rows[0]["state"] == "done"

    await eventually(played_out, WAIT, "the bots' arena match played out, and a second one")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["entered"], summary["in_parties"]) == (4, 4), summary
    assert summary["queued"] >= 2, summary  # then queued again
    assert summary["proposals"] >= 4, summary
    assert summary["matches"] == 4, summary
    assert summary["errors"] == 0, summary


async def test_every_node_is_listed_and_keeps_heartbeating(cluster, eventually) -> None:  # type: ignore[no-untyped-def]
    """Every node of the node file has its row in cluster.nodes, with its role, and
    its heartbeat moves on (realmkit status lists them from there)."""
    settings = load_settings(cluster.node_file, env={})
    wanted = {n.name: n.role.value for n in settings.nodes}
    query = "SELECT node_id, role, state, last_heartbeat_at FROM cluster.nodes"
    first = {r["node_id"]: r for r in await fetch(cluster.database_url, query)}
    assert {n: first[n]["role"] for n in wanted if n in first} == wanted
    assert all(first[n]["state"] == "ready" for n in wanted)

    async def all_beat_again() -> bool:
        now = {r["node_id"]: r for r in await fetch(cluster.database_url, query)}
        return all(now[n]["last_heartbeat_at"] > first[n]["last_heartbeat_at"] for n in wanted)

    await eventually(all_beat_again, WAIT, "a new heartbeat of every node")


async def test_killed_matchmaker_leader_loses_no_ticket(cluster, bus, eventually) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL the matchmaking leader while it proposes matches out of 1,000 queued
    tickets: the standby leads within 2 s, and every ticket ends in exactly one match
    (none lost, none matched twice)."""
    count = 1000
    db = await Database.connect(cluster.database_url, max_size=2)
    try:
        leader = await lock_holder(db, MATCHMAKER_LOCK)
        assert leader in ("matchmaker-1", "matchmaker-2")
        standby = "matchmaker-2" if leader == "matchmaker-1" else "matchmaker-1"
        async with db.transaction() as conn:
            earlier = await conn.fetchval(
                "SELECT coalesce(max(match_id), 0) FROM matchmaking.matches"
            )
            realm_id, pool_id = await conn.fetchrow(
                "SELECT realm_id, pool_id FROM auth.realmlist WHERE name = 'Azure'"
            )
            account = await conn.fetchval(
                "INSERT INTO auth.accounts (username, password_hash) "
                "VALUES ('queue_crowd', 'x') RETURNING account_id"
            )
            await conn.execute(
                "INSERT INTO characters.characters "
                "(account_id, realm_id, name, hp, map_id, pos_x, pos_y, pos_z) "
                "SELECT $1, $2, 'Mq' || translate(lpad(i::text, 5, '0'), '0123456789', "
                "'abcdefghij'), 100, 1, 200, 200, 10 FROM generate_series(1, $3) AS i",
                account,
                realm_id,
                count,
            )
            # In the world (nobody queues from outside it; the leader cancels such
            # tickets), placed through a gateway that never delivers to them.
            continent = await conn.fetchval(
                "SELECT instance_id FROM characters.instances "
                "WHERE realm_id = $1 AND kind = 'continent' AND state = 'ready'",
                realm_id,
            )
            assert continent is not None
            await conn.execute(
                "INSERT INTO characters.player_assignments "
                "(character_id, instance_id, gateway_id, epoch, state) "
                "SELECT character_id, $2, 'queue-crowd', 1, 'in_world' "
                "FROM characters.characters WHERE account_id = $1",
                account,
                continent,
            )
            first_ticket = await conn.fetchval(
                "INSERT INTO matchmaking.tickets "
                "(pool_id, activity_id, character_id, members, levels, roles) "
                "SELECT $1, 'battleground', character_id, ARRAY[character_id], ARRAY[1], "
                "ARRAY[''] FROM characters.characters WHERE account_id = $2 "
                "ORDER BY character_id RETURNING ticket_id",
                pool_id,
                account,
            )
        await bus.publish(subjects.MATCHMAKER_NEWS, TicketChanged(first_ticket))

        async def proposing() -> bool:
            rows = await fetch(
                cluster.database_url,
                "SELECT count(*) AS n FROM matchmaking.matches WHERE match_id > $1",
                earlier,
            )
            return rows[0]["n"] > 0

        await eventually(proposing, 15.0, "the leader to propose a match")
        os.kill(node_pid(cluster.pid, leader), signal.SIGKILL)

        async def standby_leads() -> bool:
            return await lock_holder(db, MATCHMAKER_LOCK) == standby

        await eventually(standby_leads, 2.0, "the standby to lead")

        async def all_matched() -> bool:
            rows = await fetch(
                cluster.database_url,
                "SELECT count(*) AS n FROM matchmaking.tickets t JOIN characters.characters c "
                "ON c.character_id = t.character_id WHERE c.account_id = $1 AND t.match_id IS NULL",
                account,
            )
            return rows[0]["n"] == 0

        await eventually(all_matched, 20.0, "every ticket proposed")
        rows = await fetch(
            cluster.database_url,
            "SELECT t.ticket_id, t.character_id, t.match_id, "
            "  array_agg(m.match_id) FILTER (WHERE m.match_id IS NOT NULL) AS in_matches "
            "FROM matchmaking.tickets t JOIN characters.characters c "
            "  ON c.character_id = t.character_id "
            "LEFT JOIN matchmaking.matches m "
            "  ON m.teams @> jsonb_build_array(jsonb_build_array(t.character_id)) "
            "WHERE c.account_id = $1 GROUP BY t.ticket_id",
            account,
        )
        assert len(rows) == count
        for row in rows:
            assert row["in_matches"] == [row["match_id"]], dict(row)
    finally:
        async with db.connection() as conn:  # the crowd logs out
            await conn.execute(
                "UPDATE characters.player_assignments SET state = 'offline', "
                "instance_id = NULL, epoch = epoch + 1 WHERE gateway_id = 'queue-crowd'"
            )
        await db.close()
