"""Crashes and moves under players: a killed world node, a drained one, a killed leader,
a killed gateway."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from cluster_procs import node_pid
from invariants import check_invariants, fetch, owned_items
from test_instances import GATE, NEAR_GATE, enter_at

from realmkit.bus import subjects
from realmkit.client.game import GameClient, world_position
from realmkit.client.login import LoginClient
from realmkit.errors import RemoteError
from realmkit.nodes.orchestrator.leader import LEADER_LOCK
from realmkit.protocol.cluster import EnterWorld, Placement
from realmkit.replication.client import EntityRow
from realmkit.store.cluster import ClusterRepo
from realmkit.store.postgres import Database, lock_holder
from realmkit.store.records import RealmStatus

WAIT = 20.0
START = (200.0, 200.0)
# conftest.TEST_SETTINGS
RESUME_GRACE = 4.0
NODE_TIMEOUT = 3.0


async def _host_of(cluster, client: GameClient) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT i.instance_id, i.node_id FROM characters.player_assignments a "
        "JOIN characters.instances i USING (instance_id) WHERE a.character_id = $1",
        client.character_id,
    )
    return rows[0]["instance_id"], rows[0]["node_id"]


async def plays(client: GameClient) -> None:
    """The client is placed and its own moves come back in frames."""
    async with asyncio.timeout(WAIT):
        while client.position is None or client.transferring:
            await client.wait_frame()
        x, y, _, _ = client.position
        target = (x + 2.0, y)
        while True:
            await client.walk_towards(*target, speed=6.0, step_seconds=0.1)
            await asyncio.sleep(0.1)  # the client's own pace: ten reports a second
            me = client.me()
            if me is not None and math.dist(world_position(me)[:2], target) < 0.5:
                return


Seen = dict[int, tuple[EntityRow | None, int]]


def _seen(players: list[GameClient]) -> Seen:
    """Each player's own row and transfer count now."""
    return {p.character_id: (p.me(), p.transfers) for p in players}


async def _saw_nothing(players: list[GameClient], before: Seen, what: str) -> None:
    """The space moved under the players: no transfer, no disconnect, positions kept."""
    for p in players:
        row, transfers = before[p.character_id]
        assert p.transfers == transfers, f"{what} must not look like a transfer"
        await p.wait_frame()
        me = p.me()
        assert me is not None
        assert row is not None
        assert math.dist(world_position(me), world_position(row)) < 3.0
        await plays(p)
        assert not p.closed.is_set()


async def test_killed_world_node_costs_players_seconds_not_their_connection(
    http, cluster, eventually
) -> None:
    """SIGKILL the node of a busy continent while a player is in a portal transfer:
    everyone is back in play on another node, nobody was disconnected."""
    items = await owned_items(cluster.database_url)
    players = [
        await enter_at(http, cluster, f"Stayer{'abc'[i]}", (START[0] + i, START[1]), gateway=i % 2)
        for i in range(3)
    ]
    traveller = await enter_at(http, cluster, "Traveller", NEAR_GATE, gateway=1)
    everyone = [*players, traveller]
    try:
        instance_id, node = await _host_of(cluster, players[0])
        async with asyncio.timeout(WAIT):  # walk until the move into the gate is sent
            while (
                traveller.transfers == 0  # a transfer may be over before the next look
                and not traveller.transferring
                and traveller.position is not None
                and traveller.position[1] < 1580.5
            ):
                await traveller.walk_towards(*GATE, speed=6.0, step_seconds=0.1)
                await asyncio.sleep(0.1)  # the client's own pace
        os.kill(node_pid(cluster.pid, node), signal.SIGKILL)

        async def moved() -> bool:
            rows = await fetch(
                cluster.database_url,
                "SELECT state, node_id FROM characters.instances WHERE instance_id = $1",
                instance_id,
            )
            return rows[0]["state"] == "ready" and all(p.transfers >= 1 for p in players)

        await eventually(moved, WAIT, "continent restored and its players re-attached")
        for client in everyone:
            await plays(client)
            assert not client.closed.is_set()
    finally:
        for client in everyone:
            await client.close()
    await check_invariants(cluster.database_url, items)


