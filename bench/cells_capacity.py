"""Capacity of a continent larger than this machine, measured under time dilation.

A fresh cluster (`realmkit up` in a temporary folder: login, 2 idle gateways,
an orchestrator and one world node per cell) runs with every space ticking
`--dilate` D times slower than real time (`[instances] time_dilation`): the
world is the same, only slower, so a continent that needs more cores than the
machine has still runs every tick in full. Its cost is then counted in
CPU-seconds per *simulated* second, which is the cores it needs in real time.

The continent (the classic pack's, 2048 x 2048) is cut into `--cells` cells
(a k-d grid: 2 = 2x1, 4 = 2x2, 8 = 4x2, 16 = 4x4), one per world node (each
new cell's node is kept apart from the others by giving world nodes room for
one player and seating one player in each cell as it is made). A patch spreads
`--creatures` creatures over the continent (each of its spawns scaled in
count and spread `--spread` units around its point) and, unless `--aggro`,
makes them peaceful: they wander, nobody fights. `--players` characters are
written straight into PostgreSQL, spread evenly over the map, and seated
through the orchestrator as if by `--gateways` gateways.

The input driver in this process is those gateways: it seats the players
(`EnterWorld`), follows their crossings (`Repoint`), and sends each player's
position ten times a simulated second (`InputBatch`, one per cell and gateway
per report), walking at `--speed` units per second on a wandering heading; its
clock runs D times slower than real time, like the world's. It receives every
frame and event the cells publish for its players and counts their bytes;
it reads only the server's corrections (a refused move snaps the player back).

After `--warmup` simulated seconds it measures `--seconds` simulated seconds:
- per cell: players, entities and ghosts it holds, CPU-seconds of its world
  node per simulated second (= cores in real time), CPU per tick, tick p99 and
  late ticks (both wall time, so D times the real-time budget), ghost bytes to
  its neighbours and crossings into it per simulated second;
- the orchestrator, NATS and PostgreSQL the same way, the driver's own CPU,
  and the machine's load;
- the model: cores for the whole continent in real time (the sum of the cells
  and the shared parts), the busiest cell against its one core, and what the
  gateways would add (not measured here: `--gateway-cpu` per player, from
  bench/README's cluster figures).

A comma list of dilations (`--dilate 1,6`) runs the same continent once per
value and prints the per-cell figures side by side: the check that the
dilated measurement agrees with real time.

    .venv/bin/python bench/cells_capacity.py --cells 16 --players 10000 \\
        --creatures 20000 --dilate 10
    .venv/bin/python bench/cells_capacity.py --cells 2 --players 1200 \\
        --creatures 2400 --dilate 1,6
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import msgspec
import numpy as np
import psutil

from instances import pct
from local_cluster import LocalCluster, realmkit
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cells.partition import Axis, Partition, Rect
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.engines.embedded import EmbeddedEngines
from realmkit.protocol.cluster import (
    Ack,
    CellsChanged,
    DescribeSpace,
    EnterWorld,
    GatewayControl,
    GatewayEvents,
    GatewayTraffic,
    InputBatch,
    Placement,
    PlayerInput,
    Repoint,
    SpaceDescription,
    SplitCell,
    WorldLoad,
)
from realmkit.protocol.events import Corrected
from realmkit.protocol.inputs import Move

MAP_ID = 1
SIDE = 2048.0
EDGE = 24.0  # players keep this far from the map's edges
REPORTS_PER_SECOND = 10
# The continent's portal (classic pack): walkers keep out of it, or they would
# leave the continent for the dungeon.
PORTAL = (1580.0, 1580.0, 1600.0, 1600.0)
PORTAL_KEEP = 30.0
SEAT_CONCURRENCY = 16


@dataclass
class Cell:
    cell_id: int
    instance_id: int
    node: str
    rect: Rect


@dataclass
class Driver:
    """The synthetic gateways: every player's position, cell and counters."""

    bus: NatsBus
    dilation: float
    gateways: list[str]
    xs: np.ndarray
    ys: np.ndarray
    heading: np.ndarray
    character_ids: np.ndarray
    speed: float
    instance_of: dict[int, int] = field(default_factory=dict)
    frame_bytes: int = 0
    frames: int = 0
    event_bytes: int = 0
    corrections: int = 0
    repoints: int = 0
    seq: int = 0
    started: float = field(default_factory=time.monotonic)
    loads: dict[str, WorldLoad] = field(default_factory=dict)

    def sim_ms(self) -> int:
        """The driver's clock: D times slower than real time, like the world's."""
        return int(1000.0 * (time.monotonic() - self.started) / self.dilation)

    async def listen(self) -> None:
        traffic = msgspec.msgpack.Decoder(GatewayTraffic)
        index = {int(c): i for i, c in enumerate(self.character_ids)}

        async def on_traffic(msg) -> None:  # type: ignore[no-untyped-def]
            message = traffic.decode(msg.data)
            if isinstance(message, GatewayEvents):
                self.event_bytes += len(msg.data)
                for event in message.events:
                    if isinstance(event, Corrected) and event.character_id in index:
                        i = index[event.character_id]
                        self.xs[i], self.ys[i] = event.x, event.y
                        self.corrections += 1
            else:
                self.frame_bytes += len(msg.data)
                self.frames += 1

        async def on_control(message: GatewayControl) -> Ack:
            if isinstance(message, Repoint):
                self.instance_of[message.character_id] = message.instance_id
                self.repoints += 1
            return Ack(True)

        for gateway in self.gateways:
            await self.bus.client.subscribe(subjects.gateway_frames(gateway), cb=on_traffic)
            await self.bus.serve(subjects.gateway_control(gateway), GatewayControl, on_control)

        async def on_load(load: WorldLoad) -> None:
            self.loads[load.node_id] = load

        await self.bus.subscribe(subjects.WORLD_LOADS, WorldLoad, on_load)

    def step(self, rng: np.random.Generator) -> None:
        """Everyone walks one report's worth on a wandering heading."""
        self.heading += rng.normal(0.0, 0.35, self.heading.shape)
        reach = self.speed / REPORTS_PER_SECOND
        nx = self.xs + reach * np.cos(self.heading)
        ny = self.ys + reach * np.sin(self.heading)
        lo, hi = EDGE, SIDE - EDGE
        px0, py0, px1, py1 = PORTAL
        blocked = (
            (nx < lo)
            | (nx > hi)
            | (ny < lo)
            | (ny > hi)
            | (
                (nx > px0 - PORTAL_KEEP)
                & (nx < px1 + PORTAL_KEEP)
                & (ny > py0 - PORTAL_KEEP)
                & (ny < py1 + PORTAL_KEEP)
            )
        )
        self.heading[blocked] += math.pi  # turn back; stay put this report
        self.xs = np.where(blocked, self.xs, nx)
        self.ys = np.where(blocked, self.ys, ny)

    async def report(self) -> None:
        """One position report per player, batched per cell and gateway."""
        self.seq += 1
        now = self.sim_ms()
        batches: dict[tuple[int, str], list[PlayerInput]] = {}
        n = len(self.gateways)
        for i, cid in enumerate(self.character_ids.tolist()):
            instance = self.instance_of.get(cid)
            if instance is None:
                continue
            move = Move(float(self.xs[i]), float(self.ys[i]), 10.0, 0.0, now, self.seq)
            batches.setdefault((instance, self.gateways[i % n]), []).append(PlayerInput(cid, move))
        for (instance, gateway), inputs in batches.items():
            await self.bus.publish(subjects.space_inputs(instance), InputBatch(gateway, inputs))

    async def walk(self, stop: asyncio.Event) -> None:
        rng = np.random.default_rng(7)
        period = self.dilation / REPORTS_PER_SECOND
        due = time.monotonic()
        while not stop.is_set():
            self.step(rng)
            await self.report()
            due += period
            await asyncio.sleep(max(0.0, due - time.monotonic()))


