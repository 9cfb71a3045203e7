"""Browser tests: Debian's Chromium driven by Playwright (async API), against a
real cluster (``tests/cluster``'s ``running_cluster``) whose login node serves
the web client.

Playwright cannot download its own browsers here, so it launches the system's
``chromium`` (``scripts/system-packages`` installs it; ``REALMKIT_CHROMIUM``
names another binary). A missing browser fails the test, saying so: nothing is
skipped. The async API runs on pytest-asyncio's loop (the sync API would start
a loop of its own inside it). Screenshots go to ``artifacts/screenshots/`` in
the repository (git-ignored), which CI keeps.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
from playwright.async_api import Browser, async_playwright

from realmkit.engines.embedded import Endpoints

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def _cluster_module(filename: str) -> ModuleType:
    """A module of tests/cluster under a name of its own (its folder is not on the path
    here, and every conftest is called conftest)."""
    path = ROOT / "tests" / "cluster" / filename
    spec = importlib.util.spec_from_file_location(f"realmkit_cluster_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_clusters = _cluster_module("conftest.py")
_procs = _cluster_module("cluster_procs.py")
Cluster = _clusters.Cluster


def chromium_path() -> str:
    """The Chromium binary to drive; fails the test, with what to do, when absent."""
    wanted = os.environ.get("REALMKIT_CHROMIUM")
    # Asked for one: that one or nothing. Else Debian's, or a chromium on the PATH.
    found = shutil.which(wanted) if wanted else shutil.which(DEFAULT_CHROMIUM)
    if found is None and not wanted:
        found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            f"no Chromium at {wanted or DEFAULT_CHROMIUM}: run `bash scripts/system-packages` "
            "(it installs Debian's chromium) or set REALMKIT_CHROMIUM to a Chromium binary",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory,
    endpoints: Endpoints,
    databases,  # type: ignore[no-untyped-def]
) -> Iterator[Cluster]:
    with _clusters.cluster_on_session_engines(tmp_path_factory, endpoints, databases) as c:
        yield c


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    # Root (CI, containers) cannot use Chromium's sandbox.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=args
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
def node_pid() -> Callable[[int, str], int]:
    """``node_pid(up_pid, name)``: the pid of a cluster's node (tests/cluster's helper)."""
    found: Callable[[int, str], int] = _procs.node_pid
    return found


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
