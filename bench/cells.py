"""Crossing and ghost cost of a continent split over two world nodes (issue 15).

One fresh cluster (`realmkit up`: login, 2 gateways, orchestrator, 2 world
nodes; cells change by hand only) in a temporary folder on free loopback
ports. `--walkers` players stand in a column on the border at x=1024 and
`--standers` more stand within `--spread` units of it on both sides; the continent is
split at the border (the new cell on the other world node); then for
`--duration` seconds every walker paces over the border and back (6 units
past it each way, 6.5 units/s, ten reports a second), crossing every ~2 s.

Printed, from the measuring window:
- crossings, and the crossing latency the world nodes measured: from the start
  of the old owner's tick that handed the player over to the new owner's first
  frame with it (p50/p99; one tick at 20 Hz is 50 ms);
- what the walkers' clients saw: frames skipped for a gap (a lost frame), frames
  that reset the table, `transfer_pending` and `new_world` (targets 0), and the
  time between frames: over all frames, and for the first frame after each
  crossing the walker saw in its own position (p50/p99);
- ghost traffic per border (bytes/s each way) and the ghost work's share of
  each cell's tick time (taking ghosts in, border rows, hand-outs, publishing);
- CPU of each world node and gateway (% of one core) and the machine's load.

    .venv/bin/python bench/cells.py --walkers 40 --standers 40 --duration 30

With `--core N` it runs no cluster: two cells of the continent as two spaces in
this process, wired as world nodes wire them (every message encoded and decoded
as the bus carries it), the same walkers and standers at the border plus N
players wandering inside each cell away from it; per cell, the mean tick and
the share of it the ghosts and hand-overs take (the simulation's part, and
encoding, decoding and taking the messages). It shows how that share falls as
a cell holds more than its border.

    .venv/bin/python bench/cells.py --core 0,250,1000 --ticks 400
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from pathlib import Path

import aiohttp
import asyncpg
import psutil

from cluster_ccu import ROLES
from instances import enter_all, pct
from local_cluster import LocalCluster
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.client.game import GameClient, world_position
from realmkit.protocol.cluster import CellsChanged, DescribeSpace, SpaceDescription, SplitCell

SETTINGS = '[scaling]\nlauncher = "none"\n\n[cells]\nbalance = false\n\n'
BORDER = 1024.0
CROSS = 4.0  # the crossing hysteresis (cells/border.py)
LEG = 6.0


class Watch:
    """A walker's frames: arrival times, its own x, and the gaps after crossings."""

    def __init__(self, client: GameClient) -> None:
        self.client = client
        self.arrivals: list[float] = []
        self.xs: list[float] = []
        client.on_frame = self.frame

    def frame(self) -> None:
        me = self.client.me()
        if me is not None:
            self.arrivals.append(time.monotonic())
            self.xs.append(world_position(me)[0])

    def intervals(self) -> list[float]:
        return [b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)]

    def after_crossings(self) -> list[float]:
        """Time to the frame after each one where the walker's x passed the crossing
        line (``CROSS`` past the border, either way)."""
        out = []
        side = 0
        for i, x in enumerate(self.xs[:-1]):
            now = 1 if x > BORDER + CROSS else -1 if x < BORDER - CROSS else side
            if side and now != side:
                out.append(self.arrivals[i + 1] - self.arrivals[i])
            side = now
        return out


async def pace(client: GameClient, stop: asyncio.Event) -> None:
    target = BORDER + LEG
    while not stop.is_set():
        if client.position is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client.wait_frame(), 1.0)
            continue
        if await client.walk_towards(target, client.position[1], speed=6.5, step_seconds=0.1):
            target = BORDER - LEG if target > BORDER else BORDER + LEG
        await asyncio.sleep(0.1)  # the client's own pace: ten reports a second


async def describe(bus: NatsBus, instance_id: int) -> SpaceDescription:
    return await bus.request(
        subjects.space_control(instance_id), DescribeSpace(), SpaceDescription, timeout=10.0
    )