@pytest.mark.timeout(240)  # two drains as subprocesses: minutes on a busy two-core machine
async def test_drain_moves_a_fighting_crowd_without_a_blink(http, cluster, eventually) -> None:
    """`realmkit drain` moves the continent to the other node: no disconnect, no
    transfer seen by clients, positions and hp intact, the space ticks on."""
    items = await owned_items(cluster.database_url)
    players = [
        await enter_at(http, cluster, f"Fighter{'abc'[i]}", (150.0 + i, 240.0), gateway=i % 2)
        for i in range(3)
    ]
    try:
        for p in players:  # pick a fight with the nearest creature
            creatures = [i for i, r in p.visible().items() if r.kind == 2]
            if creatures:
                await p.attack(creatures[0])
        instance_id, node = await _host_of(cluster, players[0])
        before = _seen(players)
        env = {**os.environ, "REALMKIT_CONFIG": str(cluster.node_file)}
        env["REALMKIT_NATS_URL"] = cluster.endpoints.nats_url
        env["REALMKIT_DATABASE_URL"] = cluster.database_url
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "realmkit", "drain", node],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert str(instance_id) in done.stdout
        unknown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "realmkit", "drain", "gateway-1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert unknown.returncode == 1
        assert "world node" in unknown.stderr
        _, now_on = await _host_of(cluster, players[0])
        assert now_on != node
        await _saw_nothing(players, before, "a drain")
    finally:
        for p in players:
            await p.close()
    await check_invariants(cluster.database_url, items)


async def test_stopped_world_node_hands_its_spaces_over(http, cluster, eventually) -> None:
    """SIGTERM a world node (a rolling upgrade, a pod deleted): before it stops, its
    spaces move to the other node; players see nothing and keep their state."""
    items = await owned_items(cluster.database_url)
    players = [
        await enter_at(http, cluster, f"Upgrade{'abc'[i]}", (180.0 + i, 260.0), gateway=i % 2)
        for i in range(3)
    ]
    try:
        for p in players:
            await plays(p)
        instance_id, node = await _host_of(cluster, players[0])
        other = "world-2" if node == "world-1" else "world-1"
        # The other node must take spaces: a drained one does after its restart.
        other_pid = node_pid(cluster.pid, other)
        os.kill(other_pid, signal.SIGTERM)

        async def other_back() -> bool:
            rows = await fetch(
                cluster.database_url, "SELECT state FROM cluster.nodes WHERE node_id = $1", other
            )
            try:
                restarted = node_pid(cluster.pid, other) != other_pid
            except LookupError:
                return False
            return restarted and rows[0]["state"] == "ready"

        await eventually(other_back, WAIT, f"{other} restarted and ready")
        before = _seen(players)
        os.kill(node_pid(cluster.pid, node), signal.SIGTERM)

        async def moved() -> bool:
            rows = await fetch(
                cluster.database_url,
                "SELECT state, node_id FROM characters.instances WHERE instance_id = $1",
                instance_id,
            )
            return rows[0]["state"] == "ready" and rows[0]["node_id"] == other

        await eventually(moved, WAIT, f"instance {instance_id} handed over by {node}")
        await _saw_nothing(players, before, "a handed-over space")
    finally:
        for p in players:
            await p.close()
    await check_invariants(cluster.database_url, items)


async def test_killed_leader_while_spawning_leaves_one_instance(
    http, cluster, bus, eventually
) -> None:
    """SIGKILL the orchestrator leader while it spawns a continent: exactly one instance
    results, the placement completes, and the other replica takes over the lead."""
    items = await owned_items(cluster.database_url)
    db = await Database.connect(cluster.database_url, max_size=2)
    try:
        first = (await ClusterRepo(db).realms())[0]
        realm = await ClusterRepo(db).add_realm(
            "Newdawn", first.game_id, first.pool_id, RealmStatus.ONLINE
        )
        api = LoginClient(cluster.login_url, http)
        await api.register_or_login("acct_pioneer", "correct-horse-battery")
        character = await api.character(realm.realm_id, "Pioneer")
        leader = await lock_holder(db, LEADER_LOCK)
        assert leader in ("orchestrator-1", "orchestrator-2")
        other = "orchestrator-2" if leader == "orchestrator-1" else "orchestrator-1"
        leader_pid, other_pid = node_pid(cluster.pid, leader), node_pid(cluster.pid, other)
        spawn_lock = f"continent:{realm.realm_id}:1"
        # The other replica is frozen, so whatever it takes waits: the leader spawns.
        # The world nodes are frozen too, so the spawn waits for its load: the
        # leader dies with the spawn lock held and the instance row half made.
        frozen = [other_pid, node_pid(cluster.pid, "world-1"), node_pid(cluster.pid, "world-2")]
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            asks = [
                asyncio.create_task(
                    bus.request_patiently(
                        subjects.ORCHESTRATOR_REQUESTS,
                        EnterWorld(character.character_id, "gateway-1"),
                        Placement,
                        within=WAIT,
                    )
                )
                for _ in range(8)
            ]

            async def spawning() -> bool:
                return await lock_holder(db, spawn_lock) == leader

            await eventually(spawning, WAIT, "the leader spawning the continent")
            os.kill(leader_pid, signal.SIGKILL)
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        placed = await asyncio.gather(*asks, return_exceptions=True)
        assert any(isinstance(p, Placement) for p in placed), placed

        async def took_over() -> bool:
            return await lock_holder(db, LEADER_LOCK) == other

        await eventually(took_over, WAIT, f"{other} leading")
        # A player of that realm enters through a gateway as usual.
        ticket = await api.ticket(character.character_id)
        client = await GameClient.connect(http, ticket.gateway_url, ticket.ticket)
        try:
            await plays(client)
        finally:
            await client.close()
        rows = await fetch(
            cluster.database_url,
            "SELECT instance_id, state FROM characters.instances WHERE realm_id = $1",
            realm.realm_id,
        )
        assert [r["state"] for r in rows] == ["ready"], rows
    finally:
        await db.close()
    await check_invariants(cluster.database_url, items)


