"""Embedded engines: start, answer, stop, are found again, and configured URLs win."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import psutil

from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import EmbeddedEngines, EmbeddedNats, Endpoints
from realmkit.procs import is_alive

RUN_TIMEOUT = 60


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT)
    return proc.returncode, stdout, stderr


async def test_engines_start_answer_and_stop(engine_folder: Path) -> None:
    """A fresh pair starts, answers NATS and SQL (data checksums on), and is gone after
    down()."""
    pair = EmbeddedEngines(engine_folder / "data", durable=False)
    try:
        infos = {i.name: i for i in pair.up()}
        assert all(i.started_now and i.answering for i in infos.values())
        nats_url, database_url = pair.urls()
        bus = await NatsBus.connect(nats_url)
        assert bus.connected
        await bus.close()
        conn = await asyncpg.connect(database_url)
        assert await conn.fetchval("SELECT 41 + 1") == 42
        assert await conn.fetchval("SHOW data_checksums") == "on"
        await conn.close()
    finally:
        pair.down()
    for info in infos.values():
        assert info.pid is not None
        assert not is_alive(info.pid)
    assert not any(i.running for i in pair.status())


def test_second_up_finds_the_running_pair(engines_dir: Path, run_realmkit) -> None:
    """`realmkit engines up` on a folder with a running pair starts nothing new."""
    before = {i.name: i.pid for i in EmbeddedEngines(engines_dir).status()}
    code, stdout, _ = _finish(
        run_realmkit("--data-dir", str(engines_dir), "engines", "up", "--json")
    )
    assert code == 0
    report = json.loads(stdout)
    assert {e["name"]: e["pid"] for e in report["engines"]} == before
    assert not any(e["started_now"] for e in report["engines"])


def test_concurrent_ups_start_one_pair(engine_folder: Path, run_realmkit) -> None:
    """Two `engines up` racing on one folder report the same single pair."""
    data = engine_folder / "data"
    try:
        procs = [run_realmkit("--data-dir", str(data), "engines", "up", "--json") for _ in range(2)]
        reports = []
        for proc in procs:
            code, stdout, stderr = _finish(proc)
            assert code == 0, stderr
            reports.append({e["name"]: e for e in json.loads(stdout)["engines"]})
        assert {n: e["pid"] for n, e in reports[0].items()} == {
            n: e["pid"] for n, e in reports[1].items()
        }
        started = [e["started_now"] for r in reports for e in r.values()]
        assert started.count(True) == 2  # each engine started exactly once
    finally:
        EmbeddedEngines(data).down()


def test_unreachable_configured_server_is_named(tmp_path: Path, run_realmkit) -> None:
    """A configured NATS that does not answer: exit 1, its URL named, no secret, nothing started."""
    url = "nats://s3cr3t-token@127.0.0.1:1"
    data = tmp_path / "data"
    code, stdout, stderr = _finish(
        run_realmkit("--data-dir", str(data), "engines", "up", env={"REALMKIT_NATS_URL": url})
    )
    assert code == 1
    assert "127.0.0.1:1" in stderr
    assert "s3cr3t" not in stderr + stdout
    assert "Traceback" not in stderr
    assert not (data / "postgres").exists()


def test_configured_urls_start_nothing(tmp_path: Path, endpoints: Endpoints, run_realmkit) -> None:
    """With both URLs set, `engines up` probes them and creates no data folder."""
    data = tmp_path / "data"
    env = {"REALMKIT_NATS_URL": endpoints.nats_url, "REALMKIT_DATABASE_URL": endpoints.database_url}
    code, stdout, stderr = _finish(
        run_realmkit("--data-dir", str(data), "engines", "up", "--json", env=env)
    )
    assert code == 0, stderr
    report = json.loads(stdout)
    assert [e["embedded"] for e in report["engines"]] == [False, False]
    assert not data.exists()
    password = endpoints.database_url.split(":")[2].split("@")[0]
    assert password not in stdout


def _listening_ports(pid: int) -> set[int]:
    return {
        c.laddr.port
        for c in psutil.Process(pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }


async def test_embedded_nats_listens_on_its_client_port_only(engine_folder: Path) -> None:
    """A fresh embedded NATS serves no monitoring port (it answers without credentials),
    and is still found ready and running."""
    server = EmbeddedNats(engine_folder / "nats")
    server.start()
    try:
        pid = server.pid()
        assert pid is not None
        client_port = urlsplit(server.url()).port
        assert _listening_ports(pid) == {client_port}
        assert server.answering()
        bus = await NatsBus.connect(server.url())
        await bus.close()
    finally:
        server.stop()
    assert not server.answering()


async def test_embedded_nats_monitoring_when_asked(engine_folder: Path) -> None:
    """With monitoring asked for, the embedded NATS also listens on a loopback port."""
    server = EmbeddedNats(engine_folder / "nats", monitoring=True)
    server.start()
    try:
        pid = server.pid()
        assert pid is not None
        assert len(_listening_ports(pid)) == 2
        assert server.answering()
    finally:
        server.stop()
