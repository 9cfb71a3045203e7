"""The restart policy: backoff that grows with crashes in a row, resets when stable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from realmkit.engines.embedded import Endpoints
from realmkit.errors import IllegalTransition
from realmkit.settings import load_settings
from realmkit.supervision.policy import Child, ChildState, RestartPolicy, Supervision
from realmkit.supervision.reviver import Reviver


def test_everything_starts_at_first() -> None:
    """A new supervision wants every child started."""
    sup = Supervision(["login", "world-1"])
    assert sup.due(now=0.0) == ["login", "world-1"]


def test_crash_loop_backs_off_exponentially() -> None:
    """Each crash in a row doubles the delay, up to the maximum."""
    sup = Supervision(["world-1"], RestartPolicy(first_delay=0.5, max_delay=4.0, stable_after=60))
    now = 0.0
    delays = []
    for _ in range(6):
        sup.started("world-1", pid=100, now=now)
        delay = sup.exited("world-1", code=-9, now=now + 1)
        assert delay is not None
        delays.append(delay)
        assert sup.due(now + 1 + delay - 0.01) == []
        now = now + 1 + delay
        assert sup.due(now) == ["world-1"]
    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert sup.children["world-1"].restarts == 5


def test_a_stable_run_resets_the_streak() -> None:
    """A crash after a long healthy run restarts after the first delay again."""
    sup = Supervision(["gw"], RestartPolicy(first_delay=0.5, stable_after=60))
    sup.started("gw", 1, now=0)
    sup.exited("gw", 1, now=1)
    sup.started("gw", 2, now=2)
    sup.exited("gw", 1, now=3)
    sup.started("gw", 3, now=10)
    assert sup.exited("gw", 1, now=100) == 0.5


def test_shutdown_restarts_nothing() -> None:
    """After shutdown, exits are final and nothing is due."""
    sup = Supervision(["a", "b"])
    sup.started("a", 1, now=0)
    sup.started("b", 2, now=0)
    sup.exited("b", 1, now=1)
    assert sup.shutdown() == ["a"]
    assert sup.exited("a", 0, now=2) is None
    assert sup.due(now=100) == []
    assert {c.state for c in sup.children.values()} == {ChildState.STOPPED}


def test_illegal_moves_raise() -> None:
    """A stopped child cannot be RUNNING without starting."""
    with pytest.raises(IllegalTransition):
        Child("x").move(ChildState.RUNNING)


class _Exited:
    """A child process that has exited with ``code`` (what ``_watch`` awaits)."""

    def __init__(self, code: int) -> None:
        self.code = code
        self.returncode: int | None = None

    async def wait(self) -> int:
        self.returncode = self.code
        return self.code


async def _exit_of(stopping: bool, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> str:
    reviver = Reviver(["world-1"], Endpoints("nats://x", "postgresql://x"), tmp_path)
    reviver.supervision.started("world-1", pid=100, now=0.0)
    if stopping:
        reviver.begin_shutdown()
    with caplog.at_level(logging.INFO, logger="realmkit.reviver"):
        await reviver._watch("world-1", _Exited(0))  # type: ignore[arg-type]
    return caplog.text


async def test_a_child_exiting_after_ctrl_c_is_not_said_to_restart(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Once the signal is in (begin_shutdown), a child's exit is final: the
    supervisor says it stopped, never "restarting in 0.5s"."""
    said = await _exit_of(True, caplog, tmp_path)
    assert "restarting" not in said
    assert "world-1 stopped (exit 0)" in said


async def test_a_child_exiting_while_running_is_restarted(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    """Without a shutdown the same exit is a crash: restarted after the backoff."""
    said = await _exit_of(False, caplog, tmp_path)
    assert "world-1 exited with 0; restarting in 0.5s" in said


def test_children_are_told_the_data_folder_up_was_given(tmp_path: Path) -> None:
    """``realmkit up --data-dir DIR``: every node it starts reads the same folder
    (its backups, its metrics targets), not the node file's default; before, the
    children fell back to ``.realmkit`` under the working directory."""
    folder = tmp_path / "elsewhere"
    reviver = Reviver(
        ["backup-1"], Endpoints("nats://x", "postgresql://x"), tmp_path, data_dir=folder
    )
    child = load_settings(None, reviver.child_env())
    assert child.data_path == folder.resolve()
    assert child.backup_path == folder.resolve() / "backups"
