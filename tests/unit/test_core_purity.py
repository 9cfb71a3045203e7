"""The Sans-I/O cores import no I/O library and never read the clock."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import realmkit

# Where I/O is allowed: the adapters and drivers (bus, store, engines, the
# backup manager's adapter (backup), the nodes' shells, the CLI, the client
# library, the reviver) and the top-level glue that reads the environment and
# files (settings), the OS (procs), or calls the adapters (seed, realms,
# operators, status). Every other module is a core.
DRIVERS = (
    "bus",
    "store",
    "engines",
    "backup",
    "nodes",
    "cli",
    "client",
    "supervision/reviver.py",
    "procs.py",
    "settings.py",
    "seed.py",
    "realms.py",
    "operators.py",
    "status.py",
    "__main__.py",
)
IO_MODULES = ("asyncio", "nats", "asyncpg", "socket")
CLOCK_MODULES = {"time", "datetime", "asyncio", "socket", "nats", "asyncpg", "threading"}
CLOCK_CALLS = {"now", "utcnow", "today", "perf_counter", "monotonic", "time_ns", "process_time"}
SRC = Path(realmkit.__file__).parent


def _is_core(path: Path) -> bool:
    relative = path.relative_to(SRC).as_posix()
    return not any(relative == d or relative.startswith(f"{d}/") for d in DRIVERS)


def _core_files() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if _is_core(p)]


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(("realmkit", *(parts[:-1] if parts[-1] == "__init__" else parts)))


CORE_MODULES = tuple(_module_name(p) for p in _core_files())


def _shown(path: Path) -> str:
    return path.relative_to(SRC).as_posix() if path.is_relative_to(SRC) else path.name


def test_the_walk_finds_the_cores() -> None:
    """Cores are found by folder: new modules of a core folder are checked too."""
    for module in (
        "realmkit.sim.space",
        "realmkit.routing.gateways",
        "realmkit.scaling",
        "realmkit.supervision.policy",
        "realmkit.lifecycle.instance",
        "realmkit.errors",
    ):
        assert module in CORE_MODULES
    for module in ("realmkit.bus.nats", "realmkit.supervision.reviver", "realmkit.procs"):
        assert module not in CORE_MODULES
    assert all((SRC / driver).exists() for driver in DRIVERS), "a driver folder moved"


def test_importing_the_cores_loads_no_io_library() -> None:
    """Importing every core loads no asyncio/nats/asyncpg/socket."""
    script = (
        "import importlib, sys\n"
        f"for name in {CORE_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(m for m in {IO_MODULES!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


@pytest.mark.parametrize("path", _core_files(), ids=_shown)
def test_core_source_reads_no_clock(path: Path) -> None:
    """No core module imports time/datetime/I/O modules or calls a clock function."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = {a.name.split(".")[0] for a in node.names}
            assert not names & CLOCK_MODULES, f"{_shown(path)} imports {names & CLOCK_MODULES}"
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            assert root not in CLOCK_MODULES, f"{_shown(path)} imports from {node.module}"
        elif isinstance(node, ast.Attribute):
            assert node.attr not in CLOCK_CALLS, f"{_shown(path)} uses .{node.attr}"


def test_the_check_catches_a_clock_read(tmp_path: Path) -> None:
    """The source check itself fails on a module that reads the clock."""
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nx = time.monotonic()\n")
    with pytest.raises(AssertionError):
        test_core_source_reads_no_clock(bad)


@pytest.mark.parametrize("path", _core_files(), ids=_shown)
def test_core_imports_no_adapter_or_driver(path: Path) -> None:
    """A core depends on cores only: adapters and drivers depend on cores, never the
    other way round (so a core stays testable without engines). The settings' types
    (plain structs; reading the file is the driver's part) are allowed."""
    drivers = {f"realmkit.{d.removesuffix('.py').replace('/', '.')}" for d in DRIVERS}
    drivers.discard("realmkit.settings")
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            hit = [d for d in drivers if name == d or name.startswith(f"{d}.")]
            assert not hit, f"{_shown(path)} imports {name}"


def test_the_check_catches_a_core_importing_the_store(tmp_path: Path) -> None:
    """The layering check itself fails on a core that imports an adapter."""
    bad = tmp_path / "bad.py"
    bad.write_text("from realmkit.store.records import Character\n")
    with pytest.raises(AssertionError):
        test_core_imports_no_adapter_or_driver(bad)
