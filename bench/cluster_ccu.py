"""How many bots a local cluster holds on this machine (issue 4's CCU benchmark).

For each bot count: a fresh cluster (`realmkit up`, the default roles: login,
2 gateways, orchestrator, 2 world nodes) in a temporary data folder on free
loopback ports, then `--bot-procs` bot processes sharing the count.

By default the realm is an established one: a first pass registers every
bot and enters the world once, then their characters are moved to random
places on the continent (as if they had logged out all over it, like the
sim bench's scenario (a)); the bots log in again and roam near where they
stand. With `--crowd` every bot starts on the start point and roams within
300 units of it (the dense worst case). After `--settle` seconds the window
is measured. Printed
per count: bots in the world, input-to-visible latency p50/p99 (the worst bot
process; and of the probes alone), world tick p99 (the worst world node, from
its load reports), frames and bytes per second per player, and CPU (% of one
core) over the measuring window: per process, per server role (login,
gateway, orchestrator, world with the nodes the scaler launched, NATS,
PostgreSQL with its backends; and how much of it was kernel time), the
server's total and per player in the
world, the bots apart, and the machine's busy share and load; and the resident
memory per role at the window's end, per player for gateways and world nodes. Frames, bytes
and latencies cover the window only (the bench marks its start in the bot
processes with SIGUSR1).

Most bots are light clients (`realmkit bots --probes`): they read each
frame's header (its ack, for latency) and count its bytes without decoding the
body, and walk without attacking, so the load generator takes little of the
machine; `--probes` bots per bot process are full clients that decode every
frame (default 10). `--full-clients` makes every bot a full one (the figures
before issue 16).

`--profile gateway-1,world-1` samples those server processes with py-spy over
the window and prints their top functions (raw stacks in `--profile-dir`).

With `--cells 2` or `--cells 4` the continent is split, once the bots are in
the world, into that many cells (a cut at x = `--border`, then for 4 each half
cut at y = `--border`), spread over the two world nodes; the tick p99 of each
cell is printed too. Cells change by hand only in these runs.

    .venv/bin/python bench/cluster_ccu.py --counts 100,250,500,1000 --duration 30
    .venv/bin/python bench/cluster_ccu.py --counts 600 --cells 2
    .venv/bin/python bench/cluster_ccu.py --counts 600 --cells 4 --crowd --border 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg
import psutil

from local_cluster import LocalCluster, realmkit
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.protocol.cluster import CellsChanged, GatewayLoad, SplitCell, WorldLoad

ROLES = [
    ("login", "login"),
    ("gateway-1", "gateway"),
    ("gateway-2", "gateway"),
    ("orchestrator-1", "orchestrator"),
    ("world-1", "world"),
    ("world-2", "world"),
]


def role_of(name: str) -> str:
    """The role a measured process plays (a launched world node is a world node)."""
    if name.startswith("postgres"):
        return "postgres"
    if name.startswith("bots-"):
        return "bots"
    roles = dict(ROLES)
    if name in roles:
        return roles[name]
    return "world" if name.startswith("world-") else name


def cpu_of(procs: dict[str, psutil.Process], *, kernel: bool = False) -> dict[str, float]:
    """CPU seconds used so far per process (with ``kernel``: in the kernel only, its
    system time: socket writes and reads, on loopback the receiver's TCP work too)."""
    out = {}
    for name, proc in procs.items():
        try:
            t = proc.cpu_times()
            out[name] = t.system if kernel else t.user + t.system
        except psutil.Error:
            out[name] = 0.0
    return out


def rss_of(procs: dict[str, psutil.Process]) -> dict[str, float]:
    """Resident bytes by role."""
    rss: dict[str, float] = {}
    for name, proc in procs.items():
        with contextlib.suppress(psutil.Error):
            rss[role_of(name)] = rss.get(role_of(name), 0.0) + proc.memory_info().rss
    return rss


def population(login: str) -> int:
    try:
        with urllib.request.urlopen(login + "api/realms", timeout=2) as resp:  # noqa: S310
            return sum(r["population"] for r in json.loads(resp.read()))
    except OSError:
        return -1


def wait_in_world(login: str, count: int, timeout: float, *, fewer: bool = False) -> int:
    """Wait until ``count`` characters (or, with ``fewer``, at most) are in the world."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = population(login)
        if (found <= count) if fewer else (found >= count):
            break
        time.sleep(1.0)
    return found


async def scatter_characters(database_url: str, timeout: float = 180.0) -> None:
    """Move every saved character to a random place on its continent (map 1), once
    every one has left the world (its last save written: it would undo the move).
    Characters still in the world after ``timeout`` are reported and left where
    they are."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        while await conn.fetchval(
            "SELECT count(*) FROM characters.player_assignments WHERE state <> 'offline'"
        ):
            if time.monotonic() > deadline:
                stuck = await conn.fetch(
                    "SELECT state, count(*) AS n, count(DISTINCT instance_id) AS spaces "
                    "FROM characters.player_assignments WHERE state <> 'offline' GROUP BY state"
                )
                print(
                    "warning: still in the world after the first pass: "
                    + ", ".join(f"{r['n']} {r['state']} in {r['spaces']} spaces" for r in stuck),
                    flush=True,
                )
                break
            await asyncio.sleep(0.5)  # their spaces are writing their last saves
        await conn.execute(
            "UPDATE characters.characters c SET pos_x = 40 + random() * 1960, "
            "pos_y = 40 + random() * 1960 WHERE map_id = 1 AND NOT EXISTS ("
            "  SELECT 1 FROM characters.player_assignments a "
            "  WHERE a.character_id = c.character_id AND a.state <> 'offline')"
        )
    finally:
        await conn.close()


