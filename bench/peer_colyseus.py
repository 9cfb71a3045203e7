"""Side by side with Colyseus (issue 16): the peer's benchmark, then realmkit's
cluster benchmark, on this machine in one invocation, and one table of both.

    .venv/bin/python bench/peer_colyseus.py                  # peer 100,150,200; realmkit 600,1000
    .venv/bin/python bench/peer_colyseus.py --peer-ns 50 --realmkit-ns 50 --window 10 --settle 5

The peer is the Colyseus 0.16 benchmark in /work/shared/peers/colyseus (see its
README). Its files are copied to ``--peer-dir`` (default /tmp/colyseus-peer; its
``node_modules`` are kept there between invocations, installed with the npm
command of its ``run.sh``), and its ``bench.js`` runs once per N (variant B, its
own flags, a free loopback port; ``--extra 0`` so no N is added). Its
``results.json`` (written under the copy's ``runs/``) gives the figures.
realmkit's side is ``cluster_ccu.run_level`` (the established realm:
characters scattered over the continent by a first pass, light bots with 10
full clients per bot process), one fresh cluster per N.

Printed per N of each side: all joined, errors, echo (input-to-visible) p50 and
p99, whether the level passes (every player joined and in the world at the
window's end, zero errors, p99 < 150 ms), the server's CPU (% of one core) and
per player, bytes and frames (patches) per second per client, visible entities
per client, the machine's busy share (% of all its cores) and the load
generator's CPU; then the largest N that passes on each side. ``--json PATH``
writes every figure of both benchmarks.

Every run takes the benchmark lock (/tmp/realmkit-bench.lock, ``flock``) for the
whole invocation, so both sides run on the same quiet machine with no other
benchmark between them; when the lock is held by this process's caller
(``flock /tmp/realmkit-bench.lock .venv/bin/python bench/peer_colyseus.py``)
the driver runs under it. Every process it starts is stopped by its PID; only
127.0.0.1 is used.

How the workloads are aligned, and why:

* **Variant B** of the peer (a ``StateView`` per client: each client is sent
  only the entities within its view radius) is the one doing what realmkit does;
  variant A sends every change to every client (``--peer-variant A``).
* **Same creature density and view radius.** realmkit's continent (the
  classic pack, as every cluster_ccu run has it) is 2,048 x 2,048 with 421
  creatures (36 spawns of 8-16, each within 15-30 units of its point) and view
  radius 80. The peer's world is fixed at 4,096 x 4,096 in both its server.js and
  client.js (no flag), and its server reads ``NPC_COUNT`` and ``AOI_RADIUS``
  from the environment. So the peer runs with ``NPC_COUNT=1684`` (421 x 4: the
  same 1.0e-4 creatures per square unit) and ``AOI_RADIUS=80``: a client sees
  as many creatures on both sides (about 2). The copy of the peer is not
  modified. ``--peer-npcs 2000 --peer-radius 200`` gives the peer's published
  settings (about 17 entities per client), to check against its README.
* **What stays different** (none can be aligned with the peer's flags):
  - *Player density.* The peer's world is four times the continent's area, so
    at the same N its players are four times sparser: at 150 players a peer
    client sees about 0.2 other players, a realmkit client at 600 about 3. The
    table reports the visible entities per client on both sides (self
    excluded): the peer's from its 10 probes at the window's end (the
    expectation ``(NPCs + N - 1) * pi * R^2 / 4096^2`` beside it, as 10 probes
    are few), realmkit's from an in-process space of the same pack with N
    players walking as ``sim_tick.py``'s crowd (40 ticks, at least 2,000
    observer samples): the cluster's bots do not report it.
  - *Creature motion.* The peer's NPCs all move every tick (40 units/s, a new
    heading 2 % of ticks), so every NPC changes every tick; realmkit's creatures
    stroll one wander leg about every 6 s and aggro and chase players who come
    near. The peer has more changes to send per tick (its StateView encoder
    walks every changed entity for every client).
  - *The creatures' layout.* The peer's NPCs are spread uniformly; realmkit's
    stand in 36 groups, so its visible count varies more between clients.
  - *Hysteresis and caps.* realmkit keeps an entity visible until 85 units
    (hysteresis 5), shows at most 128 and sends at most 8 KB/s per client; the
    peer has none of these.
  - *Moves.* Both send 10 moves a second per client. The peer's clients take a
    random step of up to 3 units on each axis from their spawn point (a random
    walk); realmkit's bots walk at 6 units/s (0.6 units a move) between
    waypoints within 40 units of a home near where their character was
    scattered. Spawn points: the peer's uniform over [64, 4032]; realmkit's
    characters uniform over [40, 2000], logged in again at 20 a second with
    refresh tokens.
  - *The server.* The peer's server is one Node process (one room); its CPU is
    that process's. realmkit's is a cluster (login, 2 gateways, orchestrator,
    2 world nodes with the continent as one cell, NATS, PostgreSQL): its CPU
    is all of them together.
  - *Warm-up.* The peer joins 25 at a time (22 s deadline), then warms up 5 s;
    its runs are capped at 58 s, so a longer warm-up would eat the window.
    realmkit's bots settle for ``--settle`` seconds (default 50, as
    cluster_ccu.py) after all are in the world.
  - *Latency.* The peer's echo is a probe's time from sending a move to the first
    decoded patch showing its player there, from its 10 probes (full decoders,
    one process). realmkit's is from sending move ``seq`` to the first frame
    whose ack reaches it, measured by every bot (light ones read the frame's
    header); the p99 used is the worse of all bots' and of its 20 full
    clients' (10 per bot process), so realmkit's pass is the stricter one.
  - *Frames.* Both tick at 20 Hz, but realmkit's world nodes build a frame at
    the map's ``frame_rate``, 10 a second on the continent (every other tick,
    with the interest update), where the peer patches every tick (its
    ``patchRate`` is fixed at 50 ms). realmkit therefore sends half as many
    frames, and a move waits up to 100 ms for the next frame where the peer's
    waits up to 50 ms (25 ms more on average).
  - *The pass rule* is the same on both sides (above). The peer's own rule also
    wants its server under 95 % of a core; its verdict is in the notes.
* **The same on both sides:** 20 Hz ticks, the measuring window
  (``--window``, default 30 s; the peer shortens it, and says so, when its
  58 s run cap would be passed), light clients plus full ones in two
  load-generator processes, WebSocket payload bytes of every message (no
  WebSocket or TCP headers), frames counted as the peer counts patches, CPU
  from /proc over the window, the machine's busy share over the window.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import fcntl
import json
import math
import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from cluster_ccu import run_level
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.procs import free_port
from realmkit.sim.space import Space
from sim_tick import Crowd, Scenario

PEER_SOURCE = Path("/work/shared/peers/colyseus")
PEER_FILES = (
    *("README.md", "run.sh", "bench.js", "client.js", "server.js"),
    *("package.json", "package-lock.json", ".npmrc", ".gitignore"),
)
PEER_WORLD = 4096.0
PEER_RUN_TIMEOUT = 180.0  # the peer caps a run at 58 s; its clean-up adds a few
# The machine-wide lock every benchmark here takes (flock), at this fixed path.
LOCK = Path("/tmp/realmkit-bench.lock")  # noqa: S108
P99_LIMIT_MS = 150.0
CONTINENT = 1


@dataclass
class Row:
    """One N of one side, in the table's terms."""

    side: str
    n: int
    joined: int | None
    errors: int | None
    p50_ms: float | None
    p99_ms: float | None
    passed: bool
    server_cpu: float | None  # % of one core
    cpu_per_player: float | None
    bytes_per_s: float | None  # per client
    frames_per_s: float | None  # per client
    visible: float | None  # per client, self excluded
    visible_note: str
    machine_busy: float | None  # % of all cores
    loadgen_cpu: float | None  # % of one core
    notes: list[str] = field(default_factory=list)


