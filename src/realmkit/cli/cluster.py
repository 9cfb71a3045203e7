"""``realmkit up`` / ``down`` / ``status``: a whole cluster from one command.

``up`` starts (or finds) the engines, migrates, seeds a default realm into an
empty database, then runs every node of the node file under the reviver and
shows the cluster live until Ctrl-C, which drains and stops every node, then
the embedded engines that ``up`` itself started (not ones it found running,
nor external ones); or until ``realmkit down`` (SIGTERM to the pid in
``<data_dir>/up.pid``), which stops the nodes the same way and leaves the
engines to ``down``, which stops every embedded engine of the data folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from rich.console import Console
from rich.live import Live

from realmkit.auth.passwords import hash_password
from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.cli.tables import live_view
from realmkit.client import bots as swarm
from realmkit.engines import embedded as engines
from realmkit.errors import (
    AlreadyExists,
    ConfigError,
    EngineUnreachable,
    NotFound,
    RealmkitError,
    UsageError,
)
from realmkit.nodes.orchestrator.launcher import stop_launched
from realmkit.procs import free_port, is_alive, stop_process, write_private
from realmkit.protocol.cluster import Drained, GatewayLoad, SpaceLoad, WorldLoad
from realmkit.seed import seed_if_empty
from realmkit.settings import Role, Settings, port_clashes
from realmkit.status import ClusterStatus, cluster_status
from realmkit.store.accounts import AccountRepo
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database
from realmkit.supervision.reviver import Reviver

REFRESH_SECONDS = 1.0
DOWN_TIMEOUT = 60.0


async def drain_node(settings: Settings, node_id: str) -> Drained:
    """``realmkit drain``: ``realms.drain_node``, saying to start the cluster first
    when its engines do not answer."""
    from realmkit import realms

    running_endpoints(settings)
    return await realms.drain_node(settings, node_id)


LISTEN_SECONDS = 1.5  # nodes report every second

NOT_RUNNING = "not running: start the cluster with `realmkit up`"


def running_endpoints(settings: Settings) -> engines.Endpoints:
    """The engines of a running cluster; ``EngineUnreachable`` saying to run
    ``realmkit up`` if they are down. Creates nothing (no data folder)."""
    try:
        return engines.endpoints(settings)
    except EngineUnreachable as exc:
        raise EngineUnreachable(exc.engine, exc.url, NOT_RUNNING) from exc


async def live_status(settings: Settings) -> ClusterStatus:
    """The cluster from PostgreSQL, plus what the nodes report on NATS right now."""
    urls = running_endpoints(settings)
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


def status_json(status: ClusterStatus) -> dict[str, Any]:
    """``status`` as ``--json`` prints it: each space load an object with named
    fields (on the bus it travels as a bare array)."""
    data: dict[str, Any] = msgspec.to_builtins(status)
    for world in data["worlds"]:
        world["space_loads"] = [
            dict(zip(SpaceLoad.__struct_fields__, load, strict=True))
            for load in world["space_loads"]
        ]
    return data


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


async def provide_bot_accounts(settings: Settings, first: int, count: int, tag: str) -> int:
    """Create the swarm's accounts that do not exist yet, in PostgreSQL, as an operator
    does: the login API limits sign-ups per address, and bots are many from one.
    How many were created."""
    db = await Database.connect(engines.endpoints(settings, nats=False).database_url, max_size=2)
    accounts = AccountRepo(db)
    made = 0
    try:
        for index in range(first, first + count):
            name = swarm.bot_account(index, tag)
            with contextlib.suppress(NotFound):
                await accounts.by_name(name)
                continue
            hashed = await asyncio.to_thread(hash_password, swarm.bot_password(index))
            with contextlib.suppress(AlreadyExists):  # another swarm of the same tag
                await accounts.create(name, hashed)
                made += 1
    finally:
        await db.close()
    return made


async def _run_bots(
    settings: Settings, count: int, stop: asyncio.Event, stats: swarm.SwarmStats, tag: str
) -> None:
    await _login_ready(settings)
    await provide_bot_accounts(settings, 0, count, tag)
    await swarm.run_swarm(count, login_url(settings), stop=stop, stats=stats, tag=tag)


def stop_started_engines(settings: Settings, infos: list[engines.EngineInfo]) -> list[str]:
    """Stop the embedded engines ``infos`` says were started now; their names."""
    started = {i.name for i in infos if i.embedded and i.started_now}
    pair = engines.EmbeddedEngines(settings.data_path)
    for engine in (pair.nats, pair.postgres):
        if engine.name in started:
            engine.stop()
    return [name for name in ("NATS", "PostgreSQL") if name in started]


def _engines_left(infos: list[engines.EngineInfo]) -> str:
    """What ``up`` leaves running, said when it stops."""
    found = [i for i in infos if not i.started_now]
    if not found:
        return ""
    embedded = [i.name for i in found if i.embedded]
    external = [i.name for i in found if not i.embedded]
    said = []
    if embedded:
        said.append(
            f"{' and '.join(embedded)} were running before `realmkit up` and stay up "
            "(`realmkit down` or `realmkit engines down` stops them)"
        )
    if external:
        said.append(f"external {' and '.join(external)} left alone")
    return "; ".join(said)


async def run_cluster(
    settings: Settings, config: Path | None, console: Console, *, live: bool, bots: int = 0
) -> None:
    """Everything ``realmkit up`` does, until SIGINT or SIGTERM."""
    pid_file = _pid_file(settings)
    with contextlib.suppress(OSError, ValueError):
        running = int(pid_file.read_text())
        if is_alive(running, "realmkit"):
            raise UsageError(f"realmkit up is already running (pid {running})", pid=running)
    clashes = port_clashes(settings.nodes, one_machine=True)
    if clashes:  # every node runs on this machine: 0.0.0.0 and 127.0.0.1 are one port here
        raise ConfigError("nodes", f"two nodes on one port: {'; '.join(clashes)}")
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
    endpoints, infos = await asyncio.to_thread(engines.engines_up, settings)
    terminated: list[bool] = []
    try:
        await _run_nodes(settings, config, console, endpoints, live=live, bots=bots, by=terminated)
    finally:
        if terminated:
            # SIGTERM: `realmkit down` (or a service manager) stops us, and the
            # engines after us; saying anything about them here would contradict it.
            console.print("the engines are left to `realmkit down` (stopped by SIGTERM)")
        else:
            stopped = await asyncio.to_thread(stop_started_engines, settings, infos)
            if stopped:
                console.print(f"stopped {' and '.join(stopped)} (started by `realmkit up`)")
            left = _engines_left(infos)
            if left:
                console.print(left)


async def _run_nodes(
    settings: Settings,
    config: Path | None,
    console: Console,
    endpoints: engines.Endpoints,
    *,
    live: bool,
    bots: int,
    by: list[bool],
) -> None:
    """Run the nodes until a signal; ``by`` gets True when it was SIGTERM."""
    pid_file = _pid_file(settings)
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
            [n.name for n in settings.nodes],
            endpoints,
            settings.data_path / "logs",
            config=config,
            data_dir=settings.data_path,
        )
        stop = asyncio.Event()

        def on_signal(sig: signal.Signals) -> None:
            # Ctrl-C reaches the children too (one process group): they stop on
            # their own now, and must not be restarted, nor said to be.
            reviver.begin_shutdown()
            if sig is signal.SIGTERM:
                by.append(True)
            stop.set()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        await reviver.start()
        console.print(
            f"cluster starting: {len(settings.nodes)} nodes, logs in {settings.data_path / 'logs'}"
        )
        console.print(f"login API: {login_url(settings)}")
        stats = swarm.SwarmStats()
        swarm_task = None
        if bots:
            tag = swarm.new_tag()
            console.print(f"bots log in as bot_{tag}_<index>")
            swarm_task = asyncio.create_task(_run_bots(settings, bots, stop, stats, tag))
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
            # Once more, now that no orchestrator runs: one that launched a node while
            # the others stopped (its scaler saw their spaces move) left it running.
            await asyncio.to_thread(stop_launched, settings.data_path)
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
                found = await cluster_status(db)
                width, height = console.size  # read each time: the terminal may be resized
                view.update(
                    live_view(
                        found,
                        reviver,
                        swarm.summary(stats, count) if count else None,
                        width=width,
                        height=height,
                    )
                )


def cluster_pid(settings: Settings) -> int | None:
    """The pid of the ``realmkit up`` running on this data folder, or None."""
    try:
        pid = int(_pid_file(settings).read_text())
    except (OSError, ValueError):
        return None
    return pid if is_alive(pid, "realmkit") else None


def stop_cluster(settings: Settings) -> int | None:
    """SIGTERM the running ``realmkit up`` and wait for it; its pid, or None."""
    pid = cluster_pid(settings)
    if pid is None:
        _pid_file(settings).unlink(missing_ok=True)
        return None
    stop_process(pid, DOWN_TIMEOUT)
    return pid
