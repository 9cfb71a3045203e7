"""A playable cluster, checked as players would: real processes, sockets, tickets."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import time

import aiohttp
import msgspec
import psutil
import pytest
from invariants import fetch

from realmkit.auth.tickets import Audience, TicketSigner
from realmkit.client.game import GameClient, world_position
from realmkit.client.login import LoginClient
from realmkit.errors import RemoteError
from realmkit.protocol.client import CLOSE_REPLACED, ErrorFrame, Hello
from realmkit.protocol.inputs import Say

WAIT = 20.0
KIND_CREATURE = 2


async def _player(http: aiohttp.ClientSession, cluster, name: str) -> tuple[LoginClient, int]:
    api = LoginClient(cluster.login_url, http)
    await api.register_or_login(f"acct_{name.lower()}", "correct-horse-battery")
    realm = (await api.realms())[0]
    character = await api.character(realm.realm_id, name)
    return api, character.character_id


async def _enter(http, cluster, name: str, gateway: int) -> GameClient:
    api, character_id = await _player(http, cluster, name)
    ticket = await api.ticket(character_id)
    client = await GameClient.connect(http, cluster.gateways[gateway], ticket.ticket)
    async with asyncio.timeout(WAIT):
        while client.me() is None:
            await client.wait_frame()
    return client


async def _walk(client: GameClient, x: float, y: float, until) -> None:  # type: ignore[no-untyped-def]
    """Walk towards (x, y) at 6 u/s, 10 steps a second, until ``until()`` holds."""
    async with asyncio.timeout(WAIT):
        while not until():
            await client.walk_towards(x, y, speed=6.0, step_seconds=0.1)
            await asyncio.sleep(0.1)  # the client's own pace: ten reports a second


async def test_players_on_two_gateways_see_each_other_and_creatures(http, cluster) -> None:
    """Two clients through different gateways see each other move, and see creatures."""
    a = await _enter(http, cluster, "Aria", gateway=0)
    b = await _enter(http, cluster, "Bran", gateway=1)
    try:
        async with asyncio.timeout(WAIT):
            while b.character_id not in a.visible() or a.character_id not in b.visible():
                await a.wait_frame()
        before = world_position(a.visible()[b.character_id])
        bx, by, _, _ = b.position
        await _walk(
            b,
            bx + 5,
            by,
            lambda: world_position(a.visible()[b.character_id])[0] >= before[0] + 4.5,
        )
        # The nearest creatures graze about 100 units west-south-west of the start.
        await _walk(
            a,
            150.0,
            240.0,
            lambda: any(row.kind == KIND_CREATURE for row in a.visible().values()),
        )
    finally:
        await a.close()
        await b.close()


async def test_reconnect_puts_the_character_back(http, cluster) -> None:
    """A dropped socket and a new ticket bring the character back where it left."""
    client = await _enter(http, cluster, "Cato", gateway=0)
    x, y, _, _ = client.position
    target = (x + 10.0, y + 3.0)
    await _walk(client, *target, lambda: math.dist(world_position(client.me())[:2], target) < 0.2)
    await client.close()
    again = await _enter(http, cluster, "Cato", gateway=1)
    try:
        assert math.dist(world_position(again.me())[:2], target) < 0.2
    finally:
        await again.close()


async def test_a_second_login_elsewhere_closes_the_first_socket(http, cluster) -> None:
    """The same character entering through the other gateway closes its first socket
    with "connected elsewhere" (4002), whichever gateway holds it; the second plays."""
    first = await _enter(http, cluster, "Hana", gateway=0)
    try:
        second = await _enter(http, cluster, "Hana", gateway=1)
        try:
            async with asyncio.timeout(WAIT):
                await first.closed.wait()
            assert first.close_code == CLOSE_REPLACED
            x, y, _, _ = second.position
            await _walk(second, x + 3.0, y, lambda: world_position(second.me())[0] >= x + 2.5)
            assert not second.closed.is_set()
        finally:
            await second.close()
    finally:
        await first.close()


async def test_forged_expired_and_replayed_tickets_are_refused(http, cluster) -> None:
    """Only a fresh ticket signed by a login replica works, and only once."""
    api, character_id = await _player(http, cluster, "Dara")
    forger = TicketSigner()  # a key pair the cluster never published
    forged = forger.issue(Audience.WORLD, account_id=1, character_id=character_id, now=time.time())
    with pytest.raises(RemoteError) as caught:
        await GameClient.connect(http, cluster.gateways[0], forged)
    assert caught.value.remote_code == "AUTH_INVALID"
    ticket = await api.ticket(character_id)
    client = await GameClient.connect(http, cluster.gateways[0], ticket.ticket)
    await client.close()
    with pytest.raises(RemoteError) as caught:
        await GameClient.connect(http, cluster.gateways[1], ticket.ticket)
    assert caught.value.remote_code == "AUTH_REPLAYED"
    session = await api.login("acct_dara", "correct-horse-battery")
    assert session.token
    expired = forger.issue(Audience.WORLD, account_id=1, character_id=1, now=time.time() - 600)
    with pytest.raises(RemoteError):
        await GameClient.connect(http, cluster.gateways[0], expired)


async def test_bad_password_is_refused_then_limited(http, cluster) -> None:
    """Wrong passwords are refused; the sixth attempt in a minute is rate-limited."""
    api = LoginClient(cluster.login_url, http)
    await api.register("acct_erin", "correct-horse-battery")
    codes = []
    for _ in range(6):
        with pytest.raises(RemoteError) as caught:
            await api.login("acct_erin", "wrong-password!")
        codes.append(caught.value.remote_code)
    assert codes == ["BAD_CREDENTIALS"] * 5 + ["RATE_LIMITED"]


async def test_abusive_client_is_cut_off_and_others_play_on(http, cluster) -> None:
    """Garbage, wrong types, oversized frames and a flood hit one client only."""
    nodes_before = _node_pids(cluster.pid)
    assert len(nodes_before) == 9  # the node file of conftest.py
    good = await _enter(http, cluster, "Fynn", gateway=0)
    try:
        bad = await _enter(http, cluster, "Gwen", gateway=0)
        await bad.ws.send_bytes(b"\xc1\xc1 not msgpack")
        await bad.ws.send_bytes(msgspec.msgpack.encode({"t": "teleport", "x": 1}))
        await bad.ws.send_bytes(msgspec.msgpack.encode(Hello("again")))
        errors = []
        async with asyncio.timeout(WAIT):
            while len(errors) < 3:
                event = await bad.events.get()
                if isinstance(event, ErrorFrame):
                    errors.append(event.code)
        assert set(errors) == {"BAD_MESSAGE"}
        await bad.ws.send_bytes(b"x" * 100_000)  # over the gateway's frame limit
        async with asyncio.timeout(WAIT):
            await bad.closed.wait()
        flooder = await _enter(http, cluster, "Hale", gateway=0)
        for _ in range(2000):
            if flooder.ws.closed:
                break
            try:
                await flooder.ws.send_bytes(msgspec.msgpack.encode(Say("spam")))
            except aiohttp.ClientConnectionResetError:
                break  # the gateway closed it (its close frame is on its way to us)
        async with asyncio.timeout(WAIT):
            await flooder.closed.wait()
        assert flooder.ws.close_code == 1008
        frames = good.frames
        x, y, _, _ = good.position
        await _walk(good, x + 3, y, lambda: good.frames > frames + 20)
        assert math.dist(world_position(good.me())[:2], (x + 3, y)) < 0.5
    finally:
        await good.close()
    assert _node_pids(cluster.pid) == nodes_before  # no node crashed or was restarted


def _node_pids(pid: int) -> dict[str, int]:
    """Node name -> pid of the cluster's running node processes."""
    found = {}
    for child in psutil.Process(pid).children():
        try:
            cmd = child.cmdline()
        except psutil.Error:  # just exited, not yet reaped
            continue
        if "node" in cmd:
            found[cmd[cmd.index("node") + 1]] = child.pid
    return found


