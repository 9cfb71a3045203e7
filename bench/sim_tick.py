"""Space tick benchmark: p50/p99 tick time and frame size for the issue's scenarios.

    python bench/sim_tick.py [--ticks 200] [--scenario a,b,c,d|all] [--cell]

(a) 1,000 players + 2,000 creatures spread over the continent, 20 Hz;
(b) 300 players clumped in one spot (+ 2,000 creatures spread);
(c) 5,000 entities (1,500 players + 3,500 creatures spread);
(d) 2,000 players + 4,000 creatures spread (issue 16's one-space target).
Players report a move every other tick (10 Hz, as clients do, half of them
on even ticks and half on odd ones: clients' clocks are not in step) at 90%
run speed; creatures wander, aggro and chase. Frames (with the interest
update) are built at the map's frame rate, every other tick at 20 Hz, as the
world node asks for them (``--frames-every-tick`` for a frame on each tick,
as before issue 16). After setup the long-lived objects
(content, space) are moved out of the garbage collector's sight with
``gc.freeze()``, as a world node does after loading (``--no-freeze`` to
compare). Prints figures only.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import time
from dataclasses import dataclass

import msgspec

from realmkit.cells.border import Margins
from realmkit.cells.partition import Partition, Rect
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.content.schema import ContentPack, Point, SpawnDef
from realmkit.protocol.frames import SpaceFrame
from realmkit.protocol.inputs import Move
from realmkit.sim.cell import fastest
from realmkit.sim.space import Space
from realmkit.sim.state import PlayerState

CONTINENT = 1


@dataclass(frozen=True)
class Scenario:
    name: str
    players: int
    creatures: int
    clumped: bool


SCENARIOS = {
    "a": Scenario("(a) 1,000 players + 2,000 creatures, spread", 1000, 2000, False),
    "b": Scenario("(b) 300 players clumped in one spot", 300, 2000, True),
    "c": Scenario("(c) 5,000 entities (1,500 players + 3,500 creatures)", 1500, 3500, False),
    # Issue 16's target for one space: twice scenario (a), tick p99 under 50 ms.
    "d": Scenario("(d) 2,000 players + 4,000 creatures, spread", 2000, 4000, False),
}


def scaled_pack(creatures: int, seed: int = 1) -> ContentPack:
    """The classic pack with the continent's spawns replaced by ``creatures`` spread out."""
    pack = load_pack(classic_pack_path())
    r = random.Random(seed)
    templates = sorted({s.template for s in pack.spawns_on(CONTINENT)})
    b = pack.maps[CONTINENT].bounds
    spawns = [s for s in pack.spawns if s.map != CONTINENT]
    for _ in range(creatures // 5):
        at = Point(x=r.uniform(b.min_x + 30, b.max_x - 30), y=r.uniform(b.min_y + 30, b.max_y - 30))
        spawns.append(
            SpawnDef(
                map=CONTINENT, template=r.choice(templates), at=at, count=5, wander_radius=20.0
            )
        )
    return msgspec.structs.replace(pack, spawns=spawns)


class Crowd:
    """Players wandering at 90% run speed, each reporting every other tick
    (odd ids on odd ticks, even ids on even ticks)."""

    def __init__(self, space: Space, scenario: Scenario, seed: int = 2) -> None:
        self.space = space
        self.r = random.Random(seed)
        b = space.world.map.bounds
        self.bounds = b
        self.heading: dict[int, float] = {}
        self.seq: dict[int, int] = {}
        cx, cy = (b.min_x + b.max_x) / 2, (b.min_y + b.max_y) / 2
        for i in range(scenario.players):
            cid = 1 + i
            if scenario.clumped:
                x, y = cx + self.r.uniform(-10, 10), cy + self.r.uniform(-10, 10)
            else:
                x, y = (
                    self.r.uniform(b.min_x + 20, b.max_x - 20),
                    self.r.uniform(b.min_y + 20, b.max_y - 20),
                )
            space.add_player(PlayerState(cid, f"bot{cid}", 30, 10_000, CONTINENT, x, y, 10.0, 0.0))
            self.heading[cid] = self.r.uniform(0, 2 * math.pi)
            self.seq[cid] = 0
        self.speed = space.world.pack.player.run_speed * 0.9

    def feed(self, tick: int) -> None:
        c = self.space.world.store.cols
        slot_of = self.space.world.store.slot_of
        b = self.bounds
        for cid, heading in self.heading.items():
            if cid % 2 != tick % 2:
                continue
            s = slot_of[cid]
            if self.r.random() < 0.05:
                heading = self.heading[cid] = self.r.uniform(0, 2 * math.pi)
            step = self.speed * 0.1
            x = float(c["x"][s]) + step * math.cos(heading)
            y = float(c["y"][s]) + step * math.sin(heading)
            if not (b.min_x + 5 < x < b.max_x - 5 and b.min_y + 5 < y < b.max_y - 5):
                self.heading[cid] = heading + math.pi
                continue
            self.seq[cid] += 1
            move = Move(x, y, float(c["z"][s]), heading, tick * 50, self.seq[cid])
            self.space.receive_input(cid, move)


def run(
    scenario: Scenario,
    ticks: int,
    warmup: int = 20,
    freeze: bool = True,
    cell: bool = False,
    every_tick: bool = False,
) -> tuple[list[float], list[SpaceFrame]]:
    """Tick times (ms) after ``warmup``, and the frames produced; with ``cell`` the
    space runs as the one cell of its continent, as world nodes run continents."""
    pack = scaled_pack(scenario.creatures)
    place = None
    if cell:
        b = pack.maps[CONTINENT].bounds
        margins = Margins.of_map(pack.maps[CONTINENT], fastest(pack))
        place = (Partition.single(Rect(b.min_x, b.min_y, b.max_x, b.max_y)), 1, margins)
    space = Space(pack, CONTINENT, instance_id=1, seed=3, item_ids=(1, 1_000_000), cell=place)
    crowd = Crowd(space, scenario)
    if freeze:
        gc.collect()
        gc.freeze()
    times: list[float] = []
    frames: list[SpaceFrame] = []
    for tick in range(warmup + ticks):
        crowd.feed(tick)
        start = time.perf_counter()
        space.step(tick, frame=every_tick or space.frame_due(tick))
        elapsed = time.perf_counter() - start
        made = space.frames_to_send()
        space.events_to_emit()
        if tick % 100 == 0:
            space.saves_to_write()
        if tick >= warmup:
            times.append(elapsed * 1000)
            frames += made
    return times, frames


def pct(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument(
        "--scenario", default="all", help="a, b, c, d, several joined by commas, or all"
    )
    parser.add_argument("--no-freeze", action="store_true", help="leave gc.freeze() out")
    parser.add_argument(
        "--cell", action="store_true", help="run the space as a one-cell continent (as nodes do)"
    )
    parser.add_argument(
        "--frames-every-tick",
        action="store_true",
        help="build a frame on every tick (before issue 16) instead of at the map's frame rate",
    )
    args = parser.parse_args()
    if args.scenario == "all":
        chosen = list(SCENARIOS.values())
    else:
        names = args.scenario.split(",")
        unknown = [n for n in names if n not in SCENARIOS]
        if unknown:
            parser.error(f"unknown scenario {', '.join(unknown)}: choose from a, b, c, d")
        chosen = [SCENARIOS[n] for n in names]
    print(f"{'scenario':55} {'p50 ms':>8} {'p99 ms':>8} {'frame KB':>9} {'visible/obs':>12}")
    for sc in chosen:
        times, frames = run(
            sc,
            args.ticks,
            freeze=not args.no_freeze,
            cell=args.cell,
            every_tick=args.frames_every_tick,
        )
        gc.unfreeze()
        frame_kb = statistics.mean(len(msgspec.msgpack.encode(f)) for f in frames) / 1024
        # Column bytes / item size: visible rows are int32, observer ids int64.
        visible = statistics.mean(len(f.visible) / 4 / max(1, len(f.observers) / 8) for f in frames)
        p50, p99 = pct(times, 50), pct(times, 99)
        print(f"{sc.name:55} {p50:8.2f} {p99:8.2f} {frame_kb:9.1f} {visible:12.1f}")


if __name__ == "__main__":
    main()