# --- the benchmark lock ----------------------------------------------------------


def lock_holders(path: Path) -> set[int]:
    """PIDs holding an flock on ``path`` (from /proc/locks; waiters left out)."""
    inode = path.stat().st_ino
    holders = set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text().splitlines():
            parts = line.split()
            if len(parts) > 5 and parts[1] == "FLOCK" and parts[5].endswith(f":{inode}"):
                holders.add(int(parts[4]))
    return holders


@contextlib.contextmanager
def bench_lock(path: Path) -> Iterator[None]:
    """Hold the machine's benchmark lock, waiting for it if another benchmark has it;
    when the holder is this process's caller (``flock PATH driver``), run under it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            ancestors = {p.pid for p in psutil.Process().parents()}
            holders = lock_holders(path)
            if holders & ancestors:
                print(f"{path} is held by this run's caller (PID {min(holders)}): running under it")
            else:
                print(f"waiting for {path} (held by PID {sorted(holders)})...", flush=True)
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


# --- processes ---------------------------------------------------------------------


def stop_tree(pid: int, grace: float = 5.0) -> None:
    """Stop a process and every process under it, each by its PID."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)


def stop_own_children() -> None:
    """Whatever this driver started and is still running (an interrupted level's)."""
    for child in psutil.Process().children():
        stop_tree(child.pid)


