"""Shared test plumbing.

Real NATS and PostgreSQL start once per session (lazily, only for tests that
ask) in a temporary data folder: the same embedded engines users run. Each
test that wants a database gets its own, cloned from a migrated template, so
tests never see each other's rows. Every process a test starts must be gone
at the end: the session fails otherwise.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from hypothesis import settings

from realmkit.bus.nats import NatsBus
from realmkit.engines.embedded import EmbeddedEngines, Endpoints
from realmkit.store.migrate import migrate
from realmkit.store.postgres import Database

TEMPLATE = "realmkit_template"

# Properties are checked for what they hold, never for how fast: no example is failed
# for its time (on a busy two-core machine one may take longer than hypothesis' 200 ms).
settings.register_profile("realmkit", deadline=None)
settings.load_profile("realmkit")


def _leftovers(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if marker in " ".join(proc.info["cmdline"] or ()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


# Engines' data lives outside pytest's own temp folder: pytest makes that folder
# owner-only (0700) whenever another pytest session starts, and under root the
# embedded PostgreSQL runs as another user who must reach its data folder.
ENGINES_ROOT = Path(tempfile.mkdtemp(prefix="realmkit-tests-"))
ENGINES_ROOT.chmod(0o755)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a process started under the test folders outlived it."""
    stray = _leftovers(str(ENGINES_ROOT))
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is not None:
        stray += _leftovers(str(factory.getbasetemp()))
    shutil.rmtree(ENGINES_ROOT, ignore_errors=True)
    if not stray:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for proc in stray:
        if reporter is not None:
            reporter.write_line(f"LEAKED PROCESS {proc.pid}: {' '.join(proc.cmdline())}")
        proc.kill()
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    return url.rsplit("/", 1)[0] + "/" + name


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def engines_root() -> Path:
    """Where engines started by tests keep their data (checked for leftovers)."""
    return ENGINES_ROOT


@pytest.fixture
def engine_folder() -> Path:
    """An empty folder for embedded engines, reachable by the PostgreSQL user."""
    return Path(tempfile.mkdtemp(dir=ENGINES_ROOT))


@pytest.fixture(scope="session")
def engines_dir() -> Iterator[Path]:
    """A data folder with a running embedded pair, stopped (by pid) at session end."""
    data_dir = Path(tempfile.mkdtemp(dir=ENGINES_ROOT))
    pair = EmbeddedEngines(data_dir, durable=False)
    try:
        pair.up()
        yield data_dir
    finally:
        pair.down()


@pytest.fixture(scope="session")
def endpoints(engines_dir: Path) -> Endpoints:
    nats_url, database_url = EmbeddedEngines(engines_dir).urls()
    return Endpoints(nats_url=nats_url, database_url=database_url)


@pytest.fixture(scope="session")
def template_url(endpoints: Endpoints) -> str:
    """A database with every migration applied, cloned by each test."""

    async def build() -> None:
        await _admin(endpoints.database_url, f"CREATE DATABASE {TEMPLATE}")
        db = await Database.connect(with_database(endpoints.database_url, TEMPLATE))
        try:
            await migrate(db)
        finally:
            await db.close()

    asyncio.run(build())
    return with_database(endpoints.database_url, TEMPLATE)


async def _fresh_database(endpoints: Endpoints, template: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    await _admin(endpoints.database_url, f"CREATE DATABASE {name} TEMPLATE {template}")
    try:
        yield with_database(endpoints.database_url, name)
    finally:
        await _admin(endpoints.database_url, f"DROP DATABASE {name} WITH (FORCE)")


class Databases:
    """Create and drop migrated databases from synchronous (module-scoped) fixtures."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url

    def create(self, name: str) -> str:
        asyncio.run(_admin(self.server_url, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
        return with_database(self.server_url, name)

    def drop(self, name: str) -> None:
        asyncio.run(_admin(self.server_url, f"DROP DATABASE {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def databases(endpoints: Endpoints, template_url: str) -> Databases:
    return Databases(endpoints.database_url)


@pytest.fixture
async def database_url(endpoints: Endpoints, template_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test only."""
    async for url in _fresh_database(endpoints, TEMPLATE):
        yield url


@pytest.fixture
async def empty_database_url(endpoints: Endpoints) -> AsyncIterator[str]:
    """A fresh database with no realmkit schema at all."""
    async for url in _fresh_database(endpoints, "template1"):
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await Database.connect(database_url, max_size=12)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def bus(endpoints: Endpoints) -> AsyncIterator[NatsBus]:
    connected = await NatsBus.connect(endpoints.nats_url, name="test")
    try:
        yield connected
    finally:
        await connected.close()


RunRealmkit = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def run_realmkit() -> Iterator[RunRealmkit]:
    """Start the installed ``realmkit`` command; children still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []
    command = Path(sys.executable).parent / "realmkit"

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        full_env = {**os.environ, **(env or {})}
        for key in ("REALMKIT_NATS_URL", "REALMKIT_DATABASE_URL", "REALMKIT_CONFIG"):
            if key not in (env or {}):
                full_env.pop(key, None)
        proc = subprocess.Popen(
            [str(command), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full_env,
        )
        started.append(proc)
        return proc

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Retry ``check`` (an external process's state) until it holds; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        await asyncio.sleep(delay)  # backoff between probes of another process
        delay = min(delay * 2, 0.25)


@pytest.fixture
def eventually() -> Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]:
    return wait_for