async def test_killed_world_node_is_restarted(http, cluster, eventually) -> None:
    """SIGKILL a world node: the reviver starts it again and it reports ready."""

    def world_pids() -> dict[str, int]:
        return {n: p for n, p in _node_pids(cluster.pid).items() if n.startswith("world-")}

    before = world_pids()
    os.kill(before["world-2"], signal.SIGKILL)
    log = cluster.data_dir / "logs" / "world-2.log"

    async def restarted() -> bool:
        return world_pids().get("world-2") not in (None, before["world-2"]) and (
            log.read_text().count("world-2 ready") >= 2
        )

    await eventually(restarted, WAIT, "world-2 restarted and ready")
    assert world_pids()["world-1"] == before["world-1"]


@pytest.mark.slow
async def test_light_bots_walk_and_count_frames_in_a_measuring_window(  # type: ignore[no-untyped-def]
    cluster, run_realmkit, eventually
) -> None:
    """`realmkit bots -n 4 --probes 1`: one full client and three light ones enter and
    walk (their saved positions leave the start: the server took their moves); a
    SIGUSR1 starts the measuring window, and the summary (Ctrl-C) covers it: frames
    and bytes for the four, latencies from the acks of all and of the probe, no
    error."""
    proc = run_realmkit(
        "bots",
        "-n",
        "4",
        "--probes",
        "1",
        "--tag",
        "light",
        "--spread",
        "60",
        "--login",
        cluster.login_url,
        "--json",
        env={"REALMKIT_CONFIG": str(cluster.node_file)},
    )
    started: dict[str, tuple[float, float]] = {}

    async def all_walked() -> bool:
        rows = await fetch(
            cluster.database_url,
            "SELECT c.name, c.pos_x, c.pos_y FROM characters.characters c "
            "JOIN characters.player_assignments a USING (character_id) "
            "WHERE c.name LIKE 'Botlight%' AND a.state = 'in_world'",
        )
        for r in rows:
            started.setdefault(r["name"], (r["pos_x"], r["pos_y"]))
        moved = {
            r["name"] for r in rows if math.dist((r["pos_x"], r["pos_y"]), started[r["name"]]) > 5.0
        }
        return len(moved) == 4

    await eventually(all_walked, 3 * WAIT, "four bots in the world, each walked 5 units")
    proc.send_signal(signal.SIGUSR1)
    await asyncio.sleep(2.0)  # the window's length (a measurement, not a condition)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, stderr
    summary = msgspec.json.decode(stdout)
    assert summary["entered"] == 4
    assert summary["errors"] == 0, summary["last_error"]
    assert summary["windowed"] is True
    assert 2.0 <= summary["seconds"] < WAIT  # the window, not the whole run
    assert summary["frames_per_second"] > 4 * 5  # four bots, frames at 10 Hz
    assert summary["bytes_per_second_per_bot"] > 0
    assert summary["latency_p99_ms"] > 0
    assert summary["probe_latency_p99_ms"] > 0


