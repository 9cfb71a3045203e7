"""The command line against a login API that is not there (a loopback port nobody holds)."""

from __future__ import annotations

from typer.testing import CliRunner

from realmkit.cli.main import app
from realmkit.procs import free_port


def test_bots_without_a_login_api_say_how_to_start_one() -> None:
    """`realmkit bots` against nothing fails once, clearly (exit 1), not bot by bot."""
    port = free_port()
    result = CliRunner().invoke(
        app, ["bots", "-n", "3", "--duration", "2", "--login", f"http://127.0.0.1:{port}"]
    )
    assert result.exit_code == 1
    assert "does not answer" in result.output
    assert "realmkit up" in result.output
