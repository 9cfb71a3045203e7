"""Launchers: what starts and stops world nodes when the leader scales.

``Launcher`` is the interface. ``LocalLauncher`` runs world nodes as
processes on this machine (``realmkit node world-<id> --role world``, output
in ``<data_dir>/logs``, pid in ``<data_dir>/launched``), so any orchestrator
replica of the machine can stop what another launched, and ``realmkit down``
stops them with the rest. ``CommandLauncher`` runs the node file's
``launch_command`` / ``retire_command`` (on Kubernetes, ``kubectl scale`` of
the world Deployment; see ``deploy/``).

A node is always drained (its spaces live-migrated away) before ``retire``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from pathlib import Path
from typing import Protocol

from realmkit.errors import LaunchFailed
from realmkit.procs import is_alive, node_command, start_node, stop_process, write_private
from realmkit.settings import Launcher as LauncherKind
from realmkit.settings import Settings

log = logging.getLogger("realmkit.orchestrator")

STOP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0


class Launcher(Protocol):
    def new_name(self) -> str:
        """A name for the next world node."""

    def retirable(self, node_id: str) -> bool:
        """May ``retire`` stop this node?"""

    async def launch(self, name: str, wanted: int) -> None:
        """Start world node ``name`` (``wanted``: world nodes wanted after it)."""

    async def retire(self, name: str, wanted: int) -> None:
        """Stop world node ``name``, already drained (``wanted``: nodes left after it)."""


def _new_name() -> str:
    return f"world-{secrets.token_hex(3)}"


def _launched(name: str) -> str:
    """What the command line of a world node this launcher started contains."""
    return " ".join(node_command(name, "world"))


class LocalLauncher:
    def __init__(self, data_dir: Path) -> None:
        self.pids = data_dir / "launched"
        self.logs = data_dir / "logs"
        self._waiters: set[asyncio.Task[None]] = set()

    def new_name(self) -> str:
        return _new_name()

    def retirable(self, node_id: str) -> bool:
        return self._pid(node_id) is not None

    async def launch(self, name: str, wanted: int) -> None:
        self.pids.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        # Its own session: a signal to this orchestrator's group spares it.
        proc = await start_node(name, self.logs / f"{name}.log", role="world", own_session=True)
        write_private(self.pids / f"{name}.pid", str(proc.pid))
        waiter = asyncio.create_task(self._reap(name, proc))
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.discard)

    async def _reap(self, name: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        log.info("world node %s (pid %d) exited with %d", name, proc.pid, code)
        (self.pids / f"{name}.pid").unlink(missing_ok=True)

    async def retire(self, name: str, wanted: int) -> None:
        pid = self._pid(name)
        if pid is not None:
            await asyncio.to_thread(_stop, pid, name)
        (self.pids / f"{name}.pid").unlink(missing_ok=True)

    def _pid(self, name: str) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.pids / f"{name}.pid").read_text())
            if is_alive(pid, _launched(name)):
                return pid
        return None


def _stop(pid: int, name: str) -> None:
    """SIGTERM (the node drains and stops), SIGKILL after ``STOP_TIMEOUT``."""
    if stop_process(pid, STOP_TIMEOUT):
        log.warning("%s (pid %d) did not stop in time; killed", name, pid)


def stop_launched(data_dir: Path) -> list[str]:
    """Stop every world node the local launcher started for ``data_dir``; their names."""
    stopped = []
    for pid_file in sorted((data_dir / "launched").glob("*.pid")):
        name = pid_file.stem
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text())
            if is_alive(pid, _launched(name)):
                _stop(pid, name)
                stopped.append(name)
        pid_file.unlink(missing_ok=True)
    return stopped


class CommandLauncher:
    def __init__(self, launch_command: tuple[str, ...], retire_command: tuple[str, ...]) -> None:
        self.launch_command = launch_command
        self.retire_command = retire_command

    def new_name(self) -> str:
        return _new_name()

    def retirable(self, node_id: str) -> bool:
        return True

    async def launch(self, name: str, wanted: int) -> None:
        await self._run(self.launch_command, name, wanted)

    async def retire(self, name: str, wanted: int) -> None:
        await self._run(self.retire_command, name, wanted)

    async def _run(self, template: tuple[str, ...], name: str, wanted: int) -> None:
        argv = [arg.replace("{name}", name).replace("{wanted}", str(wanted)) for arg in template]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=os.environ.copy(),
            )
        except OSError as exc:
            raise LaunchFailed(argv[0], str(exc)) from exc
        try:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                output, _ = await proc.communicate()
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise LaunchFailed(argv[0], f"no answer in {COMMAND_TIMEOUT:g}s") from exc
        if proc.returncode != 0:
            tail = output.decode(errors="replace").strip()[-300:]
            raise LaunchFailed(argv[0], f"exited with {proc.returncode}: {tail}")


def make_launcher(settings: Settings) -> Launcher | None:
    """The launcher the node file asks for (None: no scaling)."""
    rules = settings.scaling
    if rules.launcher is LauncherKind.LOCAL:
        return LocalLauncher(settings.data_path)
    if rules.launcher is LauncherKind.COMMAND:
        return CommandLauncher(rules.launch_command, rules.retire_command)
    return None