@pytest.mark.slow
async def test_bots_come_back_with_refresh_tokens(cluster, run_realmkit, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`realmkit bots --tokens FILE` twice: the first swarm logs in with passwords and
    leaves a refresh token per account in the file (private to the user); the
    second logs in with those, no password, and leaves the next ones."""
    tokens = tmp_path / "tokens.json"

    def swarm() -> dict:  # type: ignore[type-arg]
        proc = run_realmkit(
            "bots",
            "-n",
            "2",
            "--tag",
            "tok",
            "--tokens",
            str(tokens),
            "--duration",
            "4",
            "--login",
            cluster.login_url,
            "--json",
            env={"REALMKIT_CONFIG": str(cluster.node_file)},
        )
        stdout, stderr = proc.communicate(timeout=3 * WAIT)
        assert proc.returncode == 0, stderr
        return msgspec.json.decode(stdout)  # type: ignore[no-any-return]

    first = await asyncio.to_thread(swarm)
    assert (first["entered"], first["refreshed"], first["errors"]) == (2, 0, 0)
    held = msgspec.json.decode(tokens.read_bytes())
    assert sorted(held) == ["bot_tok_0", "bot_tok_1"]
    assert tokens.stat().st_mode & 0o077 == 0
    second = await asyncio.to_thread(swarm)
    assert (second["entered"], second["refreshed"], second["errors"]) == (2, 2, 0)
    after = msgspec.json.decode(tokens.read_bytes())
    assert all(after[a] != held[a] for a in held)  # used up, the next ones left