def grid_plan(cells: int) -> list[tuple[int, Axis, float]]:
    """The splits that cut the map into ``cells`` equal cells, alternately across x
    and y (each level halves every cell): (cell, axis, at) in order."""
    if cells < 1 or cells & (cells - 1):
        raise SystemExit("--cells must be a power of two")
    layout = Partition.single(Rect(0.0, 0.0, SIDE, SIDE))
    plan = []
    level = 0
    while len(layout.cells) < cells:
        axis = Axis.X if level % 2 == 0 else Axis.Y
        for cell, rect in list(layout.cells.items()):
            if len(layout.cells) == cells:
                break
            at = (rect.low(axis) + rect.high(axis)) / 2
            plan.append((cell, axis, at))
            layout = layout.split(cell, axis, at)
        level += 1
    return plan


def crowd_patch(creatures: int, spread: float, aggro: bool) -> dict[str, object]:
    """Spawns of the continent scaled to about ``creatures`` in all, spread wider."""
    pack = load_pack(classic_pack_path())
    spawns = [s for s in pack.spawns if s.map == MAP_ID and s.name]
    base = sum(s.count for s in spawns)
    patch: dict[str, object] = {
        "spawns": {
            s.name: {
                "count": max(1, round(creatures * s.count / base)),
                "wander_radius": spread,
            }
            for s in spawns
        }
    }
    if not aggro:
        patch["creatures"] = {str(cid): {"aggro_radius": 0.0} for cid in pack.creatures}
    return patch


