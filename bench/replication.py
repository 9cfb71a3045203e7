"""Replication benchmark: cost per observer per frame and bytes per observer.

    python bench/replication.py [--ticks 200] [--scenario a|b|c|all] [--budget 8192]

Replays the frames of the sim_tick scenarios through one ``Replicator``
holding every observer (one gateway), with the given per-observer byte
budget. Frames come at the map's frame rate (10 a second: every other tick
of the 20 Hz continent), as world nodes send them. Prints figures only.
"""

from __future__ import annotations

import argparse
import statistics
import time

from realmkit.protocol.frames import FrameArrays
from realmkit.replication.replicator import ReplicationConfig, Replicator
from sim_tick import SCENARIOS, pct, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--scenario", choices=["a", "b", "c", "all"], default="all")
    parser.add_argument("--budget", type=float, default=8192.0)
    args = parser.parse_args()
    chosen = SCENARIOS.values() if args.scenario == "all" else [SCENARIOS[args.scenario]]
    print(
        f"{'scenario':55} {'p50 us/obs':>10} {'p99 us/obs':>10} "
        f"{'B/obs/frame':>11} {'B/obs/s':>8} {'shared bodies':>13}"
    )
    for sc in chosen:
        _, frames = run(sc, args.ticks + 40, warmup=0)
        per_second = 20 / (frames[1].tick - frames[0].tick)  # the continent ticks at 20 Hz
        rep = Replicator(ReplicationConfig(budget_bytes_per_s=args.budget))
        per_obs: list[float] = []
        sent: list[int] = []
        for i, frame in enumerate(frames):
            observers = FrameArrays.of(frame).observers.size
            start = time.perf_counter()
            out = rep.step(frame)
            elapsed = time.perf_counter() - start
            if i >= 20:  # the first frames are keyframes of everything in view
                per_obs.append(elapsed * 1e6 / observers)
                sent.append(sum(len(b) for _, b in out) // observers)
        shared = 1 - rep.stats.bodies_encoded / max(1, rep.stats.frames)
        per_frame = statistics.mean(sent)
        print(
            f"{sc.name:55} {pct(per_obs, 50):10.1f} {pct(per_obs, 99):10.1f} "
            f"{per_frame:11.0f} {per_frame * per_second:8.0f} {shared:13.0%}"
        )


if __name__ == "__main__":
    main()