def machine_busy(seconds: float = 3.0) -> float:
    """% of all cores busy over the next ``seconds``: other work on the machine."""
    return float(psutil.cpu_percent(interval=seconds))


# --- the peer ----------------------------------------------------------------------


def prepare_peer(peer_dir: Path) -> None:
    """Copy the peer's files (read-only where they live) and install its packages
    as its run.sh does, if they are not there yet."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SystemExit("node and npm are needed for the peer (or pass --skip-peer)")
    peer_dir.mkdir(parents=True, exist_ok=True)
    for name in PEER_FILES:
        target = peer_dir / name
        if target.exists():
            target.chmod(0o644)
        shutil.copyfile(PEER_SOURCE / name, target)
        target.chmod(0o755 if name.endswith(".sh") else 0o644)
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    print(f"peer: {PEER_SOURCE} copied to {peer_dir}; node {version.stdout.strip()}")
    modules = peer_dir / "node_modules"
    if not (modules / "colyseus").is_dir() or not (modules / "colyseus.js").is_dir():
        print("peer: npm install (as its run.sh)...", flush=True)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=peer_dir,
            check=True,
        )


def run_peer(peer_dir: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run of the peer's bench.js at ``n`` players: its results.json."""
    out = peer_dir / "runs" / f"side-by-side-{args.peer_variant}-{n}.json"
    out.unlink(missing_ok=True)
    variant = args.peer_variant
    command = [
        *("node", "bench.js", "--variants", variant, f"--ns-{variant}", str(n)),
        *("--extra", "0", "--window", str(args.window), "--port", str(free_port())),
        *("--budget", "600", "--out", str(out)),
    ]
    env = {**os.environ, "NPC_COUNT": str(args.peer_npcs), "AOI_RADIUS": str(args.peer_radius)}
    proc = subprocess.Popen(
        command, cwd=peer_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        printed, _ = proc.communicate(timeout=PEER_RUN_TIMEOUT)
    finally:
        stop_tree(proc.pid)  # its server and clients too, if it did not stop them
    for line in printed.splitlines():
        if line.startswith("[bench]"):
            print(f"  peer| {line}")
    if not out.exists():
        raise SystemExit(f"the peer wrote no results (exit {proc.returncode}):\n{printed}")
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def peer_row(results: dict[str, Any], n: int, npcs: int, radius: float) -> Row:
    if not results["runs"]:  # the peer skipped it (its sweep budget)
        r: dict[str, Any] = {"status": f"skipped: {results.get('skipped')}", "pass": False}
    else:
        r = results["runs"][0]
    cpus = results["meta"]["cpus"]
    joined = r.get("joined")
    errors = r.get("joinFailed")
    p99 = r.get("echoP99Ms")
    cpu = r.get("serverCpuPct")
    seen = r.get("probeVisibleEntitiesAvg")
    expected = (npcs + n - 1) * math.pi * radius**2 / PEER_WORLD**2
    notes = [f"status {r['status']}", f"peer's own rule (server CPU < 95 %): {r['pass']}"]
    notes += [f"server ticks/s {r.get('serverTicksPerS')}", *r.get("notes", [])]
    return Row(
        side="peer",
        n=n,
        joined=joined,
        errors=errors,
        p50_ms=r.get("echoP50Ms"),
        p99_ms=p99,
        passed=r["status"] == "ok"
        and joined == n
        and errors == 0
        and p99 is not None
        and p99 < P99_LIMIT_MS,
        server_cpu=cpu,
        cpu_per_player=round(cpu / joined, 3) if cpu is not None and joined else None,
        bytes_per_s=r.get("bytesPerClientPerS"),
        frames_per_s=r.get("patchesPerClientPerS"),
        visible=round(seen - 1, 1) if seen is not None else None,  # its own player
        visible_note=f"expected {expected:.1f}",
        machine_busy=round(r["machineBusyPct"] / cpus, 1) if "machineBusyPct" in r else None,
        loadgen_cpu=round(sum(c or 0.0 for c in r.get("clientCpuPct", [])), 1),
        notes=notes,
    )


# --- realmkit ----------------------------------------------------------------------


def continent_alike() -> tuple[int, float]:
    """The peer's NPC count for the classic continent's creature density on the
    peer's world, and the continent's view radius."""
    pack = load_pack(classic_pack_path())
    continent = pack.maps[CONTINENT]
    b = continent.bounds
    creatures = sum(s.count for s in pack.spawns_on(CONTINENT))
    area = (b.max_x - b.min_x) * (b.max_y - b.min_y)
    return round(creatures * PEER_WORLD**2 / area), continent.view_radius


def realmkit_visible(players: int, ticks: int = 40, samples: int = 2000) -> float:
    """Entities visible per player (self excluded) on the classic continent with
    ``players`` walking over it, from an in-process space (the cluster's bots do
    not report what they see); spaces of other seeds until ``samples`` observers."""
    pack = load_pack(classic_pack_path())
    counts: list[float] = []
    observed, seed = 0, 0
    while observed < samples:
        space = Space(pack, CONTINENT, instance_id=1, seed=3 + seed, item_ids=(1, 1_000_000))
        crowd = Crowd(space, Scenario("side by side", players, 0, False), seed=2 + seed)
        for tick in range(20 + ticks):
            crowd.feed(tick)
            space.step(tick, frame=space.frame_due(tick))  # as the world node asks
            frames = space.frames_to_send()
            space.events_to_emit()
            if tick >= 20:
                # Column bytes / item size: visible rows are int32, observer ids int64.
                counts += [len(f.visible) / 4 / max(1, len(f.observers) / 8) for f in frames]
        observed += players
        seed += 1
    return statistics.mean(counts)


def realmkit_row(r: dict[str, Any], n: int, visible: float) -> Row:
    in_world = int(r["players_in_world"])
    p99 = max(float(r["latency_p99_ms"]), float(r["probe_latency_p99_ms"]))
    joined = min(int(r["entered"]), in_world)
    return Row(
        side="realmkit",
        n=n,
        joined=joined,
        errors=int(r["errors"]),
        p50_ms=r["latency_p50_ms"],
        p99_ms=p99,
        passed=joined >= n and r["errors"] == 0 and bool(r["windowed"]) and p99 < P99_LIMIT_MS,
        server_cpu=r["server_cpu_percent"],
        cpu_per_player=r["server_cpu_percent_per_player"],
        bytes_per_s=r["bytes_per_s_per_player"],
        frames_per_s=r["frames_per_s_per_player"],
        visible=round(visible, 1),
        visible_note="in-process space",
        machine_busy=r["machine_busy_percent"],
        loadgen_cpu=r["cpu_percent_by_role"].get("bots"),
        notes=[
            f"p99 all bots {r['latency_p99_ms']} ms, full clients {r['probe_latency_p99_ms']} ms",
            f"world tick p99 {r['world_tick_p99_ms']} ms",
            f"entered {r['entered']}, in the world at the end {r['players_in_world']}",
            f"by role {r['cpu_percent_by_role']}",
        ],
    )


# --- the table ---------------------------------------------------------------------


def cell(value: object, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}" if value >= 10 else f"{value:,.3g}{unit}"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value}{unit}"


def table(rows: list[Row]) -> str:
    head = (
        "| side | N | joined | errors | echo p50 / p99 | passes | server CPU, % of a core "
        "(per player) | B/s per client | frames/s per client | visible per client | "
        "machine busy, % of all cores | load generator CPU |"
    )
    lines = [head, "|---|---:|---:|---:|---|---|---|---:|---:|---|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r.side} | {r.n:,} | {cell(r.joined)} | {cell(r.errors)} | "
            f"{cell(r.p50_ms)} / {cell(r.p99_ms)} ms | {'yes' if r.passed else 'no'} | "
            f"{cell(r.server_cpu)} ({cell(r.cpu_per_player)}) | {cell(r.bytes_per_s)} | "
            f"{cell(r.frames_per_s)} | {cell(r.visible)} ({r.visible_note}) | "
            f"{cell(r.machine_busy)} | {cell(r.loadgen_cpu)} |"
        )
    return "\n".join(lines)


def held(rows: list[Row], side: str) -> str:
    tried = [r.n for r in rows if r.side == side]
    ok = [r.n for r in rows if r.side == side and r.passed]
    if not tried:
        return f"{side}: not run"
    best = f"{max(ok):,}" if ok else f"none (fewer than {min(tried):,})"
    return f"{side}: {best} players held (of {', '.join(f'{n:,}' for n in tried)} tried)"


# --- the driver ---------------------------------------------------------------------


def counts(text: str) -> list[int]:
    return [int(c) for c in text.split(",") if c.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peer-ns", type=counts, default="100,150,200", help="peer's Ns")
    parser.add_argument("--realmkit-ns", type=counts, default="600,1000", help="realmkit's Ns")
    parser.add_argument(
        "--window", type=float, default=30.0, help="measured seconds per level, both sides"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=50.0,
        help="realmkit: seconds after every bot is in the world, before the window",
    )
    parser.add_argument("--skip-peer", action="store_true", help="run realmkit's side only")
    parser.add_argument("--skip-realmkit", action="store_true", help="run the peer's side only")
    parser.add_argument(
        "--peer-variant",
        choices=("A", "B"),
        default="B",
        help="B: a StateView per client (as realmkit); A: every change to every client",
    )
    npcs, radius = continent_alike()
    parser.add_argument(
        "--peer-npcs",
        type=int,
        default=npcs,
        help=f"the peer's NPCs on its 4096 x 4096 world (default {npcs}: the continent's density)",
    )
    parser.add_argument(
        "--peer-radius",
        type=float,
        default=radius,
        help=f"the peer's view radius, variant B (default {radius:g}: the continent's)",
    )
    parser.add_argument(
        "--peer-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "colyseus-peer",
        help="where the peer is copied to and run (its node_modules kept there)",
    )
    parser.add_argument("--json", type=Path, help="write every figure of both sides here")
    args = parser.parse_args()

    if not args.skip_peer:
        prepare_peer(args.peer_dir)
    rows: list[Row] = []
    raw: dict[str, Any] = {"params": {k: str(v) for k, v in vars(args).items()}}
    try:
        with bench_lock(LOCK):
            if not args.skip_peer:
                raw["peer_machine_busy_before"] = before = machine_busy()
                print(f"peer: the machine was {before:.1f}% busy before (3 s)", flush=True)
                for n in args.peer_ns:
                    print(
                        f"peer N={n}: variant {args.peer_variant}, {args.peer_npcs} NPCs, "
                        f"radius {args.peer_radius:g}, window {args.window:g} s...",
                        flush=True,
                    )
                    results = run_peer(args.peer_dir, n, args)
                    raw.setdefault("peer", []).append(results)
                    rows.append(peer_row(results, n, args.peer_npcs, args.peer_radius))
            if not args.skip_realmkit:
                raw["realmkit_machine_busy_before"] = before = machine_busy()
                print(f"realmkit: the machine was {before:.1f}% busy before (3 s)", flush=True)
                for n in args.realmkit_ns:
                    visible = realmkit_visible(n)
                    print(
                        f"realmkit N={n}: a fresh cluster, a first pass, the characters "
                        f"scattered, a second pass, {args.settle:g} s settling, window "
                        f"{args.window:g} s...",
                        flush=True,
                    )
                    level = run_level(
                        n, args.window, 2, args.settle, scatter=True, ramp=20.0, probes=10
                    )
                    raw.setdefault("realmkit", []).append(level)
                    rows.append(realmkit_row(level, n, visible))
                    print(f"  realmkit| {json.dumps(level)}", flush=True)
    finally:
        stop_own_children()
    print()
    print(table(rows))
    print()
    for side in ("peer", "realmkit"):
        print(held(rows, side))
    print()
    for r in rows:
        print(f"{r.side} N={r.n}: " + "; ".join(r.notes))
    if args.json is not None:
        raw["rows"] = [asdict(r) for r in rows]
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
