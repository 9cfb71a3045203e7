"""A real cluster for cluster tests: `realmkit up` as a child process on free ports.

One cluster per test module (starting nine nodes costs seconds), on the
session's engines with a database of its own. The fixture stops it by pid
with SIGTERM and checks every node process is gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import msgspec
import psutil
import pytest

from realmkit.engines.embedded import Endpoints
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.procs import free_port, is_alive

START_TIMEOUT = 60.0


class Cluster(msgspec.Struct):
    login_url: str
    gateways: list[str]
    node_file: Path
    data_dir: Path
    pid: int
    database_url: str
    endpoints: Endpoints


# Short enough for tests to watch an empty instance stop, a player released.
# No scaling, and no cells split or merged by load, unless a test asks for it.
TEST_SETTINGS = """\
[instances]
empty_grace = 4.0
node_timeout = 3.0
resume_grace = 4.0

[scaling]
launcher = "none"

[matchmaking]
accept_timeout = 10.0
match_time_limit = 15.0

[cells]
balance = false

[login]
# Tests register many players from this machine.
registrations_unlimited = ["127.0.0.1"]

"""


# (name, role) of the cluster tests' node file; the login node and two gateways
# are awaited (their /healthz) before a test starts.
NODES = [
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


def _node_file(
    path: Path, settings: str, world_capacity: int, nodes: list[tuple[str, str]]
) -> dict[str, int]:
    ports = {name: free_port() for name, role in nodes if role in ("login", "gateway")}
    text = settings
    for name, role in nodes:
        text += f'[[nodes]]\nname = "{name}"\nrole = "{role}"\nport = {ports.get(name, 0)}\n'
        if role == "world":
            text += f"capacity = {world_capacity}\n"
    path.write_text(text)
    return ports


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - http on loopback
            if resp.status != 200:
                return False
            body = msgspec.json.decode(resp.read())
    except OSError:
        return False
    # The login node is ready once it heard from both gateways.
    return "gateways" not in body or body["gateways"] >= 2


def _not_up(health: list[str], log: Path) -> str:
    """Why a cluster did not come up: the nodes still silent and the log's tail."""
    silent = [url for url in health if not _answers(url)]
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-80:])
    return f"cluster did not come up in {START_TIMEOUT:.0f} s; silent: {silent}\n{tail}"


@contextlib.contextmanager
def running_cluster(
    root: Path,
    endpoints: Endpoints,
    database_url: str | None,
    settings: str = TEST_SETTINGS,
    world_capacity: int = 2000,
    nodes: list[tuple[str, str]] = NODES,
) -> Iterator[Cluster]:
    """`realmkit up` on ``endpoints`` and ``database_url``; stopped by pid on exit.

    ``database_url`` None: on the embedded PostgreSQL of the cluster's data folder,
    which `realmkit up` starts (or finds) and, stopped by SIGTERM, leaves running."""
    ports = _node_file(root / "realmkit.toml", settings, world_capacity, nodes)
    env = {
        **os.environ,
        "REALMKIT_CONFIG": str(root / "realmkit.toml"),
        "REALMKIT_DATA_DIR": str(root / "data"),
        "REALMKIT_NATS_URL": endpoints.nats_url,
    }
    if database_url is None:
        env.pop("REALMKIT_DATABASE_URL", None)
    else:
        env["REALMKIT_DATABASE_URL"] = database_url
    log = (root / "up.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "realmkit", "up", "--no-live"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    health = [f"http://127.0.0.1:{port}/healthz" for port in ports.values()]
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while not all(_answers(url) for url in health):
            assert proc.poll() is None, (root / "up.log").read_text()
            assert time.monotonic() < deadline, _not_up(health, root / "up.log")
            time.sleep(0.2)  # another process is starting: probe again
        if database_url is None:
            database_url = EmbeddedPostgres(root / "data" / "postgres").url()
        yield Cluster(
            login_url=f"http://127.0.0.1:{ports['login']}",
            gateways=[f"ws://127.0.0.1:{ports[g]}/ws" for g in ("gateway-1", "gateway-2")],
            node_file=root / "realmkit.toml",
            data_dir=root / "data",
            pid=proc.pid,
            database_url=database_url,
            endpoints=endpoints,
        )
    finally:
        children = _children(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)  # a test may have paused it
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        # Only our node processes: a pid may have been reused since it was listed.
        stray = {pid: _cmdline(pid) for pid in children if is_alive(pid, "realmkit")}
        for pid in stray:
            os.kill(pid, signal.SIGKILL)
        assert not stray, f"node processes outlived the cluster: {stray}"


@contextlib.contextmanager
def cluster_on_session_engines(
    tmp_path_factory: pytest.TempPathFactory,
    endpoints: Endpoints,
    databases,  # type: ignore[no-untyped-def]
    settings: str = TEST_SETTINGS,
    world_capacity: int = 2000,
) -> Iterator[Cluster]:
    """A cluster on the session's engines, with a database of its own (dropped after)."""
    name = f"c_{uuid.uuid4().hex[:10]}"
    database_url = databases.create(name)
    try:
        root = tmp_path_factory.mktemp("cluster")
        with running_cluster(root, endpoints, database_url, settings, world_capacity) as c:
            yield c
    finally:
        databases.drop(name)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, endpoints: Endpoints, databases
) -> Iterator[Cluster]:
    with cluster_on_session_engines(tmp_path_factory, endpoints, databases) as c:
        yield c


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


def _cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return "?"


def _children(pid: int) -> list[int]:
    try:
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []
