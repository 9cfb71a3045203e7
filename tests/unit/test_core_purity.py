"""The Sans-I/O cores import no I/O library and never read the clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import realmkit

CORES = (
    "realmkit.sim",
    "realmkit.replication",
    "realmkit.content",
    "realmkit.auth",
    "realmkit.matchmaking",
)
# Single-module cores: lifecycle state machines and protocol cores.
CORE_MODULES = (
    "realmkit.supervision.policy",
    "realmkit.nodes.gateway.connection",
    "realmkit.nodes.gateway.fanout",
    "realmkit.lifecycle.instance",
)
IO_MODULES = ("asyncio", "nats", "asyncpg", "socket")
CLOCK_MODULES = {"time", "datetime", "asyncio", "socket", "nats", "asyncpg", "threading"}
CLOCK_CALLS = {"now", "utcnow", "today", "perf_counter", "monotonic", "time_ns", "process_time"}
SRC = Path(realmkit.__file__).parent


def _core_files() -> list[Path]:
    files = []
    for core in CORES:
        files += sorted((SRC / core.split(".")[1]).rglob("*.py"))
    for module in CORE_MODULES:
        files.append(SRC.joinpath(*module.split(".")[1:]).with_suffix(".py"))
    return files


def test_importing_the_cores_loads_no_io_library() -> None:
    """Importing every core loads no asyncio/nats/asyncpg/socket."""
    script = (
        "import importlib, pkgutil, sys\n"
        f"for name in {CORES!r}:\n"
        "    pkg = importlib.import_module(name)\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, name + '.'):\n"
        "        importlib.import_module(m.name)\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(m for m in {IO_MODULES!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.name)
def test_core_source_reads_no_clock(path: Path) -> None:
    """No core module imports time/datetime/I/O modules or calls a clock function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {a.name.split(".")[0] for a in node.names}
            assert not names & CLOCK_MODULES, f"{path.name} imports {names & CLOCK_MODULES}"
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            assert root not in CLOCK_MODULES, f"{path.name} imports from {node.module}"
        elif isinstance(node, ast.Attribute):
            assert node.attr not in CLOCK_CALLS, f"{path.name} uses .{node.attr}"


def test_the_check_catches_a_clock_read(tmp_path: Path) -> None:
    """The source check itself fails on a module that reads the clock."""
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nx = time.monotonic()\n")
    with pytest.raises(AssertionError):
        test_core_source_reads_no_clock(bad)
