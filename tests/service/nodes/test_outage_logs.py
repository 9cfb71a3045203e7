"""What a node logs when an engine goes away: one WARNING when the outage begins and
one INFO when it ends, per node and engine, never a traceback; and a malformed
request never puts what the client sent in the log."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from node_fixtures import azure_with, running

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus
from realmkit.content.loader import classic_pack_path, load_pack
from realmkit.engines.embedded import EmbeddedNats, Endpoints
from realmkit.engines.postgres import EmbeddedPostgres
from realmkit.errors import BusUnavailable
from realmkit.nodes.login.node import LoginNode
from realmkit.nodes.login.starts import start_in
from realmkit.nodes.orchestrator.node import OrchestratorNode
from realmkit.nodes.world.node import WorldNode
from realmkit.protocol.cluster import EnterWorld, Joined, JoinSpace, Placement
from realmkit.settings import CellSettings, InstanceSettings, NodeSpec, Role
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database

WAIT = 20.0
START = start_in(load_pack(classic_pack_path()))
# nats-py buffers what a node publishes while NATS is away, up to 2 MB; a busy realm
# fills that within a second, and from then on every tick's publish fails.
RECONNECT_BUFFER = 2 * 1024 * 1024
Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]


def _said(caplog: pytest.LogCaptureFixture, text: str, level: int | None = None) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if text in r.getMessage() and (level is None or r.levelno == level)
    ]


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    with_traceback = [r.getMessage() for r in caplog.records if r.exc_info or r.exc_text]
    assert not with_traceback, with_traceback[:3]


@pytest.fixture
async def own_nats(engine_folder: Path) -> AsyncIterator[EmbeddedNats]:
    """A NATS of this test's own, to stop and start."""
    server = EmbeddedNats(engine_folder / "nats")
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture
async def own_postgres(engine_folder: Path) -> AsyncIterator[EmbeddedPostgres]:
    """A migrated PostgreSQL of this test's own, to stop and start."""
    server = EmbeddedPostgres(engine_folder / "postgres", durable=False)
    await asyncio.to_thread(server.start)
    try:
        db = await Database.connect(server.url())
        try:
            await migrate(db)
        finally:
            await db.close()
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_nats_restart_is_one_warning_per_node(
    own_nats: EmbeddedNats,
    database_url: str,
    db: Database,
    caplog: pytest.LogCaptureFixture,
    eventually: Eventually,
) -> None:
    """NATS stops under a space whose every tick then fails: each connection logs one
    WARNING when it loses NATS and one INFO when it is back, no traceback, however
    many ticks failed."""
    here = Endpoints(own_nats.url(), database_url)
    world = WorldNode(NodeSpec(name="world-1", role=Role.WORLD), here)
    orchestrator = OrchestratorNode(
        NodeSpec(name="orchestrator-1", role=Role.ORCHESTRATOR),
        here,
        InstanceSettings(),
        cells=CellSettings(balance=False),
    )
    (cid,) = (await azure_with(db, [("Aria", (START.x, START.y, START.z))], START.map_id))[1]
    async with running(world, orchestrator):
        bus = await NatsBus.connect(here.nats_url, name="test")
        try:
            placed = await bus.request(
                subjects.ORCHESTRATOR_REQUESTS, EnterWorld(cid, "gw-test"), Placement, timeout=WAIT
            )
            await bus.request(
                subjects.space_control(placed.instance_id),
                JoinSpace(cid, placed.epoch, "gw-test"),
                Joined,
                timeout=WAIT,
            )
            runner = world.runners[placed.instance_id]
            caplog.clear()
            caplog.set_level(logging.DEBUG, logger="realmkit")
            await asyncio.to_thread(own_nats.stop)
            await world.bus.wait_connected(WAIT, connected=False)
            with contextlib.suppress(BusUnavailable):  # fill it as the realm would
                for _ in range(RECONNECT_BUFFER // 1024 + 1):
                    await world.bus.publish("test.filler", bytes(1024))
            failed = runner.failed_ticks

            async def ticks_fail() -> bool:
                return runner.failed_ticks >= failed + 20

            await eventually(ticks_fail, WAIT, "20 ticks failing while NATS is away")
            await asyncio.to_thread(own_nats.start)
            for connection in (world.bus, bus):
                await connection.wait_connected(WAIT)
            during = list(caplog.records)  # not what stopping the nodes says
        finally:
            await bus.close()
    _no_tracebacks(caplog)
    warnings = [r.getMessage() for r in during if r.levelno >= logging.WARNING]
    assert all("NATS at" in w and "unreachable" in w for w in warnings), warnings
    by_node = Counter(w.split(":")[0] for w in warnings)
    assert {"world-1", "test"} <= set(by_node) <= {"world-1", "orchestrator-1", "test"}
    assert set(by_node.values()) == {1}, by_node
    back = [r for r in during if "answers again" in r.getMessage()]
    assert {r.levelno for r in back} == {logging.INFO}
    assert sorted(r.getMessage().split(":")[0] for r in back) in (
        ["test", "world-1"],
        ["orchestrator-1", "test", "world-1"],  # the orchestrator may be back already
    )
    told = [m for m in _said(caplog, "tick", logging.DEBUG) if "failed" in m]
    assert len(told) >= 20  # failed ticks are still told, at DEBUG


async def test_postgres_stop_is_one_warning_and_one_info(
    own_postgres: EmbeddedPostgres,
    endpoints: Endpoints,
    caplog: pytest.LogCaptureFixture,
    eventually: Eventually,
) -> None:
    """PostgreSQL stops under a login node for a few heartbeats and requests: one
    WARNING when it goes, one INFO when it is back, no traceback (asyncpg's included)."""
    here = Endpoints(endpoints.nats_url, own_postgres.url())
    node = LoginNode(NodeSpec(name="login", role=Role.LOGIN, host="127.0.0.1"), here)
    async with running(node), aiohttp.ClientSession() as http:
        caplog.clear()
        caplog.set_level(logging.DEBUG, logger="realmkit")
        await asyncio.to_thread(own_postgres.stop)
        login = {"username": "thrall", "password": "hunter2hunter2"}
        async with http.post(f"http://127.0.0.1:{node.port}/api/login", json=login) as resp:
            assert resp.status == 503

        async def beats_failed() -> bool:
            return len(_said(caplog, "heartbeat failed")) >= 3

        await eventually(beats_failed, WAIT, "three heartbeats failing")
        await asyncio.to_thread(own_postgres.start)

        async def answers() -> bool:  # thrall has no account: 401 once it is looked up
            async with http.post(f"http://127.0.0.1:{node.port}/api/login", json=login) as resp:
                return resp.status == 401

        await eventually(answers, WAIT, "the login node answering from PostgreSQL again")
    _no_tracebacks(caplog)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("login: PostgreSQL at ")
    assert len(_said(caplog, "answers again", logging.INFO)) == 1


async def test_oversized_authorization_header_is_not_logged(
    database_url: str, endpoints: Endpoints, caplog: pytest.LogCaptureFixture
) -> None:
    """A 20 KB Authorization header is refused with a 4xx; the log has one line
    without traceback and without any of the header."""
    here = Endpoints(endpoints.nats_url, database_url)
    node = LoginNode(NodeSpec(name="login", role=Role.LOGIN, host="127.0.0.1"), here)
    secret = "Bearer s3cr3t-" + "k" * 20_000
    async with running(node):
        caplog.clear()
        caplog.set_level(logging.DEBUG)
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        try:
            writer.write(
                b"GET /api/characters HTTP/1.1\r\nHost: login\r\n"
                + f"Authorization: {secret}\r\n\r\n".encode()
            )
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), WAIT)
        finally:
            writer.close()
            await writer.wait_closed()
    assert status_line.split()[1].startswith(b"4")
    _no_tracebacks(caplog)
    assert not [r for r in caplog.records if "s3cr3t" in r.getMessage() or "kkkk" in r.getMessage()]
    assert [
        r.levelno for r in caplog.records if r.name.startswith(("aiohttp", "realmkit.http"))
    ] == [logging.INFO]
