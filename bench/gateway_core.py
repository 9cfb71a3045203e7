"""How many players one gateway core holds: the real gateway's work for N players.

    python bench/gateway_core.py [--counts 1000,2000,3000] [--duration 20]

For each count N it records the frames of one space of N players and 2N
creatures (the sim's crowd on the classic continent, run as the one cell of
its continent, frames at the map's 10 a second), then runs three processes:

- a gateway: the real ``GatewayNode`` with its NATS subscription to its
  frames, ``Fanout``/``Replicator``, ``Sender`` and the ``Connection`` checks
  of every input, which it batches and publishes to NATS as it does in a
  cluster. Players are seated at their hello (the ticket is the character
  id): no login, ticket or orchestrator, which are the entry path, measured by
  ``bench/logins.py``;
- a feeder that publishes the recorded frames on the gateway's subject at the
  map's frame rate (over again, ticks renumbered, once the recording ends);
- N light clients (``LightClient``, picows) that each send a move ten times a
  second and count their frames.

With ``--profile DIR``, py-spy samples the gateway over the window.

Per count: the gateway process's CPU over the window (percent of one core, per
player, and the players one core holds at that rate), its sender's delay p99
(a frame's arrival to each write), frames per second per player, and the
machine's busy share. Figures only; nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec
import numpy as np
import psutil
import uvloop
from aiohttp import web

from cluster_ccu import finish_profiles, start_profiles
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.client.light import LightClient
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.engines.embedded import EmbeddedNats, Endpoints
from realmkit.nodes.gateway.node import GatewayNode, Player, tune_gc
from realmkit.nodes.gateway.sockets import PlayerSocket
from realmkit.procs import free_port, stop_process
from realmkit.protocol.client import NewWorld
from realmkit.protocol.cluster import GatewayTraffic
from realmkit.protocol.frames import SpaceFrame
from realmkit.session.connection import Authenticate, Connection, Reply
from realmkit.settings import NodeSpec
from sim_tick import Scenario, run

FRAME_SECONDS = 0.1  # the classic continent's 10 frames a second
RECORDED = 100  # frames recorded per count, played over and over
GATEWAY = "gateway-bench"


# --- the gateway process ------------------------------------------------------------


class BenchGateway(GatewayNode):
    """The real gateway, but a hello's ticket is the character id, seated at once in
    the recorded space (``first``: one of its frames)."""

    def __init__(self, nats_url: str, port: int, first: SpaceFrame) -> None:
        super().__init__(NodeSpec(name=GATEWAY, role="gateway", port=port), Endpoints(nats_url, ""))
        self.first = first
        self.bounds = load_pack(classic_pack_path()).maps[first.map_id].bounds

    async def _enter(
        self, sock: PlayerSocket, conn: Connection, auth: Authenticate, player: list[Player]
    ) -> None:
        cid, first = int(auth.ticket), self.first
        conn.seated(cid, first.instance_id, 1, self.bounds, first.continent)
        p = Player(sock, conn)
        player.append(p)
        self.players[cid] = p
        self._carry_out(
            sock, Reply(NewWorld(cid, first.instance_id, first.map_id, 20, self.bounds)), player
        )

    async def _leave(self, p: Player) -> None:
        # No chat, desk or space behind this gateway: a leaving client is only forgotten.
        if self.players.get(p.character_id) is p:
            del self.players[p.character_id]
            self.fanout.left(p.conn.replica, p.character_id)


async def serve_gateway(nats_url: str, port: int, stats_port: int, first: SpaceFrame) -> None:
    """The bench gateway, its frames from NATS, and ``/mark`` and ``/stats`` on
    ``stats_port`` for the driver."""
    node = BenchGateway(nats_url, port, first)
    tune_gc()  # as GatewayNode.start does
    node._bus = await NatsBus.connect(nats_url, name=GATEWAY)
    await node.bus.subscribe(subjects.gateway_frames(GATEWAY), GatewayTraffic, node._on_traffic)
    sending = asyncio.create_task(node.sender.run())
    await node.listen()

    async def mark(request: web.Request) -> web.Response:
        node.sender.delays.clear()
        node.sender.sent = 0
        return web.json_response({})

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(
            {"p99_ms": node.sender.p99_ms(), "sent": node.sender.sent, "players": len(node.players)}
        )

    app = web.Application()
    app.add_routes([web.get("/mark", mark), web.get("/stats", stats)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", stats_port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    sending.cancel()
    await node.drain()
    await runner.cleanup()
    await node.bus.close()


# --- the feeder and the clients (the driving process) ------------------------------


async def feed(nats_url: str, frames: list[SpaceFrame], stop: asyncio.Event) -> None:
    """The recorded frames on the gateway's subject, at the frame rate, ticks going on."""
    bus = await NatsBus.connect(nats_url, name="feeder")
    step = frames[1].tick - frames[0].tick
    tick = frames[-1].tick
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    i = 0
    try:
        while not stop.is_set():
            tick += step
            frame = msgspec.structs.replace(frames[i % len(frames)], tick=tick)
            await bus.publish(subjects.gateway_frames(GATEWAY), frame)
            i += 1
            deadline += FRAME_SECONDS
            await asyncio.sleep(max(0.0, deadline - loop.time()))
    finally:
        await bus.close()