async def world_tick_p99(
    nats_url: str, seconds: float, tail: float = 5.0
) -> tuple[float, dict[int, float], dict[str, float]]:
    """The worst tick p99 the world nodes report in the last ``tail`` of ``seconds``,
    the worst of each space, and each gateway's worst send delay p99 then.

    Each report covers the node's last 400 ticks (20 s at 20 Hz; a gateway's,
    its last 20,000 messages), so with a window of 25 s or more the reports in
    its tail cover only steady play.
    """
    bus = await NatsBus.connect(nats_url, name="bench")
    worst = 0.0
    spaces: dict[int, float] = {}
    sends: dict[str, float] = {}
    started = time.monotonic()

    async def on_gateway(load: GatewayLoad) -> None:
        if time.monotonic() - started >= seconds - tail:
            sends[load.gateway_id] = max(sends.get(load.gateway_id, 0.0), load.send_p99_ms)

    async def on_load(load: WorldLoad) -> None:
        nonlocal worst
        if time.monotonic() - started >= seconds - tail:
            worst = max(worst, load.tick_p99_ms)
            for space in load.space_loads:
                spaces[space.instance_id] = max(
                    spaces.get(space.instance_id, 0.0), space.tick_p99_ms
                )

    await bus.subscribe(subjects.WORLD_LOADS, WorldLoad, on_load)
    await bus.subscribe(subjects.GATEWAY_LOADS, GatewayLoad, on_gateway)
    await asyncio.sleep(seconds)
    await bus.close()
    return worst, spaces, sends


async def split_continent(nats_url: str, database_url: str, cells: int, border: float) -> None:
    """Cut the continent of the first realm into ``cells`` (1, 2 or 4) cells."""
    conn = await asyncpg.connect(database_url)
    try:
        realm_id = await conn.fetchval("SELECT min(realm_id) FROM auth.realmlist")
    finally:
        await conn.close()
    cuts = {1: [], 2: [(1, "x")], 4: [(1, "x"), (1, "y"), (2, "y")]}[cells]
    bus = await NatsBus.connect(nats_url, name="bench")
    try:
        for cell, axis in cuts:
            await bus.request(
                subjects.ORCHESTRATOR_REQUESTS,
                SplitCell(realm_id, 1, cell, axis, border),
                CellsChanged,
                timeout=30.0,
            )
    finally:
        await bus.close()


def start_profiles(
    servers: dict[str, psutil.Process],
    names: tuple[str, ...],
    duration: float,
    folder: Path | None,
    count: int,
    native: bool = False,
) -> dict[str, tuple[subprocess.Popen[bytes], Path]]:
    """py-spy on each named process (a server's, or bots-N) for the window (raw stacks
    to ``folder``; with ``native``, C frames too: the event loop's and the extensions'
    own time)."""
    spies: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
    if not names:
        return spies
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    assert folder is not None
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        proc = servers.get(name)
        if proc is None:
            print(f"warning: no process {name} to profile", flush=True)
            continue
        out = folder / f"{name}-{count}.txt"
        out.unlink(missing_ok=True)  # never a stale profile of an earlier run
        spies[name] = (
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "-p",
                    str(proc.pid),
                    "-d",
                    str(int(duration)),
                    "-r",
                    "100",
                    "-f",
                    "raw",
                    "-o",
                    str(out),
                    # py-spy pauses a process to read its C stack.
                    *(["--native"] if native else ["--nonblocking"]),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            out,
        )
    return spies