async def test_killed_gateway_players_resume_through_another(http, cluster, eventually) -> None:
    """SIGKILL a gateway: its players resume through the other one with their resume
    token and find their character where it was; a token resumes once; a player who
    never comes back is logged out (saved) after the resume grace period."""
    items = await owned_items(cluster.database_url)
    back = await enter_at(http, cluster, "Comeback", (250.0, 250.0), gateway=0)
    gone = await enter_at(http, cluster, "Vanished", (252.0, 250.0), gateway=0)
    other = await enter_at(http, cluster, "Bystander", (254.0, 250.0), gateway=1)
    try:
        await plays(back)
        instance_before, _ = await _host_of(cluster, back)
        me = back.me()
        assert me is not None
        where = world_position(me)
        token = back.resume_token
        assert token
        assert token != gone.resume_token
        os.kill(node_pid(cluster.pid, "gateway-1"), signal.SIGKILL)
        async with asyncio.timeout(WAIT):
            await back.closed.wait()
            await gone.closed.wait()

        await back.resume(http, cluster.gateways[1])
        assert back.resumes == 1
        assert back.resume_token != token
        assert (await _host_of(cluster, back))[0] == instance_before
        async with asyncio.timeout(WAIT):
            while (row := back.me()) is None:
                await back.wait_frame()
        assert math.dist(world_position(row), where) < 1.0, "resumed somewhere else"
        await plays(back)
        await plays(other)
        assert not other.closed.is_set()
        with pytest.raises(RemoteError) as twice:  # a token resumes once
            await GameClient.resumed(http, cluster.gateways[1], token)
        assert twice.value.remote_code == "NOT_FOUND"

        async def logged_out() -> bool:
            rows = await fetch(
                cluster.database_url,
                "SELECT state FROM characters.player_assignments WHERE character_id = $1",
                gone.character_id,
            )
            return rows[0]["state"] == "offline"

        await eventually(logged_out, WAIT, "the player who never resumed logged out")
        with pytest.raises(RemoteError) as late:
            await GameClient.resumed(http, cluster.gateways[1], gone.resume_token)
        assert late.value.remote_code == "NOT_FOUND"
    finally:
        for client in (back, gone, other):
            await client.close()
    await check_invariants(cluster.database_url, items)


async def test_a_new_leader_keeps_the_resume_deadline_of_a_dead_gateways_players(
    http, cluster, eventually
) -> None:
    """SIGKILL a gateway, then, late in its players' resume grace, the orchestrators'
    leader: a player who never resumes is logged out (saved) on the deadline the
    store holds (resume_grace after the gateway came back), not a whole grace after
    the new leader took over."""
    items = await owned_items(cluster.database_url)
    stranded = await enter_at(http, cluster, "Stranded", (256.0, 250.0), gateway=1)
    db = await Database.connect(cluster.database_url, max_size=2)
    try:
        await plays(stranded)
        os.kill(node_pid(cluster.pid, "gateway-2"), signal.SIGKILL)
        async with asyncio.timeout(WAIT):
            await stranded.closed.wait()

        async def restarted() -> bool:  # its players' grace counts from then
            return bool(
                await db.fetchval(
                    "SELECT g.started_at > a.updated_at FROM cluster.nodes g, "
                    "characters.player_assignments a "
                    "WHERE g.node_id = 'gateway-2' AND a.character_id = $1",
                    stranded.character_id,
                )
            )

        await eventually(restarted, WAIT, "gateway-2 restarted")
        back = time.monotonic()
        # The leader dies late in the grace, whatever the restart took: that is the scenario.
        await asyncio.sleep(NODE_TIMEOUT)
        assert await _state_of(db, stranded.character_id) == "in_world"
        leader = await lock_holder(db, LEADER_LOCK)
        assert leader is not None
        os.kill(node_pid(cluster.pid, leader), signal.SIGKILL)

        async def logged_out() -> bool:
            return await _state_of(db, stranded.character_id) == "offline"

        await eventually(logged_out, WAIT, "the player who never resumed logged out")
        assert time.monotonic() - back < RESUME_GRACE + 2.0, "a new grace began with the leader"
    finally:
        await db.close()
        await stranded.close()
    await check_invariants(cluster.database_url, items)


async def _state_of(db: Database, character_id: int) -> str:
    state = await db.fetchval(
        "SELECT state FROM characters.player_assignments WHERE character_id = $1", character_id
    )
    return str(state)
