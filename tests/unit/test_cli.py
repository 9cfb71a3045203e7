"""The CLI's surface without engines: help everywhere, usage errors exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from realmkit.cli.main import app
from realmkit.settings import DEFAULT_TOML

runner = CliRunner()

COMMANDS = [
    [],
    ["version"],
    ["init"],
    ["engines"],
    ["engines", "up"],
    ["engines", "down"],
    ["engines", "status"],
    ["db"],
    ["db", "migrate"],
    ["db", "status"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "realmkit")
def test_every_command_explains_itself(command: list[str]) -> None:
    """`--help` works for every command and says what it does."""
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    """A wrong command exits 2."""
    assert runner.invoke(app, ["engines", "sideways"]).exit_code == 2


def test_bad_node_file_is_a_usage_error(tmp_path: Path) -> None:
    """A node file with a bad value exits 2 with the field named, no traceback."""
    path = tmp_path / "realmkit.toml"
    path.write_text('[[nodes]]\nname = "w"\nrole = "wizard"\n')
    result = runner.invoke(app, ["--config", str(path), "db", "migrate", "--json"])
    assert result.exit_code == 2
    assert "BAD_CONFIG" in result.output
    assert "$.nodes[0].role" in result.output


def test_init_writes_the_default_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`realmkit init` writes the documented file and refuses to overwrite it."""
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["init"]).exit_code == 0
    assert (tmp_path / "realmkit.toml").read_text() == DEFAULT_TOML
    assert runner.invoke(app, ["init"]).exit_code == 2


def test_version_json() -> None:
    """`realmkit version --json` prints the package version."""
    result = runner.invoke(app, ["version", "--json"])
    assert result.exit_code == 0
    assert '"version"' in result.output


def test_the_cli_imports_nothing_heavy() -> None:
    """`import realmkit.cli.main` (what every command, `--help` included, pays for)
    loads no aiohttp, picows, asyncpg, nats, numpy, uvloop, asyncio, node, database or
    record module; `version` and `init` go through a lighter entry still."""
    heavy = [
        "aiohttp",
        "picows",
        "asyncio",
        "realmkit.store.records",
        "realmkit.sim",
        "asyncpg",
        "nats",
        "numpy",
        "uvloop",
        "realmkit.nodes",
        "realmkit.store.postgres",
        "realmkit.client.bots",
    ]
    probe = f"import sys, realmkit.cli.main; print(sorted({{*{heavy!r}}} & set(sys.modules)))"
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert found == "[]"
    entry = (
        "import sys, realmkit.cli.entry; print('typer' in sys.modules, 'msgspec' in sys.modules)"
    )
    light = subprocess.run(
        [sys.executable, "-c", entry], capture_output=True, text=True, check=True
    )
    assert light.stdout.split() == ["False", "False"]


def test_flags_read_as_flags() -> None:
    """No `<bool>` after a flag (`--help <bool>`), no made-up `--no-force`, and
    `up --help` does not claim a default that depends on the terminal."""
    up = runner.invoke(app, ["up", "--help"], terminal_width=100).output
    assert "<bool>" not in up
    assert "--live / --no-live" in up
    assert "no-live]" not in up
    init = runner.invoke(app, ["init", "--help"]).output
    assert "--force" in init
    assert "--no-force" not in init
    assert "<bool>" not in runner.invoke(app, ["status", "--help"]).output


def test_status_with_nothing_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`realmkit status` on a fresh clone says to run `realmkit up` (exit 1) and
    creates no data folder."""
    monkeypatch.chdir(tmp_path)
    for name in ("REALMKIT_CONFIG", "REALMKIT_NATS_URL", "REALMKIT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REALMKIT_DATA_DIR", raising=False)
    result = runner.invoke(app, ["status"], terminal_width=200)
    assert result.exit_code == 1
    assert "realmkit up" in result.output
    assert "engines up" not in result.output
    assert not (tmp_path / ".realmkit").exists()


@pytest.mark.parametrize(
    ("command", "engine"),
    [
        (["db", "status"], "PostgreSQL"),
        (["realm", "list"], "PostgreSQL"),
        (["engines", "status"], ""),
    ],
)
def test_other_commands_with_nothing_running_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], engine: str
) -> None:
    """Commands that only look (`db status`, `realm list`, `engines status`) create no
    data folder on a fresh clone, and name the engine they need, not another."""
    monkeypatch.chdir(tmp_path)
    for name in ("REALMKIT_CONFIG", "REALMKIT_NATS_URL", "REALMKIT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("REALMKIT_DATA_DIR", raising=False)
    result = runner.invoke(app, command, terminal_width=200)
    assert result.exit_code == 1
    assert engine in result.output
    assert "realmkit up" in result.output
    if engine:
        assert "NATS" not in result.output
    assert not (tmp_path / ".realmkit").exists()


def test_two_nodes_on_one_port_is_a_node_file_error(tmp_path: Path) -> None:
    """Two nodes on one host and port exit 2 (BAD_CONFIG) naming both, not 1."""
    path = tmp_path / "realmkit.toml"
    path.write_text(
        '[[nodes]]\nname = "gateway-1"\nrole = "gateway"\nport = 8081\n'
        '[[nodes]]\nname = "gateway-2"\nrole = "gateway"\nport = 8081\n'
    )
    result = runner.invoke(app, ["--config", str(path), "status", "--json"])
    assert result.exit_code == 2
    assert "BAD_CONFIG" in result.output
    assert "gateway-1 and gateway-2 on 127.0.0.1:8081" in result.output


def test_a_bad_bot_tag_is_a_usage_error() -> None:
    """`realmkit bots --tag` takes letters only (they go into character names)."""
    assert runner.invoke(app, ["bots", "--tag", "a1"]).exit_code == 2


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--at", "500"], "--at"),  # nothing to cut or move
        (["--axis", "y"], "--axis"),  # listing has no axis
        (["--move", "2", "--at", "500", "--axis", "y"], "--axis"),  # a border keeps its axis
        (["--split", "1", "--axis", "z", "--at", "5"], "--axis"),
        (["--split", "1"], "--at"),
        (["--split", "1", "--merge", "2", "--at", "5"], "--move"),
        (["--split", "1", "--merge", "1"], "--move"),  # two changes, whatever else is missing
        (["--split", "99999999999999999999", "--at", "500"], "--split"),  # no such id
        (["--merge", "0"], "--merge"),
        (["--map", "3000000000"], "--map"),
    ],
)
def test_cells_options_that_do_nothing_are_refused(args: list[str], named: str) -> None:
    """An option the command would ignore is a usage error (exit 2) that names it,
    before anything is asked of a cluster."""
    result = runner.invoke(app, ["cells", "Azure", *args], terminal_width=200)
    assert result.exit_code == 2, result.output
    assert named in result.output


def test_an_id_beyond_the_databases_integers_is_a_usage_error() -> None:
    from realmkit.errors import UsageError
    from realmkit.realms import MAX_ID, _key

    assert _key(str(MAX_ID)) == MAX_ID
    assert _key("Azure") == "Azure"
    with pytest.raises(UsageError):
        _key(str(MAX_ID + 1))