async def measure(args: argparse.Namespace, cluster: LocalCluster) -> None:
    nats_url, database_url = cluster.urls()
    login = cluster.login.rstrip("/")
    bus = await NatsBus.connect(nats_url, name="bench")
    procs = {
        name: psutil.Process(cluster.node_pid(name))
        for name, role in ROLES
        if role in ("world", "gateway")
    }
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        walkers = await enter_all(
            http,
            login,
            database_url,
            args.walkers,
            prefix="walker",
            spots=[(BORDER - LEG, 300.0 + 10.0 * i) for i in range(args.walkers)],
        )
        standers = await enter_all(
            http,
            login,
            database_url,
            args.standers,
            prefix="stander",
            spots=[
                (
                    BORDER + (1 if i % 2 else -1) * args.spread * ((i % 7) + 1) / 7,
                    300.0 + 10.0 * (i // 2),
                )
                for i in range(args.standers)
            ],
        )
        assert walkers[0].world is not None
        conn = await asyncpg.connect(database_url)
        realm_id = await conn.fetchval("SELECT min(realm_id) FROM auth.realmlist")
        await conn.close()
        split = await bus.request(
            subjects.ORCHESTRATOR_REQUESTS,
            SplitCell(realm_id, 1, 1, "x", BORDER),
            CellsChanged,
            timeout=30.0,
        )
        await asyncio.sleep(3.0)  # the split's hand-overs settle
        before = {c: await describe(bus, i) for c, i in split.cells.items()}
        watches = [Watch(w) for w in walkers]
        gaps0 = sum(w.gaps for w in walkers)
        cpu0 = {n: p.cpu_times() for n, p in procs.items()}
        load0 = os.getloadavg()[0]
        started = time.monotonic()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(pace(w, stop)) for w in walkers]
        await asyncio.sleep(args.duration)
        stop.set()
        await asyncio.gather(*tasks)
        window = time.monotonic() - started
        cpu1 = {n: p.cpu_times() for n, p in procs.items()}
        load1 = os.getloadavg()[0]
        after = {c: await describe(bus, i) for c, i in split.cells.items()}
        for c in walkers + standers:
            await c.close()
    await bus.close()

    crossing_ms, crossings = [], 0
    print(f"window {window:.1f} s, {args.walkers} walkers, {args.standers} standing by")
    for cell in sorted(after):
        a, b = after[cell].cell, before[cell].cell
        assert a is not None
        assert b is not None
        crossings += a.crossings - b.crossings
        crossing_ms += (
            a.crossing_ms[-(a.crossings - b.crossings) :] if a.crossings > b.crossings else []
        )
        ticks = a.ticks - b.ticks
        spent = max(1e-9, a.tick_seconds - b.tick_seconds)
        share = (a.cell_seconds - b.cell_seconds) / spent
        core = (a.core_seconds - b.core_seconds) / spent
        tick_ms = 1000.0 * (a.tick_seconds - b.tick_seconds) / max(1, ticks)
        for to, sent in sorted(a.ghost_bytes.items()):
            rate = (sent - b.ghost_bytes.get(to, 0)) / window
            print(f"  cell {cell} -> cell {to}: ghosts {rate / 1024:.1f} KiB/s")
        print(
            f"  cell {cell}: {ticks} ticks, mean tick {tick_ms:.2f} ms, "
            f"ghost and hand-over work {100 * share:.1f}% of it "
            f"({100 * core:.1f}% in the simulation, the rest sending and taking messages)"
        )
    print(
        f"crossings {crossings} ({crossings / window:.1f}/s); server crossing latency "
        f"p50 {pct(crossing_ms, 0.5):.1f} ms, p99 {pct(crossing_ms, 0.99):.1f} ms "
        f"(of {len(crossing_ms)} sampled)"
    )
    intervals = [i for w in watches for i in w.intervals()]
    at_crossing = [i for w in watches for i in w.after_crossings()]
    print(
        f"walkers' clients: {sum(w.gaps for w in walkers) - gaps0} frames skipped for a gap, "
        f"{sum(w.pending_notices for w in walkers)} transfer_pending, "
        f"{sum(w.transfers for w in walkers)} new_world"
    )
    print(
        f"  time between frames: all p50 {1000 * pct(intervals, 0.5):.0f} ms "
        f"p99 {1000 * pct(intervals, 0.99):.0f} ms; after a crossing ({len(at_crossing)}) "
        f"p50 {1000 * pct(at_crossing, 0.5):.0f} ms p99 {1000 * pct(at_crossing, 0.99):.0f} ms"
    )
    for name in procs:
        used = (cpu1[name].user + cpu1[name].system) - (cpu0[name].user + cpu0[name].system)
        print(f"  {name}: {100 * used / window:.0f}% of a core")
    print(f"  machine load (1 min avg): {load0:.2f} -> {load1:.2f} on {os.cpu_count()} cores")


