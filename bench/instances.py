"""Transfers, crash recovery, drain and leader failover on a local cluster (issue 5).

One fresh cluster (`realmkit up`: login, 2 gateways, 2 orchestrators, 2 world
nodes) in a temporary folder on free loopback ports, and `--players` clients
in this process, scattered over a 600 x 600 area of the continent. Then, in
order:

1. transfer latency: `--movers` players in groups of 5 go back and forth
   between the continent and a dungeon instance per group (`MoveToInstance`),
   one player of each group at a time (so as many transfers at once as there
   are groups); the time from the request to the client's `new_world`, and to
   its first frame showing itself;
2. recovery: SIGKILL the continent's world node; per player, the time from
   the kill until it has `new_world` and a frame showing itself again, and
   how many sockets closed;
3. realm restart: the players' realm restarts now (as `realmkit realm restart
   REALM --in 0`); per player, the time from the ask until it has `new_world`
   and a frame showing itself again, how many sockets closed, and the time the
   leader took (the restart's row);
4. drain: `DrainNode` on the node now hosting the continent: seconds per space
   moved (live migration, players on board);
5. leader failover: SIGKILL the orchestrator leader, time until another replica
   holds the leader lock (`--failovers` times).

    .venv/bin/python bench/instances.py --players 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import aiohttp
import asyncpg

from local_cluster import LocalCluster
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.client.game import GameClient
from realmkit.client.login import LoginClient
from realmkit.nodes.orchestrator.leader import LEADER_LOCK
from realmkit.protocol.cluster import (
    Drained,
    DrainNode,
    InstanceInfo,
    MoveToInstance,
    Placement,
    RequestInstance,
)
from realmkit.store.postgres import Database, lock_holder
from realmkit.store.restarts import RestartRepo

ROLES = [
    ("login", "login"),
    ("gateway-1", "gateway"),
    ("gateway-2", "gateway"),
    ("orchestrator-1", "orchestrator"),
    ("orchestrator-2", "orchestrator"),
    ("world-1", "world"),
    ("world-2", "world"),
]
DUNGEON = 2
GROUP = 5  # a dungeon's capacity


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def figures(name: str, seconds: list[float]) -> str:
    ms = [1000 * s for s in seconds]
    return (
        f"{name}: n={len(ms)} p50={pct(ms, 0.5):.1f} ms p99={pct(ms, 0.99):.1f} ms "
        f"max={max(ms, default=float('nan')):.1f} ms"
    )


async def wait_until(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)  # polling another process's state


async def sees_itself(client: GameClient) -> None:
    while client.world is None or client.me() is None:
        await client.wait_frame()


async def enter_all(  # type: ignore[no-untyped-def]
    http,
    login: str,
    database_url: str,
    count: int,
    *,
    prefix: str = "bench",
    realms: int = 1,
    spots: list[tuple[float, float]] | None = None,
) -> list[GameClient]:
    """``count`` players scattered over the continent (or standing at ``spots``), on
    the first ``realms`` realms in turn, each in the world and seeing itself."""
    apis, ids = [], []
    for i in range(count):
        api = LoginClient(login, http)
        await api.register_or_login(f"{prefix}_{i}", f"{prefix}-password-{i}")
        realm = (await api.realms())[i % realms]
        name = prefix.capitalize() + "".join(chr(97 + int(d)) for d in str(i))
        ids.append((await api.character(realm.realm_id, name)).character_id)
        apis.append(api)
    conn = await asyncpg.connect(database_url)
    try:
        if spots is None:
            await conn.execute(
                "UPDATE characters.characters SET map_id = 1, pos_x = 300 + random() * 600, "
                "pos_y = 300 + random() * 600, pos_z = 10 WHERE character_id = ANY($1::bigint[])",
                ids,
            )
        for character_id, (x, y) in zip(ids, spots or [], strict=False):
            await conn.execute(
                "UPDATE characters.characters SET map_id = 1, pos_x = $2, pos_y = $3, "
                "pos_z = 10 WHERE character_id = $1",
                character_id,
                x,
                y,
            )
    finally:
        await conn.close()
    clients = []
    for api, character_id in zip(apis, ids, strict=True):
        ticket = await api.ticket(character_id)
        clients.append(await GameClient.connect(http, ticket.gateway_url, ticket.ticket))
    async with asyncio.timeout(60):
        await asyncio.gather(*(sees_itself(c) for c in clients))
    return clients


async def transfers(bus: NatsBus, clients: list[GameClient], rounds: int) -> None:
    groups = [clients[i : i + GROUP] for i in range(0, len(clients), GROUP)]
    assert clients[0].world is not None
    continent = clients[0].world.instance_id
    to_frame: list[float] = []
    to_new_world: list[float] = []

    async def move(client: GameClient, target: int, spawn: str) -> None:
        client.moved.clear()
        started = time.perf_counter()
        await bus.request(
            subjects.ORCHESTRATOR_REQUESTS,
            MoveToInstance(client.character_id, target, spawn),
            Placement,
            timeout=10,
        )
        await client.moved.wait()  # set by new_world
        to_new_world.append(time.perf_counter() - started)
        await sees_itself(client)
        to_frame.append(time.perf_counter() - started)

    async def group_trips(group: list[GameClient]) -> None:
        realm = 1
        dungeon = await bus.request(
            subjects.ORCHESTRATOR_REQUESTS,
            RequestInstance("classic", DUNGEON, 1, realm),
            InstanceInfo,
            timeout=20,
        )
        for _ in range(rounds):
            for c in group:  # one at a time per group; groups move at once
                await move(c, dungeon.instance_id, "entrance")
            for c in group:
                await move(c, continent, "start")

    await asyncio.gather(*(group_trips(g) for g in groups))
    print(figures("transfer, request to new_world", to_new_world))
    print(figures("transfer, request to first frame in the new space", to_frame))


async def continent_node(database_url: str) -> str:
    """The world node running the (ready) continent."""
    db = await Database.connect(database_url, max_size=2)
    try:
        async with db.connection() as conn:
            node: str = await conn.fetchval(
                "SELECT node_id FROM characters.instances WHERE kind = 'continent' "
                "AND state = 'ready'"
            )
    finally:
        await db.close()
    return node


async def back_in_play(
    clients: list[GameClient], since: float, timeout: float = 60.0
) -> list[float]:
    """Seconds from ``since`` until each client has its next ``new_world`` and a frame
    showing itself (clients not back within ``timeout`` are left out)."""
    before = {c.character_id: c.transfers for c in clients}
    back: list[float] = []

    async def one(client: GameClient) -> None:
        while client.transfers == before[client.character_id]:
            await client.wait_frame()
        await sees_itself(client)
        back.append(time.perf_counter() - since)

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await asyncio.gather(*(one(c) for c in clients))
    return back


async def recovery(cluster: LocalCluster, database_url: str, clients: list[GameClient]) -> None:
    node = await continent_node(database_url)
    killed = time.perf_counter()
    coming_back = asyncio.create_task(back_in_play(clients, killed))
    await asyncio.sleep(0)  # counting from the transfers each client has now
    os.kill(cluster.node_pid(node), signal.SIGKILL)
    back = await coming_back
    closed = sum(c.closed.is_set() for c in clients)
    print(f"recovery after SIGKILL of {node} with {len(clients)} players in its continent:")
    print("  " + figures("back in play", back) + f"; not back: {len(clients) - len(back)}")
    print(f"  sockets closed: {closed}")


async def realm_restart(database_url: str, clients: list[GameClient]) -> None:
    db = await Database.connect(database_url, max_size=2)
    repo = RestartRepo(db)
    try:
        async with db.connection() as conn:
            realm_id: int = await conn.fetchval(
                "SELECT realm_id FROM characters.characters WHERE character_id = $1",
                clients[0].character_id,
            )
        asked_at = time.perf_counter()
        coming_back = asyncio.create_task(back_in_play(clients, asked_at))
        await asyncio.sleep(0)  # counting from the transfers each client has now
        asked = await repo.schedule(realm_id, 0)
        back = await coming_back

        async def finished() -> bool:
            return (await repo.get(asked.restart_id)).finished_at is not None

        await wait_until(finished, 60, "the restart's end")
        done = await repo.get(asked.restart_id)
    finally:
        await db.close()
    closed = sum(c.closed.is_set() for c in clients)
    print(f"realm restart with {len(clients)} players: {done.state.value}, {done.spaces} spaces,")
    print(f"  {done.players} players seated back, leader's time {done.detail}")
    print("  " + figures("ask to back in play", back) + f"; not back: {len(clients) - len(back)}")
    print(f"  sockets closed: {closed}")


async def drain(bus: NatsBus, database_url: str) -> None:
    node = await continent_node(database_url)
    started = time.perf_counter()
    drained = await bus.request(
        subjects.ORCHESTRATOR_REQUESTS, DrainNode(node), Drained, timeout=120
    )
    wall = time.perf_counter() - started
    print(f"drain {node}: {len(drained.spaces)} spaces in {wall:.3f} s")
    for m in drained.spaces:
        print(f"  instance {m.instance_id} -> {m.to_node}: {m.players} players, {m.seconds:.3f} s")


async def failover(cluster: LocalCluster, database_url: str, times: int) -> None:
    db = await Database.connect(database_url, max_size=2)
    took = []
    try:
        for _ in range(times):

            async def led() -> bool:
                return await lock_holder(db, LEADER_LOCK) is not None

            await wait_until(led, 30, "a leader")
            leader = await lock_holder(db, LEADER_LOCK)
            assert leader is not None
            killed = time.perf_counter()
            os.kill(cluster.node_pid(leader), signal.SIGKILL)

            async def other(old: str = leader) -> bool:
                holder = await lock_holder(db, LEADER_LOCK)
                return holder not in (None, old)

            await wait_until(other, 30, "another leader")
            took.append(time.perf_counter() - killed)
            await asyncio.sleep(3)  # the reviver restarts the killed replica meanwhile
    finally:
        await db.close()
    print(figures("leader failover (SIGKILL to the new leader holding the lock)", took))


async def measure(args: argparse.Namespace, cluster: LocalCluster) -> None:
    nats_url, database_url = cluster.urls()
    login = cluster.login.rstrip("/")
    bus = await NatsBus.connect(nats_url, name="bench")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        print(f"{args.players} players entering...")
        clients = await enter_all(http, login, database_url, args.players)
        await transfers(bus, clients[: args.movers], args.rounds)
        await recovery(cluster, database_url, clients)
        await realm_restart(database_url, clients)
        await drain(bus, database_url)
        await failover(cluster, database_url, args.failovers)
        for c in clients:
            await c.close()
    await bus.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=200)
    parser.add_argument("--movers", type=int, default=20, help="players doing transfers")
    parser.add_argument("--rounds", type=int, default=5, help="round trips per mover")
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--keep-logs", type=Path, help="copy the nodes' logs here")
    args = parser.parse_args()
    cluster = LocalCluster(ROLES, "realmkit-instances-")
    try:
        cluster.start()
        asyncio.run(measure(args, cluster))
    finally:
        cluster.stop(args.keep_logs)


if __name__ == "__main__":
    main()
