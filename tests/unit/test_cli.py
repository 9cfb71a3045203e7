"""The CLI's surface without engines: help everywhere, usage errors exit 2."""

from __future__ import annotations

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
