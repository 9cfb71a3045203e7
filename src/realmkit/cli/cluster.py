"""``realmkit up`` / ``down`` / ``status``: a whole cluster from one command.

``up`` starts (or finds) the engines, migrates, seeds a default realm into an
empty database, then runs every node of the node file under the reviver and
shows the cluster live until Ctrl-C or ``realmkit down`` (SIGTERM to the pid
in ``<data_dir>/up.pid``), which drains and stops every node.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from datetime import datetime
from pathlib import Path

import aiohttp
import msgspec
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.client import bots as swarm
from realmkit.engines import embedded as engines
from realmkit.errors import RealmkitError, UsageError
from realmkit.nodes.matchmaker.leader import MATCHMAKER_LOCK
from realmkit.nodes.orchestrator.launcher import stop_launched
from realmkit.nodes.orchestrator.leader import LEADER_LOCK
from realmkit.procs import free_port, is_alive, stop_process, write_private
from realmkit.protocol.cluster import Drained, DrainNode, GatewayLoad, WorldLoad
from realmkit.seed import seed_if_empty
from realmkit.settings import Role, Settings
from realmkit.store.cluster import ClusterRepo
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database, lock_holder
from realmkit.store.records import RealmListing
from realmkit.supervision.reviver import Reviver

REFRESH_SECONDS = 1.0
DOWN_TIMEOUT = 60.0


class NodeRow(msgspec.Struct, frozen=True):
    node_id: str
    role: str
    state: str
    heartbeat_age_s: float


class InstanceRow(msgspec.Struct, frozen=True):
    instance_id: int
    realm_id: int | None
    map_id: int
    kind: str
    state: str
    node_id: str | None
    players: int


class ClusterStatus(msgspec.Struct, frozen=True):
    realms: list[RealmListing]
    nodes: list[NodeRow]
    instances: list[InstanceRow]
    # The orchestrator replica running the background duties, if any.
    leader: str | None = None
    # The matchmaker replica running the queues and matches, if any.
    matchmaker: str | None = None
    # Live reports heard on NATS (empty when only PostgreSQL was asked).
    worlds: list[WorldLoad] = []
    gateways: list[GatewayLoad] = []

    @property
    def players(self) -> int:
        return sum(r.population for r in self.realms)


async def cluster_status(db: Database) -> ClusterStatus:
    """The cluster as PostgreSQL knows it: realms, nodes, live instances."""
    async with db.connection() as conn:
        nodes = await conn.fetch(
            "SELECT node_id, role, state, "
            "extract(epoch FROM now() - last_heartbeat_at)::float8 AS heartbeat_age_s "
            "FROM cluster.nodes ORDER BY node_id"
        )
        instances = await conn.fetch(
            "SELECT i.instance_id, i.realm_id, i.map_id, i.kind, i.state, i.node_id, "
            "count(a.character_id) AS players FROM characters.instances i "
            "LEFT JOIN characters.player_assignments a "
            "  ON a.instance_id = i.instance_id AND a.state <> 'offline' "
            "WHERE i.state <> 'gone' GROUP BY i.instance_id ORDER BY i.instance_id"
        )
    return ClusterStatus(
        realms=await ClusterRepo(db).listing(),
        nodes=[msgspec.convert(dict(r), NodeRow) for r in nodes],
        instances=[msgspec.convert(dict(r), InstanceRow) for r in instances],
        leader=await lock_holder(db, LEADER_LOCK),
        matchmaker=await lock_holder(db, MATCHMAKER_LOCK),
    )


DRAIN_TIMEOUT = 300.0


async def drain_node(settings: Settings, node_id: str) -> Drained:
    """Ask the orchestrators to move every space off a world node (live migration)."""
    bus = await NatsBus.connect(engines.endpoints(settings).nats_url, name="drain")
    try:
        return await bus.request_patiently(
            subjects.ORCHESTRATOR_REQUESTS,
            DrainNode(node_id),
            Drained,
            within=DRAIN_TIMEOUT,
            attempt_timeout=DRAIN_TIMEOUT,
        )
    finally:
        await bus.close()


LISTEN_SECONDS = 1.5  # nodes report every second


async def live_status(settings: Settings) -> ClusterStatus:
    """The cluster from PostgreSQL, plus what the nodes report on NATS right now."""
    urls = engines.endpoints(settings)
    db = await Database.connect(urls.database_url, max_size=2)
    try:
        stored = await cluster_status(db)
    finally:
        await db.close()
    bus = await NatsBus.connect(urls.nats_url, name="status")
    worlds: dict[str, WorldLoad] = {}
    gateways: dict[str, GatewayLoad] = {}

    async def on_world(load: WorldLoad) -> None:
        worlds[load.node_id] = load

    async def on_gateway(load: GatewayLoad) -> None:
        gateways[load.gateway_id] = load

    try:
        await bus.subscribe(subjects.WORLD_LOADS, WorldLoad, on_world)
        await bus.subscribe(subjects.GATEWAY_LOADS, GatewayLoad, on_gateway)
        await asyncio.sleep(LISTEN_SECONDS)  # listen to one round of reports
    finally:
        await bus.close()
    return msgspec.structs.replace(
        stored,
        worlds=sorted(worlds.values(), key=lambda w: w.node_id),
        gateways=sorted(gateways.values(), key=lambda g: g.gateway_id),
    )


def status_tables(status: ClusterStatus, reviver: Reviver | None = None) -> Group:
    realms = Table("realm", "game", "pool", "status", "patch", "players", title="realms")
    for r in status.realms:
        realms.add_row(r.name, r.game_id, r.pool, r.status, r.patch or "-", str(r.population))
    nodes = Table(
        "node",
        "role",
        "state",
        "heartbeat",
        title=f"nodes (orchestrators' leader: {status.leader or 'none'}, "
        f"matchmakers' leader: {status.matchmaker or 'none'})",
    )
    if reviver is not None:
        nodes.add_column("pid")
        nodes.add_column("restarts")
    children = {c.name: c for c in reviver.children} if reviver else {}
    for n in status.nodes:
        row = [n.node_id, n.role, n.state, f"{n.heartbeat_age_s:.1f}s ago"]
        if reviver is not None:
            child = children.get(n.node_id)
            row += [str(child.pid or "-"), str(child.restarts)] if child else ["-", "-"]
        nodes.add_row(*row)
    instances = Table(
        "instance", "realm", "map", "kind", "state", "node", "players", title="instances"
    )
    for i in status.instances:
        instances.add_row(
            str(i.instance_id),
            str(i.realm_id or "pool"),
            str(i.map_id),
            i.kind,
            i.state,
            i.node_id or "-",
            str(i.players),
        )
    group = Group(realms, nodes, instances)
    if status.worlds:
        worlds = Table(
            "world node",
            "spaces",
            "players",
            "capacity",
            "tick p99 ms",
            "late ticks",
            title="world nodes (live, from NATS)",
        )
        for w in status.worlds:
            worlds.add_row(
                w.node_id,
                str(w.spaces),
                str(w.players),
                str(w.capacity),
                f"{w.tick_p99_ms:.1f}",
                str(w.late_ticks),
            )
        group.renderables.append(worlds)
    if status.gateways:
        gateways = Table(
            "gateway", "players", "capacity", "url", title="gateways (live, from NATS)"
        )
        for g in status.gateways:
            gateways.add_row(g.gateway_id, str(g.players), str(g.capacity), g.url)
        group.renderables.append(gateways)
    return group


def bots_table(s: swarm.SwarmSummary, *, live: bool) -> Table:
    title = "bots (live)" if live else "bots: summary"
    table = Table(
        "bots", "in world", "frames/s", "B/s per bot", "p50 ms", "p99 ms", "errors", title=title
    )
    cells = [
        str(s.bots),
        str(s.connected if live else s.entered),
        f"{s.frames_per_second:.0f}",
        f"{s.bytes_per_second_per_bot:.0f}",
        f"{s.latency_p50_ms:.1f}",
        f"{s.latency_p99_ms:.1f}",
        str(s.errors),
    ]
    if s.queued:
        for column in ("queued", "proposals", "matches", "queue wait p50 s"):
            table.add_column(column)
        cells += [str(s.queued), str(s.proposals), str(s.matches), f"{s.queue_wait_p50_s:.1f}"]
    if s.in_parties:
        table.add_column("in parties")
        cells.append(str(s.in_parties))
    table.add_row(*cells)
    return table


def _pid_file(settings: Settings) -> Path:
    return settings.data_path / "up.pid"


def login_url(settings: Settings) -> str:
    logins = settings.nodes_with_role(Role.LOGIN)
    if not logins:
        return "(no login node in the node file)"
    return f"http://{logins[0].host}:{logins[0].port}/"


async def _login_ready(settings: Settings, timeout: float = 60.0) -> None:
    """Wait until the login node heard from every gateway of the node file."""
    gateways = len(settings.nodes_with_role(Role.GATEWAY))
    url = login_url(settings) + "healthz"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        async with asyncio.timeout(timeout):
            while True:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                    async with http.get(url) as resp:
                        if (await resp.json()).get("gateways", 0) >= gateways:
                            return
                await asyncio.sleep(0.2)  # nodes are starting in other processes


async def _run_bots(
    settings: Settings, count: int, stop: asyncio.Event, stats: swarm.SwarmStats
) -> None:
    await _login_ready(settings)
    await swarm.run_swarm(count, login_url(settings), stop=stop, stats=stats)


async def run_cluster(
    settings: Settings, config: Path | None, console: Console, *, live: bool, bots: int = 0
) -> None:
    """Everything ``realmkit up`` does, until SIGINT or SIGTERM."""
    pid_file = _pid_file(settings)
    with contextlib.suppress(OSError, ValueError):
        running = int(pid_file.read_text())
        if is_alive(running, "realmkit"):
            raise UsageError(f"realmkit up is already running (pid {running})", pid=running)
    taken = [
        f"{spec.name} ({spec.host}:{spec.port})"
        for spec in settings.nodes
        if spec.port and free_port(spec.port, spec.host) != spec.port
    ]
    if taken:
        raise UsageError(
            f"ports in use: {', '.join(taken)}; stop what holds them or change realmkit.toml",
            nodes=taken,
        )
    endpoints, _ = await asyncio.to_thread(engines.engines_up, settings)
    db = await Database.connect(endpoints.database_url, max_size=3)
    try:
        applied = await migrate(db)
        if applied:
            console.print(f"applied migrations {applied}")
        if await seed_if_empty(db):
            console.print("seeded realm Azure (game classic)")
        settings.data_path.mkdir(parents=True, exist_ok=True)
        write_private(pid_file, str(os.getpid()))
        reviver = Reviver(
            [n.name for n in settings.nodes], endpoints, settings.data_path / "logs", config=config
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await reviver.start()
        console.print(
            f"cluster starting: {len(settings.nodes)} nodes, logs in {settings.data_path / 'logs'}"
        )
        console.print(f"login API: {login_url(settings)}")
        stats = swarm.SwarmStats()
        swarm_task = asyncio.create_task(_run_bots(settings, bots, stop, stats)) if bots else None
        try:
            await _show(db, reviver, console, stop, live=live, bots=(bots, stats))
        finally:
            console.print("stopping the cluster...")
            if swarm_task is not None:
                stop.set()
                with contextlib.suppress(Exception):
                    await swarm_task
            # World nodes the orchestrators launched stop alongside the node file's.
            launched = asyncio.create_task(asyncio.to_thread(stop_launched, settings.data_path))
            await reviver.drain()
            await reviver.stop()
            await launched
            pid_file.unlink(missing_ok=True)
            console.print("cluster stopped")
    finally:
        await db.close()


async def _show(
    db: Database,
    reviver: Reviver,
    console: Console,
    stop: asyncio.Event,
    *,
    live: bool,
    bots: tuple[int, swarm.SwarmStats],
) -> None:
    count, stats = bots

    async def wait_or_refresh() -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REFRESH_SECONDS):
                await stop.wait()
        return stop.is_set()

    if not live:
        last = ""
        while not await wait_or_refresh():
            with contextlib.suppress(RealmkitError):
                status = await cluster_status(db)
                running = sum(c.pid is not None for c in reviver.children)
                restarts = sum(c.restarts for c in reviver.children)
                line = (
                    f"{datetime.now():%H:%M:%S} nodes running {running}/{len(reviver.children)} "
                    f"(restarts {restarts}), instances {len(status.instances)}, "
                    f"players {status.players}"
                )
                if count:
                    b = swarm.summary(stats, count)
                    line += f", bots {b.connected}/{count} p99 {b.latency_p99_ms:.0f} ms"
                if line[9:] != last:
                    console.print(line)
                    last = line[9:]
        return
    with Live(console=console, refresh_per_second=2) as view:
        while not await wait_or_refresh():
            with contextlib.suppress(RealmkitError):
                tables = status_tables(await cluster_status(db), reviver)
                if count:
                    tables.renderables.append(bots_table(swarm.summary(stats, count), live=True))
                view.update(tables)


def stop_cluster(settings: Settings) -> int | None:
    """SIGTERM the running ``realmkit up`` and wait for it; its pid, or None."""
    try:
        pid = int(_pid_file(settings).read_text())
    except (OSError, ValueError):
        return None
    if not is_alive(pid, "realmkit"):
        _pid_file(settings).unlink(missing_ok=True)
        return None
    stop_process(pid, DOWN_TIMEOUT)
    return pid