async def walk(clients: list[LightClient], stop: asyncio.Event) -> None:
    """Each client moves ten times a second, a tenth of them every 10 ms."""
    slices = 10
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    k = 0
    while not stop.is_set():
        for c in clients[k % slices :: slices]:
            if c.position is not None and not c.closed.is_set():
                x, y, z, o = c.position
                step = 0.5 if (c.seq // 20) % 2 else -0.5  # back and forth
                await c.move(x + step * math.cos(o), y, z, o)
        k += 1
        deadline += FRAME_SECONDS / slices
        await asyncio.sleep(max(0.0, deadline - loop.time()))


def record(count: int) -> list[SpaceFrame]:
    """Frames of one space of ``count`` players and twice as many creatures."""
    scenario = Scenario(f"{count} players", count, 2 * count, False)
    _, frames = run(scenario, RECORDED * 2 + 20, warmup=20, cell=True)
    return frames[-RECORDED:]


async def drive(
    frames: list[SpaceFrame],
    port: int,
    stats_port: int,
    gateway: psutil.Process,
    nats_url: str,
    duration: float,
    profile: Path | None,
) -> dict[str, object]:
    observers = np.unique(np.frombuffer(frames[0].observers, dtype="<i8")).tolist()
    players = len(observers)
    stop = asyncio.Event()
    clients: list[LightClient] = []
    feeding = walking = None
    try:
        url = f"ws://127.0.0.1:{port}/ws"
        for _ in range(100):
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            await asyncio.sleep(0.1)
        # Frames flow while the players come in, as in a login wave.
        feeding = asyncio.create_task(feed(nats_url, frames, stop))
        for i, cid in enumerate(observers):
            clients.append(await LightClient.connect(url, str(cid)))
            if i % 500 == 499:
                print(f"  {i + 1} of {len(observers)} connected", flush=True)
        async with asyncio.timeout(60):
            for c in clients:
                while c.position is None:
                    await c.wait_frame()
        walking = asyncio.create_task(walk(clients, stop))
        await asyncio.sleep(5.0)  # settle: keyframes of everything in view are behind
        async with aiohttp.ClientSession() as http:
            proc = gateway
            await (await http.get(f"http://127.0.0.1:{stats_port}/mark")).read()
            frames_before = sum(c.frames for c in clients)
            cpu_before = proc.cpu_times()
            psutil.cpu_percent(None)
            spies = (
                start_profiles({"gateway": gateway}, ("gateway",), duration, profile, players)
                if profile is not None
                else {}
            )
            started = time.monotonic()
            await asyncio.sleep(duration)
            elapsed = time.monotonic() - started
            cpu_after = proc.cpu_times()
            busy = psutil.cpu_percent(None)
            frames_after = sum(c.frames for c in clients)
            stats = await (await http.get(f"http://127.0.0.1:{stats_port}/stats")).json()
        profiled = finish_profiles(spies)
        used = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
        kernel = cpu_after.system - cpu_before.system
        core = 100 * used / elapsed
        return {
            "players": players,
            "gateway_cpu_pct": round(core, 1),
            "kernel_pct": round(100 * kernel / elapsed, 1),
            "cpu_per_player_pct": round(core / players, 4),
            "players_per_core": int(players * 100 / core) if core else 0,
            "send_p99_ms": round(stats["p99_ms"], 1),
            "frames_per_s_per_player": round((frames_after - frames_before) / elapsed / players, 2),
            "closed": sum(c.closed.is_set() for c in clients),
            "machine_busy_pct": busy,
            "profile": profiled.get("gateway"),
        }
    finally:
        stop.set()
        for task in (feeding, walking):
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


def level(count: int, nats_url: str, duration: float, profile: Path | None) -> dict[str, object]:
    frames = record(count)
    port, stats_port = free_port(), free_port()
    with tempfile.NamedTemporaryFile(suffix=".msgpack", delete=False) as f:
        f.write(msgspec.msgpack.encode(frames[0]))
        first = Path(f.name)
    gateway = subprocess.Popen(
        [sys.executable, __file__, "_gateway", nats_url, str(port), str(stats_port), str(first)]
    )
    try:
        return uvloop.run(
            drive(
                frames, port, stats_port, psutil.Process(gateway.pid), nats_url, duration, profile
            )
        )
    finally:
        stop_process(gateway.pid, timeout=10)
        first.unlink(missing_ok=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_gateway":
        first = msgspec.msgpack.decode(Path(sys.argv[5]).read_bytes(), type=SpaceFrame)
        uvloop.run(serve_gateway(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), first))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,2000,3000")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per count")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy on the gateway over the window: top functions printed, "
        "raw stacks to this folder",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gateway-core-") as root:
        print(f"NATS log: {root}/nats.log (removed at the end)", flush=True)
        nats = EmbeddedNats(Path(root))
        nats.start()
        try:
            print(
                f"{'players':>7} {'gw cpu %':>8} {'kernel %':>8} {'%/player':>9} "
                f"{'per core':>8} {'send p99':>8} {'fr/s/pl':>7} {'closed':>6} {'machine':>7}",
                flush=True,
            )
            for count in (int(c) for c in args.counts.split(",")):
                r = level(count, nats.url(), args.duration, args.profile)
                print(
                    f"{r['players']:>7} {r['gateway_cpu_pct']:>8} {r['kernel_pct']:>8} "
                    f"{r['cpu_per_player_pct']:>9} {r['players_per_core']:>8} "
                    f"{r['send_p99_ms']:>8} {r['frames_per_s_per_player']:>7} "
                    f"{r['closed']:>6} {r['machine_busy_pct']:>6}%",
                    flush=True,
                )
                if r["profile"]:
                    print(f"        {r['profile']}", flush=True)
        finally:
            nats.stop()


if __name__ == "__main__":
    main()
