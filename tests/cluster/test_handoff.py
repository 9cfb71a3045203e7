"""A gateway stopping (SIGTERM: a rolling restart) hands its players to the other one:
told to reconnect, they resume by themselves where they were, nobody logged out."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import urllib.request

import msgspec
from cluster_procs import node_pid
from invariants import fetch
from test_instances import enter_at
from test_recovery import plays

from realmkit.client.game import GameClient, world_position

WAIT = 20.0


async def _seat(cluster, client: GameClient) -> dict[str, object]:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT state, instance_id, gateway_id FROM characters.player_assignments "
        "WHERE character_id = $1",
        client.character_id,
    )
    return dict(rows[0])


async def test_stopped_gateway_hands_its_players_to_another(http, cluster, eventually) -> None:
    """SIGTERM gateway-1: its player is told to reconnect (closed with 4003), resumes
    through gateway-2 by itself, finds its character where it was, never logged out,
    and keeps receiving frames."""
    client = await enter_at(http, cluster, "Handed", (300.0, 300.0), gateway=0)
    try:
        client.follow(cluster.gateways)
        await plays(client)
        seat = await _seat(cluster, client)
        assert seat["state"] == "in_world"
        assert seat["gateway_id"] == "gateway-1"
        character_id = client.character_id
        me = client.me()
        assert me is not None
        where = world_position(me)
        token = client.resume_token

        os.kill(node_pid(cluster.pid, "gateway-1"), signal.SIGTERM)

        async def resumed() -> bool:
            return client.resumes == 1

        await eventually(resumed, WAIT, "the client resumed by itself")
        assert client.reconnects == 1, "the gateway said where to reconnect"
        assert not client.closed.is_set()
        assert client.character_id == character_id
        assert client.resume_token != token  # a fresh token with the new new_world
        after = await _seat(cluster, client)
        assert after["state"] == "in_world", "logged out"
        assert after["instance_id"] == seat["instance_id"]
        assert after["gateway_id"] == "gateway-2"
        frames = client.frames
        async with asyncio.timeout(WAIT):
            while (row := client.me()) is None:
                await client.wait_frame()
        assert math.dist(world_position(row), where) < 1.0, "resumed somewhere else"
        await plays(client)
        assert client.frames > frames

        async def gateway_back() -> bool:
            try:
                node_pid(cluster.pid, "gateway-1")
            except LookupError:
                return False
            return True

        await eventually(gateway_back, WAIT, "the supervisor restarted gateway-1")
    finally:
        await client.close()


async def test_bots_keep_going_through_a_gateway_restart(  # type: ignore[no-untyped-def]
    cluster, run_realmkit, eventually
) -> None:
    """`realmkit bots -n 4 --probes 1` (full and light clients): SIGTERM the gateway
    holding most of them; they resume by themselves and walk on, none logged out, and
    the summary counts the resumes with no error."""

    async def login_ready() -> bool:
        def probe() -> bool:
            try:
                with urllib.request.urlopen(f"{cluster.login_url}/healthz", timeout=1) as resp:  # noqa: S310
                    return int(msgspec.json.decode(resp.read()).get("gateways", 0)) >= 2
            except OSError:
                return False

        return await asyncio.to_thread(probe)

    await eventually(login_ready, WAIT, "the login node hears from both gateways")
    proc = run_realmkit(
        "bots",
        "-n",
        "4",
        "--probes",
        "1",
        "--tag",
        "hand",
        "--login",
        cluster.login_url,
        "--json",
        env={"REALMKIT_CONFIG": str(cluster.node_file)},
    )
    seats: dict[str, str] = {}

    async def seated(exclude: str = "") -> bool:
        rows = await fetch(
            cluster.database_url,
            "SELECT c.name, a.gateway_id FROM characters.characters c "
            "JOIN characters.player_assignments a USING (character_id) "
            "WHERE c.name LIKE 'Bothand%' AND a.state = 'in_world'",
        )
        seats.clear()
        seats.update({r["name"]: r["gateway_id"] for r in rows})
        return len(seats) == 4 and exclude not in seats.values()

    await eventually(seated, 3 * WAIT, "four bots in the world")
    counts = {g: list(seats.values()).count(g) for g in ("gateway-1", "gateway-2")}
    busiest = max(counts, key=lambda g: counts[g])
    os.kill(node_pid(cluster.pid, busiest), signal.SIGTERM)

    at_move = await _positions(cluster)

    async def walked_on() -> bool:
        now = await _positions(cluster)
        return all(math.dist(now[name], at_move[name]) > 2.0 for name in at_move)

    await eventually(walked_on, 3 * WAIT, "every bot walked on after the restart")
    assert proc.poll() is None, "the swarm stopped"
    assert await seated(), f"a bot was logged out: {seats}"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, stderr
    summary = msgspec.json.decode(stdout)
    assert summary["entered"] == 4
    assert summary["resumes"] == counts[busiest], summary
    assert summary["errors"] == 0, summary["last_error"]


async def _positions(cluster) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    rows = await fetch(
        cluster.database_url,
        "SELECT name, pos_x, pos_y FROM characters.characters WHERE name LIKE 'Bothand%'",
    )
    return {r["name"]: (r["pos_x"], r["pos_y"]) for r in rows}


async def test_a_handed_off_player_who_never_comes_back_is_logged_out_after_the_grace(  # type: ignore[no-untyped-def]
    http, cluster, eventually
) -> None:
    """SIGTERM a gateway under a client that does not follow: it is told to reconnect,
    its character stays in the world at first (no leave), and is logged out (saved)
    only by the leader once the resume grace has passed."""

    def healthy(url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback
                return bool(resp.status == 200)
        except OSError:
            return False

    health = cluster.gateways[1].replace("ws://", "http://").replace("/ws", "/healthz")

    async def gateway_up() -> bool:
        return await asyncio.to_thread(healthy, health)

    await eventually(gateway_up, WAIT, "gateway-2 answers")
    client = await enter_at(http, cluster, "Wanderer", (320.0, 300.0), gateway=1)
    try:
        await plays(client)
        os.kill(node_pid(cluster.pid, "gateway-2"), signal.SIGTERM)
        async with asyncio.timeout(WAIT):
            await client.closed.wait()
        assert client.reconnects == 1
        assert client.resumes == 0
        assert (await _seat(cluster, client))["state"] == "in_world", "logged out at once"

        async def logged_out() -> bool:
            return (await _seat(cluster, client))["state"] == "offline"

        await eventually(logged_out, WAIT, "the player who never resumed logged out")
    finally:
        await client.close()
