"""Logins at scale on a local cluster (issue 16, item 4).

One fresh cluster (`realmkit up`: login, 2 gateways, orchestrator, 2 world
nodes) in a temporary folder on free loopback ports; the clients run in this
process. In order:

1. password logins offered at `--offered` a second for `--seconds` (open loop:
   each starts on its schedule, whether the earlier ones were answered or not),
   to `--accounts` accounts registered first: answered, errors (503s: the
   bounded line turned them away), latency p50/p99, and the login node's CPU;
2. refresh-token logins for `--seconds`, `--workers` at a time, each worker
   using the token its last login returned: logins a second, latency, and the
   login node's CPU, so logins per second per core of the login node.

The password logins come from `--addresses` loopback addresses (127.0.0.2 and
up), as players do from many: the line admits at most 100 waiting from one
address. The load generator shares the machine with the cluster: the figures
per core are the login node's own CPU, from its process (PostgreSQL's work for
each login, a transaction per refresh, is not in them).

    .venv/bin/python bench/logins.py --accounts 300 --offered 100 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

import aiohttp
import psutil

from cluster_ccu import ROLES
from instances import pct
from local_cluster import LocalCluster
from realmkit.client.login import LoginClient
from realmkit.errors import RemoteError

PASSWORD = "bench-password-1"  # noqa: S105 - throwaway accounts of a bench cluster


def login_cpu(cluster: LocalCluster) -> float:
    t = cluster.server_processes()["login"].cpu_times()
    return t.user + t.system


async def register(base: str, http: aiohttp.ClientSession, accounts: int) -> dict[str, str]:
    """Every account registered (10 at a time): account -> its refresh token."""
    tokens: dict[str, str] = {}
    gate = asyncio.Semaphore(10)

    async def one(n: int) -> None:
        async with gate:
            api = LoginClient(base, http)
            await api.register_or_login(f"bench_{n}", PASSWORD)
            tokens[f"bench_{n}"] = api.refresh_token

    await asyncio.gather(*(one(n) for n in range(accounts)))
    return tokens


async def passwords(
    base: str, sessions: list[aiohttp.ClientSession], accounts: int, offered: float, seconds: float
) -> tuple[list[float], int]:
    """Password logins started on schedule, spread over ``sessions`` (each from its own
    address): (latencies of the answered, errors)."""
    took: list[float] = []
    errors = 0

    async def one(n: int) -> None:
        nonlocal errors
        await asyncio.sleep(n / offered)
        started = time.monotonic()
        http = sessions[n % len(sessions)]
        try:
            await LoginClient(base, http).login(f"bench_{n % accounts}", PASSWORD)
            took.append(time.monotonic() - started)
        except (RemoteError, aiohttp.ClientError, TimeoutError):
            errors += 1

    await asyncio.gather(*(one(n) for n in range(int(offered * seconds))))
    return took, errors


async def refreshes(
    base: str, http: aiohttp.ClientSession, tokens: dict[str, str], workers: int, seconds: float
) -> tuple[list[float], int]:
    """Token logins, ``workers`` at a time for ``seconds``: (latencies, errors)."""
    took: list[float] = []
    errors = 0
    held = list(tokens.items())
    deadline = time.monotonic() + seconds

    async def worker(w: int) -> None:
        nonlocal errors
        mine = held[w::workers]
        i = 0
        while time.monotonic() < deadline and mine:
            account, token = mine[i % len(mine)]
            api = LoginClient(base, http)
            started = time.monotonic()
            try:
                await api.refresh(token)
                took.append(time.monotonic() - started)
                mine[i % len(mine)] = (account, api.refresh_token)
            except (RemoteError, aiohttp.ClientError, TimeoutError):
                errors += 1
            i += 1

    await asyncio.gather(*(worker(w) for w in range(workers)))
    return took, errors


async def measure(args: argparse.Namespace, cluster: LocalCluster) -> None:
    base = cluster.login.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=30)
    sessions = [
        aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, local_addr=(f"127.0.0.{2 + i}", 0)),
            timeout=timeout,
        )
        for i in range(args.addresses)
    ]
    try:
        await _measure(args, cluster, base, sessions)
    finally:
        for session in sessions:
            await session.close()


async def _measure(
    args: argparse.Namespace,
    cluster: LocalCluster,
    base: str,
    sessions: list[aiohttp.ClientSession],
) -> None:
    http = sessions[0]
    tokens = await register(base, http, args.accounts)
    print(f"registered {len(tokens)} accounts", flush=True)
    for name, work in (
        (
            "password logins",
            passwords(base, sessions, args.accounts, args.offered, args.seconds),
        ),
        ("refresh-token logins", refreshes(base, http, tokens, args.workers, args.seconds)),
    ):
        cpu, wall = login_cpu(cluster), time.monotonic()
        psutil.cpu_percent(None)
        took, errors = await work
        wall, cpu = time.monotonic() - wall, login_cpu(cluster) - cpu
        rate = len(took) / wall
        share = cpu / wall
        ms = [1000 * t for t in took]
        print(
            f"{name}: {len(took)} answered in {wall:.1f} s ({rate:.0f}/s), {errors} errors, "
            f"p50 {pct(ms, 0.5):.1f} ms, p99 {pct(ms, 0.99):.1f} ms; login node "
            f"{100 * share:.0f}% of a core = {rate / max(share, 1e-9):.0f} a second per "
            f"core; machine {psutil.cpu_percent(None):.0f}% busy, load "
            f"{os.getloadavg()[0]:.2f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=300)
    parser.add_argument("--offered", type=float, default=100.0, help="password logins a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=32, help="token logins in flight")
    parser.add_argument(
        "--addresses", type=int, default=16, help="loopback addresses the password logins use"
    )
    args = parser.parse_args()
    cluster = LocalCluster(ROLES, "realmkit-logins-")
    try:
        cluster.start()
        asyncio.run(measure(args, cluster))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
