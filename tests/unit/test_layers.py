"""Node modules reach NATS and PostgreSQL only through realmkit's adapters, and
no role imports another role (what two roles share lives in protocol/ or a core)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import realmkit

NODES = Path(realmkit.__file__).parent / "nodes"
ROLES = ("gateway", "login", "world", "orchestrator", "matchmaker", "backup")
# Only the adapters (bus/nats.py, store/*) may import these.
BACKENDS = {"nats", "asyncpg"}
# The one module that wires every role (the shared helpers beside it import none).
WIRING = NODES / "factory.py"


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imported(path: Path, nodes: Path = NODES) -> set[str]:
    """Every module ``path`` imports, dotted (``from a import b`` gives ``a`` and ``a.b``);
    relative imports are resolved as if ``nodes`` were ``realmkit.nodes``."""
    package = ["realmkit", "nodes", *path.relative_to(nodes).parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _role_of(path: Path, nodes: Path) -> str | None:
    parts = path.relative_to(nodes).parts
    return parts[0] if len(parts) > 1 and parts[0] in ROLES else None


def check_no_backend(path: Path, nodes: Path = NODES) -> None:
    backends = {m for m in _imported(path, nodes) if m.split(".")[0] in BACKENDS}
    assert not backends, f"{path.name} imports {sorted(backends)}"


def check_no_other_role(path: Path, nodes: Path = NODES) -> None:
    role = _role_of(path, nodes)
    others = {
        m
        for m in _imported(path, nodes)
        for other in ROLES
        if other != role
        and (m == f"realmkit.nodes.{other}" or m.startswith(f"realmkit.nodes.{other}."))
    }
    assert not others, f"{path.relative_to(nodes)} ({role}) imports {sorted(others)}"


def _name(path: Path) -> str:
    return str(path.relative_to(NODES))


@pytest.mark.parametrize("path", _modules(NODES), ids=_name)
def test_node_modules_import_no_nats_or_asyncpg(path: Path) -> None:
    """No module under nodes/ imports nats or asyncpg: the bus and the store wrap them."""
    check_no_backend(path)


@pytest.mark.parametrize("path", [p for p in _modules(NODES) if p != WIRING], ids=_name)
def test_a_role_imports_no_other_role(path: Path) -> None:
    """No module of nodes/<role>/ imports realmkit.nodes.<another role>; a shared
    helper in nodes/ imports no role at all."""
    check_no_other_role(path)


def test_every_role_folder_is_checked() -> None:
    """The role list names exactly the role folders under nodes/."""
    folders = {p.name for p in NODES.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(ROLES)


def test_the_checks_catch_a_backend_and_a_role_import(tmp_path: Path) -> None:
    """Both checks fail on a module that breaks them, in every import form."""
    (tmp_path / "world").mkdir()
    bad = tmp_path / "world" / "bad.py"
    for text in ("import nats\n", "from nats.aio.subscription import Subscription\n"):
        bad.write_text(text)
        with pytest.raises(AssertionError):
            check_no_backend(bad, tmp_path)
    for text in (
        "from realmkit.nodes.gateway.node import GatewayNode\n",
        "from realmkit.nodes import gateway\n",
        "import realmkit.nodes.login.api\n",
        "from ..gateway import node\n",
        "from .. import login\n",
    ):
        bad.write_text(text)
        with pytest.raises(AssertionError):
            check_no_other_role(bad, tmp_path)
    fine = tmp_path / "world" / "fine.py"
    fine.write_text(
        "import asyncio\nfrom realmkit.nodes.world.content import Scope\nfrom . import runner\n"
    )
    check_no_backend(fine, tmp_path)
    check_no_other_role(fine, tmp_path)