def cli(cluster: LocalCluster, *args: str) -> str:
    done = subprocess.run(
        realmkit(*args), env=cluster.env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"realmkit {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def patch_realm(cluster: LocalCluster, realm: str, args: argparse.Namespace) -> None:
    """The realm runs the crowd (``crowd_patch``) from its first space on."""
    file = cluster.root / "capacity-patch.json"
    file.write_text(json.dumps(crowd_patch(args.creatures, args.spread, args.aggro)))
    cli(cluster, "patch", "create", "capacity", "-r", realm, "-f", str(file))
    cli(cluster, "patch", "activate", "capacity", "-r", realm)


def name_of(i: int) -> str:
    letters = ""
    while True:
        i, r = divmod(i, 26)
        letters += chr(97 + r)
        if i == 0:
            return "Cap" + letters


async def write_characters(
    database_url: str, realm_id: int, players: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``players`` level-5 characters of one account, spread evenly over the map
    (clear of the portal); (ids, xs, ys)."""
    xs, ys = [], []
    while len(xs) < players:
        x, y = rng.uniform(EDGE + 10, SIDE - EDGE - 10, 2)
        px0, py0, px1, py1 = PORTAL
        if px0 - 2 * PORTAL_KEEP < x < px1 + 2 * PORTAL_KEEP and (
            py0 - 2 * PORTAL_KEEP < y < py1 + 2 * PORTAL_KEEP
        ):
            continue
        xs.append(float(x))
        ys.append(float(y))
    conn = await asyncpg.connect(database_url)
    try:
        account = await conn.fetchval(
            "INSERT INTO auth.accounts (username, password_hash) VALUES ('capacity', 'x') "
            "RETURNING account_id"
        )
        ids = await conn.fetch(
            "INSERT INTO characters.characters "
            "(account_id, realm_id, name, level, hp, map_id, pos_x, pos_y, pos_z) "
            "SELECT $1, $2, n, 5, 180, $3, x, y, 10 "
            "FROM unnest($4::text[], $5::float8[], $6::float8[]) AS t(n, x, y) "
            "RETURNING character_id",
            account,
            realm_id,
            MAP_ID,
            [name_of(i) for i in range(players)],
            xs,
            ys,
        )
    finally:
        await conn.close()
    return np.array([r["character_id"] for r in ids]), np.array(xs), np.array(ys)


async def seat(bus: NatsBus, driver: Driver, indexes: list[int], gateways: list[str]) -> None:
    """Seat these players through the orchestrator, a few at a time."""
    limit = asyncio.Semaphore(SEAT_CONCURRENCY)

    async def one(i: int) -> None:
        cid = int(driver.character_ids[i])
        async with limit:
            # The machine is oversubscribed: a world node may answer the orchestrator
            # late, and the seat is asked again (a second seat is a new epoch).
            placed = await bus.request_patiently(
                subjects.ORCHESTRATOR_REQUESTS,
                EnterWorld(cid, gateways[i % len(gateways)]),
                Placement,
                within=300.0,
                attempt_timeout=60.0,
            )
        driver.instance_of[cid] = placed.instance_id
        seated.append(cid)
        if len(indexes) > 100 and len(seated) % 1000 == 0:
            print(f"   {len(seated)} of {len(indexes)} seated", flush=True)

    seated: list[int] = []
    await asyncio.gather(*(one(i) for i in indexes))


def first_inside(xs: np.ndarray, ys: np.ndarray, rect: Rect, taken: set[int]) -> int:
    inside = np.flatnonzero(
        (xs >= rect.min_x) & (xs < rect.max_x) & (ys >= rect.min_y) & (ys < rect.max_y)
    )
    for i in inside.tolist():
        if i not in taken:
            return int(i)
    raise SystemExit(f"no player inside {rect}: give more --players")


def cpu(proc: psutil.Process, tree: bool = False) -> float:
    procs = [proc, *proc.children(recursive=True)] if tree else [proc]
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


async def run(args: argparse.Namespace, dilation: float) -> dict[str, object]:
    names = [f"world-{i + 1}" for i in range(args.cells)]
    roles = [
        ("login", "login"),
        ("gateway-1", "gateway"),
        ("gateway-2", "gateway"),
        ("orchestrator-1", "orchestrator"),
        *[(n, "world") for n in names],
    ]
    settings = (
        '[scaling]\nlauncher = "none"\n\n[cells]\nbalance = false\n\n'
        # The machine is oversubscribed on purpose: a busy node is not a dead one.
        f"[instances]\ntime_dilation = {dilation}\nnode_timeout = 60.0\n\n"
    )
    cluster = LocalCluster(roles, "realmkit-capacity-", settings, world_capacity=1)
    try:
        print(f"-- dilation {dilation:g}: starting {len(roles)} nodes", flush=True)
        cluster.start()
        return await measure(args, cluster, dilation, names)
    finally:
        cluster.stop(args.keep_logs)


async def measure(
    args: argparse.Namespace, cluster: LocalCluster, dilation: float, names: list[str]
) -> dict[str, object]:
    nats_url, database_url = cluster.urls()
    conn = await asyncpg.connect(database_url)
    realm_id, realm = await conn.fetchrow(
        "SELECT realm_id, name FROM auth.realmlist ORDER BY realm_id LIMIT 1"
    )
    await conn.close()
    await asyncio.to_thread(patch_realm, cluster, realm, args)
    rng = np.random.default_rng(11)
    ids, xs, ys = await write_characters(database_url, realm_id, args.players, rng)
    gateways = [f"capacity-gw-{g + 1}" for g in range(args.gateways)]
    bus = await NatsBus.connect(nats_url, name="capacity-driver")
    driver = Driver(
        bus, dilation, gateways, xs, ys, rng.uniform(0, 2 * math.pi, len(ids)), ids, args.speed
    )
    await driver.listen()

    # The first player makes the continent; each split makes a cell on a node with
    # room (every world node has room for one player), which its first player fills.
    # Each cell's first player stands where the cell stays after every split.
    plan = grid_plan(args.cells)
    final = Partition.single(Rect(0.0, 0.0, SIDE, SIDE))
    for cell, axis, at in plan:
        final = final.split(cell, axis, at)
    pins: dict[int, int] = {}
    for cell, rect in final.cells.items():
        pins[cell] = first_inside(xs, ys, rect, set(pins.values()))
    await seat(bus, driver, [pins[1]], gateways)
    layout = Partition.single(Rect(0.0, 0.0, SIDE, SIDE))
    changed: CellsChanged | None = None
    for cell, axis, at in plan:
        changed = await bus.request(
            subjects.ORCHESTRATOR_REQUESTS,
            SplitCell(realm_id, MAP_ID, cell, axis.value, at),
            CellsChanged,
            timeout=60.0,
        )
        layout = layout.split(cell, axis, at)
        await seat(bus, driver, [pins[layout.next_cell - 1]], gateways)
    pinned = set(pins.values())
    instances = changed.cells if changed is not None else {1: driver.instance_of[int(ids[pins[1]])]}
    started = time.monotonic()
    rest = [i for i in range(len(ids)) if i not in pinned]
    await seat(bus, driver, rest, gateways)
    print(
        f"   {args.players} players seated in {time.monotonic() - started:.0f} s "
        f"over {len(instances)} cells",
        flush=True,
    )
    cells = []
    for cell, instance in sorted(instances.items()):
        described = await describe(bus, instance)
        cells.append(Cell(cell, instance, described.node_id, layout.rect(cell)))
    hosts = [c.node for c in cells]
    if len(set(hosts)) != len(hosts):
        print(f"   warning: cells share world nodes: {hosts}")

    stop = asyncio.Event()
    walking = asyncio.create_task(driver.walk(stop))
    await asyncio.sleep(args.warmup * dilation)
    procs = {n: psutil.Process(cluster.node_pid(n)) for n in [*names, "orchestrator-1"]}
    engines = {e.name: e.pid for e in EmbeddedEngines(cluster.data).status() if e.pid}
    shared = {name: psutil.Process(pid) for name, pid in engines.items()}
    me = psutil.Process()
    before = {c.cell_id: await describe(bus, c.instance_id) for c in cells}
    late0 = late_ticks(driver, cells)
    cpu0 = {n: cpu(p) for n, p in procs.items()}
    cpu0 |= {n: cpu(p, tree=True) for n, p in shared.items()}
    mine0 = cpu(me)
    counters0 = (driver.frame_bytes, driver.event_bytes, driver.corrections, driver.repoints)
    load0 = os.getloadavg()[0]
    psutil.cpu_percent()
    wall0 = time.monotonic()
    await asyncio.sleep(args.seconds * dilation)
    wall = time.monotonic() - wall0
    busy = psutil.cpu_percent()
    load1 = os.getloadavg()[0]
    cpu1 = {n: cpu(p) for n, p in procs.items()}
    cpu1 |= {n: cpu(p, tree=True) for n, p in shared.items()}
    mine = cpu(me) - mine0
    after = {c.cell_id: await describe(bus, c.instance_id) for c in cells}
    late = {k: v - late0.get(k, 0) for k, v in late_ticks(driver, cells).items()}
    counters = [
        b - a
        for a, b in zip(
            counters0,
            (driver.frame_bytes, driver.event_bytes, driver.corrections, driver.repoints),
            strict=True,
        )
    ]
    stop.set()
    await walking
    await bus.close()

    simulated = wall / dilation
    rows = []
    for c in cells:
        a, b = after[c.cell_id].cell, before[c.cell_id].cell
        assert a is not None
        assert b is not None
        ticks = a.ticks - b.ticks
        ticks_simulated = ticks / 20.0
        used = cpu1[c.node] - cpu0[c.node]
        crossings = a.crossings - b.crossings
        crossing_ticks = [  # wall ms to ticks of this dilation
            ms / (1000.0 * dilation / 20.0)
            for ms in (a.crossing_ms[-crossings:] if crossings > 0 else [])
        ]
        load = driver.loads.get(c.node)
        space = next(
            (s for s in (load.space_loads if load else []) if s.instance_id == c.instance_id),
            None,
        )
        rows.append(
            {
                "cell": c.cell_id,
                "node": c.node,
                "players": after[c.cell_id].players,
                "entities": space.entities if space else 0,
                "ghosts": space.ghosts if space else 0,
                "cores": used / max(1e-9, ticks_simulated),
                "cpu_ms_per_tick": 1000.0 * used / max(1, ticks),
                "tick_p99_wall_ms": space.tick_p99_ms if space else float("nan"),
                "late_ticks": late.get(c.instance_id, 0),
                "ticks": ticks,
                "ghost_kib_per_s": sum(
                    v - b.ghost_bytes.get(k, 0) for k, v in a.ghost_bytes.items()
                )
                / 1024.0
                / max(1e-9, ticks_simulated),
                "crossings_per_s": crossings / max(1e-9, ticks_simulated),
                "crossing_ticks_p99": pct(crossing_ticks, 0.99),
                "ghost_share": (a.cell_seconds - b.cell_seconds)
                / max(1e-9, a.tick_seconds - b.tick_seconds),
            }
        )
    others = {n: (cpu1[n] - cpu0[n]) / simulated for n in ["orchestrator-1", *sorted(shared)]}
    return {
        "dilation": dilation,
        "cells": rows,
        "shared": others,
        "simulated_s": simulated,
        "wall_s": wall,
        "driver_cores": mine / wall,
        "machine_busy_pct": busy,
        "load": (load0, load1),
        "frames_kib_per_s": counters[0] / 1024.0 / simulated,
        "events_kib_per_s": counters[1] / 1024.0 / simulated,
        "corrections": counters[2],
        "repoints": counters[3],
        "players": args.players,
    }


def late_ticks(driver: Driver, cells: list[Cell]) -> dict[int, int]:
    out = {}
    for c in cells:
        load = driver.loads.get(c.node)
        for s in load.space_loads if load else []:
            if s.instance_id == c.instance_id:
                out[c.instance_id] = s.late_ticks
    return out


async def describe(bus: NatsBus, instance_id: int) -> SpaceDescription:
    return await bus.request(
        subjects.space_control(instance_id), DescribeSpace(), SpaceDescription, timeout=30.0
    )


def report(args: argparse.Namespace, result: dict[str, object]) -> None:
    rows: list[dict[str, float]] = result["cells"]  # type: ignore[assignment]
    d = result["dilation"]
    print(
        f"dilation {d:g}: {result['simulated_s']:.1f} simulated s in {result['wall_s']:.0f} s; "
        f"machine {result['machine_busy_pct']:.0f}% busy, load {result['load'][0]:.2f} -> "  # type: ignore[index]
        f"{result['load'][1]:.2f} on {os.cpu_count()} cores; "  # type: ignore[index]
        f"the driver {100 * result['driver_cores']:.0f}% of a core"  # type: ignore[operator]
    )
    print(
        "  cell  node        players entities ghosts  cores  cpu/tick  p99(wall)  late  "
        "ghosts KiB/s  crossings/s  crossing p99  ghost share"
    )
    for r in rows:
        print(
            f"  {r['cell']:>4}  {r['node']:<10} {r['players']:>7} {r['entities']:>8} "
            f"{r['ghosts']:>6} {r['cores']:>6.3f} {r['cpu_ms_per_tick']:>7.2f}ms "
            f"{r['tick_p99_wall_ms']:>8.1f}ms {r['late_ticks']:>5} {r['ghost_kib_per_s']:>13.1f} "
            f"{r['crossings_per_s']:>12.2f} {r['crossing_ticks_p99']:>9.1f} tk "
            f"{100 * r['ghost_share']:>10.1f}%"
        )
    shared: dict[str, float] = result["shared"]  # type: ignore[assignment]
    world = sum(r["cores"] for r in rows)
    busiest = max(rows, key=lambda r: r["cores"])
    players = int(result["players"])  # type: ignore[call-overload]
    print(
        "  shared: "
        + ", ".join(f"{n} {v:.3f} cores" for n, v in shared.items())
        + f"; frames to the gateways {result['frames_kib_per_s']:.0f} KiB/s, events "
        f"{result['events_kib_per_s']:.0f} KiB/s (per simulated s); "
        f"{result['repoints']} crossings followed, {result['corrections']} moves corrected"
    )
    late = sum(r["late_ticks"] for r in rows)
    total = world + sum(shared.values())
    gateways = players * args.gateway_cpu / 100.0
    print(
        f"  model: {players} players over {len(rows)} cells in real time at 20 Hz needs "
        f"{world:.2f} cores for the cells (busiest: cell {busiest['cell']} "
        f"{busiest['cores']:.2f} of its one core, {busiest['cpu_ms_per_tick']:.1f} ms of "
        f"its 50 ms tick) + {sum(shared.values()):.2f} for the orchestrator and engines "
        f"= {total:.2f} cores; with gateways at {args.gateway_cpu:g}% of a core per "
        f"player (not measured here) {total + gateways:.2f}"
    )
    if late:
        print(f"  warning: {late} late ticks: the machine did not keep up, raise --dilate")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=16, help="1, 2, 4, 8 or 16")
    parser.add_argument("--players", type=int, default=10_000)
    parser.add_argument("--creatures", type=int, default=20_000)
    parser.add_argument("--spread", type=float, default=250.0, help="creatures' wander radius")
    parser.add_argument("--aggro", action="store_true", help="creatures attack players")
    parser.add_argument("--speed", type=float, default=5.0, help="players' walking speed")
    parser.add_argument("--gateways", type=int, default=4, help="synthetic gateways")
    parser.add_argument(
        "--dilate", default="10", help="how many times slower than real time (a comma list)"
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="simulated seconds")
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated seconds measured")
    parser.add_argument(
        "--gateway-cpu",
        type=float,
        default=0.11,
        help="%% of a core a player costs its gateway (bench/README), for the model",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep-logs", type=Path, help="copy the nodes' logs here")
    args = parser.parse_args()
    results = []
    for d in [float(v) for v in args.dilate.split(",")]:
        result = asyncio.run(run(args, d))
        report(args, result)
        results.append(result)
    if len(results) > 1:
        print("per cell, cores (CPU-s per simulated s) by dilation:")
        for i, row in enumerate(results[0]["cells"]):  # type: ignore[arg-type]
            figures = "  ".join(
                f"D={r['dilation']:g}: {r['cells'][i]['cores']:.3f}"  # type: ignore[index]
                for r in results
            )
            print(f"  cell {row['cell']}: {figures}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
