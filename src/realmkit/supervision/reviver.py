"""The reviver: runs every node of the node file as a child process.

It only feeds ``realmkit.supervision.policy`` (started, exited) and carries out what
it answers (start now, restart later). Each child is ``realmkit node NAME``
with the engines' URLs in its environment and its output in
``<data_dir>/logs/NAME.log``. On drain every child gets SIGTERM (it drains
and stops itself); whatever is still alive after the grace period gets
SIGKILL, by pid.

Ctrl-C in a terminal signals the children as well as ``realmkit up``: they
drain and exit on their own while ``up`` is still stopping its bots. So
``begin_shutdown`` is called from the signal handler, before anything stops:
from then on an exit is final, and nothing is restarted or said to be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from realmkit.engines.embedded import Endpoints
from realmkit.procs import start_node
from realmkit.supervision.policy import Child, RestartPolicy, Supervision

log = logging.getLogger("realmkit.reviver")

GRACE = 10.0


class Reviver:
    def __init__(
        self,
        names: list[str],
        endpoints: Endpoints,
        log_dir: Path,
        *,
        config: Path | None = None,
        data_dir: Path | None = None,
        policy: RestartPolicy | None = None,
    ) -> None:
        self.name = "reviver"
        self.supervision = Supervision(names, policy)
        self.endpoints = endpoints
        self.log_dir = log_dir
        self.config = config
        self.data_dir = data_dir
        self._procs: dict[str, asyncio.subprocess.Process] = {}
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._waiters: set[asyncio.Task[None]] = set()

    @property
    def children(self) -> list[Child]:
        return list(self.supervision.children.values())

    def pid_of(self, name: str) -> int | None:
        return self.supervision.children[name].pid

    async def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._loop_task = asyncio.create_task(self._run(), name="reviver")

    def begin_shutdown(self) -> None:
        """Restart nothing from now on (``drain`` still stops the children)."""
        if not self.supervision.shutting_down:
            self.supervision.shutdown()
        self._wake.set()

    async def drain(self) -> None:
        """SIGTERM every child and wait for them, up to the grace period."""
        self.begin_shutdown()
        for proc in self._procs.values():
            if proc.returncode is None:
                proc.terminate()
        self._wake.set()
        waiting = [p.wait() for p in self._procs.values() if p.returncode is None]
        if waiting:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(GRACE):
                    await asyncio.gather(*waiting)

    async def stop(self) -> None:
        """SIGKILL whatever outlived the drain; stop the loop."""
        if not self.supervision.shutting_down:
            self.supervision.shutdown()
        for name, proc in self._procs.items():
            if proc.returncode is None:
                log.warning("%s did not stop in time; killing pid %d", name, proc.pid)
                proc.kill()
                await proc.wait()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for waiter in list(self._waiters):
            waiter.cancel()

    async def _run(self) -> None:
        while not self.supervision.shutting_down:
            for name in self.supervision.due(time.monotonic()):
                await self._spawn(name)
            self._wake.clear()
            wait = self.supervision.next_wakeup(time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    def child_env(self) -> dict[str, str]:
        """What a child is told over this process's environment: the engines, the
        node file and the data folder this supervisor was started with (``up
        --data-dir`` too, so that every node's backups, metrics targets and
        launched nodes land in that folder, not in the node file's default)."""
        env = {
            "REALMKIT_NATS_URL": self.endpoints.nats_url,
            "REALMKIT_DATABASE_URL": self.endpoints.database_url,
        }
        if self.config is not None:
            env["REALMKIT_CONFIG"] = str(self.config)
        if self.data_dir is not None:
            env["REALMKIT_DATA_DIR"] = str(self.data_dir)
        return env

    async def _spawn(self, name: str) -> None:
        proc = await start_node(name, self.log_dir / f"{name}.log", env=self.child_env())
        self._procs[name] = proc
        self.supervision.started(name, proc.pid, time.monotonic())
        log.info("started %s (pid %d)", name, proc.pid)
        waiter = asyncio.create_task(self._watch(name, proc))
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.discard)

    async def _watch(self, name: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        delay = self.supervision.exited(name, code, time.monotonic())
        if delay is None:
            log.info("%s stopped (exit %d)", name, code)
        else:
            log.warning(
                "%s exited with %d; restarting in %.1fs (see %s)",
                name,
                code,
                delay,
                self.log_dir / f"{name}.log",
            )
        self._wake.set()