def finish_profiles(spies: dict[str, tuple[subprocess.Popen[bytes], Path]]) -> dict[str, object]:
    """Per profiled process: its busy samples (100 a second while busy) and the
    functions that take the most of them (by their own time and with callees)."""
    out: dict[str, object] = {}
    for name, (spy, path) in spies.items():
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
        if path.exists():
            out[name] = summarize_stacks(path)
    return out


def summarize_stacks(path: Path, top: int = 12) -> dict[str, object]:
    """The top functions of a py-spy raw file (``stack count`` lines; py-spy leaves a
    process waiting on its sockets out, so every sample is a busy one)."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0] for f in stack.split(";")
        ]
        samples = int(n)
        busy += samples
        own[frames[-1]] = own.get(frames[-1], 0) + samples
        for f in set(frames):
            inclusive[f] = inclusive.get(f, 0) + samples

    def best(counts: dict[str, int]) -> list[tuple[str, float]]:
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [(f, round(100 * c / max(1, busy), 1)) for f, c in ranked]

    return {"busy_samples": busy, "self": best(own), "inclusive": best(inclusive)}


def run_level(
    count: int,
    duration: float,
    bot_procs: int,
    settle: float,
    *,
    scatter: bool,
    ramp: float,
    cells: int = 1,
    border: float = 1024.0,
    probes: int | None = 10,
    profile: tuple[str, ...] = (),
    profile_dir: Path | None = None,
    profile_native: bool = False,
) -> dict[str, object]:
    # Cells change by hand only here: the leader would split a busy one otherwise.
    cluster = LocalCluster(ROLES, "realmkit-ccu-", "[cells]\nbalance = false\n\n")
    login = cluster.login
    env = cluster.env
    try:
        cluster.start()
        share = [count // bot_procs + (1 if i < count % bot_procs else 0) for i in range(bot_procs)]
        firsts = [sum(share[:i]) for i in range(bot_procs)]

        per_proc_ramp = str(ramp / bot_procs)

        def start_bots(spread: float) -> list[subprocess.Popen[str]]:
            return [
                subprocess.Popen(
                    realmkit(
                        "bots",
                        "-n",
                        str(n),
                        "--first",
                        str(first),
                        "--login",
                        login,
                        # One tag for both passes: the same accounts and characters
                        # (the default, a new random tag per swarm, would register
                        # new ones that were never scattered).
                        "--tag",
                        "ccu",
                        "--spread",
                        str(spread),
                        "--ramp",
                        per_proc_ramp,
                        *(["--probes", str(probes)] if probes is not None else []),
                        # The second pass logs in as returning players: refresh tokens.
                        "--tokens",
                        str(cluster.root / f"tokens-{first}.json"),
                        "--json",
                    ),
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                )
                for n, first in zip(share, firsts, strict=True)
                if n
            ]

        if scatter:
            # An established realm: every bot registers and enters once (real
            # accounts and characters), logs out, and its character is moved to
            # a random place on the continent, as if it had logged out there.
            first_pass = start_bots(0.0)
            wait_in_world(login, count, timeout=60 + 3 * count / ramp)
            for b in first_pass:
                b.send_signal(signal.SIGINT)
                b.communicate(timeout=120)
            wait_in_world(login, 0, timeout=60, fewer=True)
            asyncio.run(scatter_characters(cluster.urls()[1]))
        bots = start_bots(40.0 if scatter else 300.0)
        # Registration hashes passwords (argon2id, slow on purpose): measure only
        # once every bot is in the world.
        in_world = wait_in_world(login, count, timeout=60 + 3 * count / ramp)
        if cells > 1:
            asyncio.run(split_continent(*cluster.urls(), cells, border))
        time.sleep(settle)  # bots walk to homes spread over the zone; then measure
        load = {f"bots-{i}": psutil.Process(b.pid) for i, b in enumerate(bots)}
        before = cpu_of({**cluster.server_processes(), **load})
        before_kernel = cpu_of(cluster.server_processes(), kernel=True)
        rss_before = rss_of(cluster.server_processes())
        for b in bots:
            b.send_signal(signal.SIGUSR1)  # the measuring window starts
        psutil.cpu_percent(None)  # the machine's busy share from here
        spies = start_profiles(
            {**cluster.server_processes(), **load},
            profile,
            duration,
            profile_dir,
            count,
            profile_native,
        )
        started = time.monotonic()
        nats_url = cluster.urls()[0]
        tick_p99, per_space, send_p99 = asyncio.run(world_tick_p99(nats_url, duration))
        # Processes started meanwhile (a node the scaler launched, a new backend)
        # count whole; one that ended within the window is missing.
        for b in bots:
            b.send_signal(signal.SIGUSR2)  # the window ends (the bots' too)
        servers = cluster.server_processes()
        after = cpu_of({**servers, **load})
        after_kernel = cpu_of(servers, kernel=True)
        profiles = finish_profiles(spies)
        rss = rss_of(servers)
        wall = time.monotonic() - started
        machine = psutil.cpu_percent(None)
        load_avg = os.getloadavg()[0]
        players = population(login)
        for b in bots:
            b.send_signal(signal.SIGINT)  # bots stop and print their summary
        results = [json.loads(b.communicate(timeout=120)[0]) for b in bots]
        # A process that ended between listing and reading reads 0: never negative.
        cpu = {k: max(0.0, 100 * (after[k] - before.get(k, 0.0)) / wall) for k in sorted(after)}
        by_role: dict[str, float] = {}
        for name, used in cpu.items():
            by_role[role_of(name)] = by_role.get(role_of(name), 0.0) + used
        server = sum(used for role, used in by_role.items() if role != "bots")
        kernel: dict[str, float] = {}
        for name, used in after_kernel.items():
            share = max(0.0, 100 * (used - before_kernel.get(name, 0.0)) / wall)
            kernel[role_of(name)] = kernel.get(role_of(name), 0.0) + share
        in_window = sum(r.get("in_window", 0) for r in results)
        return {
            "bots": count,
            "entered": in_world,
            "latency_p50_ms": max(r["latency_p50_ms"] for r in results),
            "latency_p99_ms": max(r["latency_p99_ms"] for r in results),
            "world_tick_p99_ms": round(tick_p99, 1),
            "space_tick_p99_ms": {i: round(t, 1) for i, t in sorted(per_space.items())},
            "probe_latency_p99_ms": max(r.get("probe_latency_p99_ms", 0.0) for r in results),
            "bytes_per_s_per_player": round(
                sum(r["bytes_per_second_per_bot"] * r.get("in_window", 0) for r in results)
                / max(1, in_window)
            ),
            "frames_per_s_per_player": round(
                sum(r["frames_per_second"] for r in results) / max(1, in_window), 1
            ),
            "windowed": all(r.get("windowed", False) for r in results),
            "profiles": profiles,
            "errors": sum(r["errors"] for r in results),
            "cpu_percent": {
                k: round(v)
                for k, v in cpu.items()
                if not k.startswith("postgres-")  # the backends: in the role's sum
            },
            "cpu_percent_by_role": {r: round(v, 1) for r, v in sorted(by_role.items())},
            "gateway_send_p99_ms": dict(sorted(send_p99.items())),
            "kernel_cpu_percent_by_role": {r: round(v, 1) for r, v in sorted(kernel.items())},
            "server_cpu_percent": round(server, 1),
            "players_in_world": players if players > 0 else in_window,
            "server_cpu_percent_per_player": round(
                server / max(1, players if players > 0 else in_window), 3
            ),
            "rss_mb_by_role": {r: round(v / 2**20) for r, v in sorted(rss.items())},
            # At the window's start: growth over a long --duration shows against it.
            "rss_mb_by_role_at_start": {r: round(v / 2**20) for r, v in sorted(rss_before.items())},
            "rss_kb_per_player": {
                r: round(rss.get(r, 0.0) / 1024 / max(1, players)) for r in ("gateway", "world")
            },
            "machine_busy_percent": round(machine, 1),
            "load_average": round(load_avg, 2),
        }
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="100,250,500,1000")
    parser.add_argument(
        "--duration", type=float, default=30.0, help="measured seconds per level (>= 25)"
    )
    parser.add_argument("--bot-procs", type=int, default=2)
    parser.add_argument(
        "--ramp", type=float, default=20.0, help="bot logins per second, over all bot processes"
    )
    parser.add_argument(
        "--crowd",
        action="store_true",
        help="all bots start on the start point and stay within 300 units (the worst case); "
        "default: an established realm, characters scattered over the continent",
    )
    parser.add_argument(
        "--settle", type=float, default=50.0, help="seconds for bots to reach their homes"
    )
    parser.add_argument(
        "--cells", type=int, choices=(1, 2, 4), default=1, help="cells of the continent"
    )
    parser.add_argument(
        "--border", type=float, default=1024.0, help="where the cells' cuts go (x, then y)"
    )
    parser.add_argument(
        "--probes",
        type=int,
        default=10,
        help="full clients per bot process (they decode every frame); the rest are light",
    )
    parser.add_argument(
        "--full-clients", action="store_true", help="every bot a full client (no light ones)"
    )
    parser.add_argument(
        "--profile",
        default="",
        help="server processes to sample with py-spy over the window, e.g. gateway-1,world-1: "
        "the top functions are printed, raw stacks go to --profile-dir",
    )
    parser.add_argument("--profile-dir", type=Path, default=Path("bench/profiles"))
    parser.add_argument(
        "--profile-native", action="store_true", help="py-spy --native: C frames too"
    )
    args = parser.parse_args()
    header = f"{'bots':>6} {'in':>6} {'p50 ms':>7} {'p99 ms':>7} {'tick p99':>9} {'B/s/pl':>7}"
    print(header + " errors  cpu % of one core per process")
    for count in [int(c) for c in args.counts.split(",")]:
        r = run_level(
            count,
            args.duration,
            args.bot_procs,
            args.settle,
            scatter=not args.crowd,
            ramp=args.ramp,
            cells=args.cells,
            border=args.border,
            probes=None if args.full_clients else args.probes,
            profile=tuple(n for n in args.profile.split(",") if n),
            profile_dir=args.profile_dir,
            profile_native=args.profile_native,
        )
        cpu = " ".join(f"{k}={v}" for k, v in r["cpu_percent"].items())  # type: ignore[attr-defined]
        print(
            f"{r['bots']:>6} {r['entered']:>6} {r['latency_p50_ms']:>7} {r['latency_p99_ms']:>7} "
            f"{r['world_tick_p99_ms']:>9} {r['bytes_per_s_per_player']:>7} {r['errors']:>6}  {cpu}",
            flush=True,
        )
        spaces = " ".join(f"{i}={t}" for i, t in r["space_tick_p99_ms"].items())  # type: ignore[attr-defined]
        print(f"{'':>6} tick p99 ms per space (instance=ms): {spaces}", flush=True)
        roles = " ".join(f"{k}={v}" for k, v in r["cpu_percent_by_role"].items())  # type: ignore[attr-defined]
        kernel = " ".join(f"{k}={v}" for k, v in r["kernel_cpu_percent_by_role"].items())  # type: ignore[attr-defined]
        print(
            f"{'':>6} cpu % of one core by role: {roles} (of it in the kernel: {kernel}); "
            f"server {r['server_cpu_percent']} "
            f"= {r['server_cpu_percent_per_player']} per player ({r['players_in_world']} in "
            f"the world); frames/s per player {r['frames_per_s_per_player']}; probes' p99 "
            f"{r['probe_latency_p99_ms']} ms; RSS MB by role {r['rss_mb_by_role']} "
            f"({r['rss_mb_by_role_at_start']} at the window's start), KB per "
            f"player {r['rss_kb_per_player']}; machine {r['machine_busy_percent']}% busy, "
            f"load {r['load_average']}; gateways' send delay p99 ms {r['gateway_send_p99_ms']}"
            + ("" if r["windowed"] else " (not windowed: bots too old)"),
            flush=True,
        )
        for name, summary in r["profiles"].items():  # type: ignore[attr-defined]
            print(f"{'':>6} py-spy {name}: {summary['busy_samples']} busy samples", flush=True)
            for kind in ("self", "inclusive"):
                ranked = ", ".join(f"{f} {p}%" for f, p in summary[kind])
                print(f"{'':>8} {kind}: {ranked}", flush=True)


if __name__ == "__main__":
    main()
