"""From a match accepted to every player in its instance, on a local cluster (issue 6).

One fresh cluster (`realmkit up`: login, 2 gateways, 2 orchestrators, 2
matchmakers, 2 world nodes) in a temporary folder on free loopback ports, and
`--players` clients in this process on the two classic realms of the default
pool (Azure and Crimson, alternately), spread over the four activities:
battleground (10 v 10), arena 2v2, arena 3v3 and dungeon finder (1 tank, 1
healer, 3 damage). Every player queues, accepts its proposal (at once, or
after 0 to `--think` seconds, as people do), and is transferred into the
pool's instance. Per match: the time from the last member's `match_accept`
to the last member's `new_world` in the instance.
Matches last `--match-seconds`; everyone then comes home.

    .venv/bin/python bench/matchmaking.py --players 200

The rules' own throughput (one core, no I/O) is `bench/matchmaking_rules.py`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

import aiohttp

from instances import enter_all, figures
from local_cluster import LocalCluster
from realmkit.client.game import GameClient
from realmkit.protocol.client import RoleName

ROLES = [
    ("login", "login"),
    ("gateway-1", "gateway"),
    ("gateway-2", "gateway"),
    ("orchestrator-1", "orchestrator"),
    ("orchestrator-2", "orchestrator"),
    ("matchmaker-1", "matchmaker"),
    ("matchmaker-2", "matchmaker"),
    ("world-1", "world"),
    ("world-2", "world"),
]
# Share of the players per activity, and the group size of each.
MIX = [("battleground", 0.4, 20), ("arena2v2", 0.2, 4), ("arena3v3", 0.2, 6), ("dungeon", 0.2, 5)]
DUNGEON_ROLES: list[tuple[RoleName, ...]] = [("tank",), ("healer",), ("damage",)] + [
    ("damage",)
] * 2


def plan(players: int) -> list[tuple[str, tuple[RoleName, ...]]]:
    """(activity, roles) per player, whole groups only."""
    out: list[tuple[str, tuple[RoleName, ...]]] = []
    for activity, share, size in MIX:
        groups = max(1, round(players * share / size))
        for i in range(groups * size):
            roles = DUNGEON_ROLES[i % 5] if activity == "dungeon" else ()
            out.append((activity, roles))
    return out


class Player:
    def __init__(
        self, client: GameClient, activity: str, roles: tuple[RoleName, ...], think: float
    ) -> None:
        self.client = client
        self.think = think
        self.activity = activity
        self.roles = roles
        self.match_id = 0
        self.accepted_at = 0.0
        self.arrived_at = 0.0
        self.home_at = 0.0

    async def play(self, timeout: float) -> None:
        c = self.client
        async with asyncio.timeout(timeout):
            await c.queue_join(self.activity, self.roles)
            proposal = await c.proposals.get()
            self.match_id = proposal.match_id
            transfers = c.transfers
            await asyncio.sleep(self.think)
            self.accepted_at = time.monotonic()
            await c.accept(proposal.match_id)
            while c.transfers == transfers:
                await c.moved.wait()
                c.moved.clear()
            self.arrived_at = time.monotonic()
            await c.results.get()
            while c.transfers < transfers + 2:
                await c.moved.wait()
                c.moved.clear()
            self.home_at = time.monotonic()


async def measure(args: argparse.Namespace, cluster: LocalCluster) -> None:
    _, database_url = cluster.urls()
    wanted = plan(args.players)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        print(f"{len(wanted)} players entering...")
        clients = await enter_all(
            http, cluster.login.rstrip("/"), database_url, len(wanted), prefix="queue", realms=2
        )
        rng = random.Random(7)
        players = [
            Player(c, a, r, rng.uniform(0.0, args.think))
            for c, (a, r) in zip(clients, wanted, strict=True)
        ]
        print("queueing, accepting, playing...")
        started = time.monotonic()
        await asyncio.gather(*(p.play(args.match_seconds + 60) for p in players))
        print(f"every match played and everyone home in {time.monotonic() - started:.1f} s")
        by_match: dict[int, list[Player]] = {}
        for p in players:
            by_match.setdefault(p.match_id, []).append(p)
        latencies = [
            max(p.arrived_at for p in group) - max(p.accepted_at for p in group)
            for group in by_match.values()
        ]
        counts = {a: len({p.match_id for p in players if p.activity == a}) for a, _, _ in MIX}
        print(f"matches: {len(by_match)} {counts}")
        print(figures("accepted -> all players in the instance", latencies))
        for c in clients:
            await c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--players", type=int, default=200, help="about this many players")
    parser.add_argument("--match-seconds", type=float, default=15.0, help="each match's length")
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="each player accepts its proposal after 0 to this many seconds (default: at once)",
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the nodes' logs here")
    args = parser.parse_args()
    settings = (
        '[scaling]\nlauncher = "none"\n\n'
        f"[matchmaking]\nmatch_time_limit = {args.match_seconds}\n\n"
    )
    cluster = LocalCluster(ROLES, "realmkit-matchmaking-", settings)
    try:
        cluster.start()
        asyncio.run(measure(args, cluster))
    finally:
        cluster.stop(args.keep_logs)


if __name__ == "__main__":
    main()
