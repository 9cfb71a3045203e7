"""The launchers run real processes: the node file's commands, and `realmkit node`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from realmkit.errors import LaunchFailed
from realmkit.nodes.orchestrator.launcher import CommandLauncher
from realmkit.procs import start_node


async def test_commands_get_the_name_and_the_count(tmp_path: Path) -> None:
    record = tmp_path / "calls"
    script = "import sys; open(sys.argv[1], 'a').write(' '.join(sys.argv[2:]) + '\\n')"
    launcher = CommandLauncher(
        (sys.executable, "-c", script, str(record), "up", "{name}", "--replicas={wanted}"),
        (sys.executable, "-c", script, str(record), "down", "{name}", "--replicas={wanted}"),
    )
    name = launcher.new_name()
    await launcher.launch(name, 3)
    await launcher.retire("world-abc", 2)
    assert record.read_text().splitlines() == [
        f"up {name} --replicas=3",
        "down world-abc --replicas=2",
    ]


async def test_a_failing_command_is_a_launch_failure_with_its_output() -> None:
    fail = (sys.executable, "-c", "import sys; print('quota exceeded'); sys.exit(3)")
    launcher = CommandLauncher(fail, fail)
    with pytest.raises(LaunchFailed) as caught:
        await launcher.launch("world-x", 3)
    assert "exited with 3" in caught.value.message
    assert "quota exceeded" in caught.value.message
    missing = CommandLauncher(("/nonexistent/kubectl",), ("/nonexistent/kubectl",))
    with pytest.raises(LaunchFailed):
        await missing.retire("world-x", 2)


async def test_a_node_process_gets_the_environment_given_and_appends_to_its_log(
    tmp_path: Path,
) -> None:
    """``start_node`` runs ``realmkit node NAME`` with ``env`` over this environment,
    its output appended to the log file (here: the broken node file it was given)."""
    config = tmp_path / "broken.toml"
    config.write_text("nodes = 3\n")
    log = tmp_path / "login-0.log"
    log.write_text("an earlier run\n")
    proc = await start_node("login-0", log, env={"REALMKIT_CONFIG": str(config)})
    async with asyncio.timeout(60):
        await proc.wait()
    text = log.read_text()
    assert text.startswith("an earlier run\n")
    assert "broken.toml" in text
    assert "Expected `array`" in text