def core(args: argparse.Namespace) -> None:
    """Two cells in this process (see the module)."""
    import math
    import random

    import msgspec

    from realmkit.cells.border import Margins
    from realmkit.cells.partition import Axis, Partition, Rect
    from realmkit.content.loader import classic_pack_path, load_pack
    from realmkit.protocol.cells import CellMessage, GhostBatch
    from realmkit.protocol.inputs import Move
    from realmkit.sim.cell import fastest
    from realmkit.sim.space import Space
    from realmkit.sim.state import PlayerState

    pack = load_pack(classic_pack_path())
    margins = Margins.of_map(pack.maps[1], fastest(pack))

    def wire(message: CellMessage) -> CellMessage:
        decoded: CellMessage = msgspec.msgpack.decode(
            msgspec.msgpack.encode(message), type=CellMessage
        )
        return decoded

    for interior in [int(n) for n in args.core.split(",")]:
        layout = Partition.single(Rect(0, 0, 2048, 2048)).split(1, Axis.X, BORDER)
        spaces = [
            Space(
                pack,
                1,
                instance_id=10 + c,
                seed=c,
                item_ids=(1 + 1000 * c, 1000 * (c + 1)),
                cell=(layout, c, margins),
                partition_id=1,
            )
            for c in (1, 2)
        ]
        for s in spaces:
            s.clock = time.perf_counter
        r = random.Random(1)
        cid = 0
        moving: dict[int, list[float]] = {}

        def add(
            x: float,
            y: float,
            walk: bool = False,
            spaces: list[Space] = spaces,
            moving: dict[int, list[float]] = moving,
        ) -> None:
            nonlocal cid
            cid += 1
            space = spaces[0] if x < BORDER else spaces[1]
            space.add_player(PlayerState(cid, f"p{cid}", 5, 180, 1, x, y, 0.0, 0.0))
            moving[cid] = [x, y, 0.0, BORDER + LEG if walk else x]

        for i in range(args.walkers):
            add(BORDER - LEG, 300.0 + 10.0 * i, walk=True)
        for i in range(args.standers):
            add(
                BORDER + (1 if i % 2 else -1) * args.spread * ((i % 7) + 1) / 7,
                300 + 10.0 * (i // 2),
            )
        for c in range(2):
            for _ in range(interior):
                add(r.uniform(100, 800) if c == 0 else r.uniform(1250, 1950), r.uniform(100, 1950))
        work = [0.0, 0.0]
        handing = [0.0, 0.0]  # of ``work``: finding, sending and taking hand-overs
        total = [0.0, 0.0]
        seq, clock_ms = 0, 0
        for tick in range(1, args.ticks + 1):
            clock_ms += 50
            if tick % 2 == 0:  # reports every other tick: walkers pace, the rest wander
                seq += 1
                for pid, m in moving.items():
                    owner = next(s for s in spaces if pid in s.world.players)
                    if m[3] != m[0] and pid <= args.walkers:
                        step = math.copysign(min(0.65, abs(m[3] - m[0])), m[3] - m[0])
                        m[0] += step
                        if m[0] == m[3]:
                            m[3] = BORDER - LEG if m[3] > BORDER else BORDER + LEG
                    elif pid > args.walkers + args.standers:
                        m[2] += r.uniform(-0.3, 0.3)
                        m[0] = min(max(m[0] + 0.6 * math.cos(m[2]), 50.0), 1998.0)
                        m[1] = min(max(m[1] + 0.6 * math.sin(m[2]), 50.0), 1998.0)
                        if (m[0] < BORDER) != (owner is spaces[0]):
                            m[0] = min(max(m[0], 60.0), 1990.0)
                    owner.receive_input(pid, Move(m[0], m[1], 0.0, 0.0, clock_ms, seq))
            for c, space in enumerate(spaces):
                before = space.world.cell.work_seconds  # type: ignore[union-attr]
                before_out = space.world.cell.handout_seconds  # type: ignore[union-attr]
                started = time.perf_counter()
                space.step(tick, frame=space.frame_due(tick))
                space.frames_to_send()
                space.events_to_emit()
                took = time.perf_counter() - started
                sent = time.perf_counter()
                other = spaces[1 - c]
                me = space.cell
                assert me is not None
                for _, rows in space.ghosts_to_send().items():
                    batch = wire(GhostBatch.of(1, me.partition.version, me.cell, tick, rows))
                    assert isinstance(batch, GhostBatch)
                    other.receive_ghosts(me.cell, batch.version, batch.source_tick, batch.rows())
                handed = time.perf_counter()
                for handoff in space.handoffs_to_send():
                    other.take_handoff(wire(handoff))  # type: ignore[arg-type]
                handed = time.perf_counter() - handed
                for hit in space.hits_to_send():
                    other.receive_hit(wire(hit))  # type: ignore[arg-type]
                messages = time.perf_counter() - sent
                if tick > 20:
                    work[c] += space.world.cell.work_seconds - before + messages  # type: ignore[union-attr]
                    handing[c] += space.world.cell.handout_seconds - before_out + handed  # type: ignore[union-attr]
                    total[c] += took + messages
        n = args.ticks - 20
        for c, space in enumerate(spaces):
            print(
                f"interior {interior} per cell: cell {c + 1} holds {len(space.world.players)} "
                f"players, mean tick {1000 * total[c] / n:.2f} ms, ghosts and hand-overs "
                f"{100 * work[c] / total[c]:.1f}% of it (ghosts "
                f"{100 * (work[c] - handing[c]) / total[c]:.1f}%, hand-overs "
                f"{100 * handing[c] / total[c]:.1f}%)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--walkers", type=int, default=40)
    parser.add_argument("--standers", type=int, default=40)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument(
        "--spread", type=float, default=40.0, help="standers within this of the border"
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the nodes' logs here")
    parser.add_argument(
        "--core", help="no cluster: two cells in this process, with these interior players"
    )
    parser.add_argument("--ticks", type=int, default=400, help="ticks in --core mode")
    args = parser.parse_args()
    if args.core:
        core(args)
        return
    cluster = LocalCluster(ROLES, "realmkit-cells-", SETTINGS)
    try:
        cluster.start()
        asyncio.run(measure(args, cluster))
    finally:
        cluster.stop(args.keep_logs)


if __name__ == "__main__":
    main()
