"""Small OS helpers shared by the embedded engines, the node supervisor and the launcher."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil

from realmkit.errors import EngineStartFailed

LOOPBACK = "127.0.0.1"


def node_command(name: str, role: str | None = None) -> list[str]:
    """The ``realmkit`` arguments that run node ``name`` (as a ``role`` node if given).

    Also what ``is_alive`` looks for in the command line of a node started so.
    """
    return ["node", name, *(["--role", role] if role else [])]


async def start_node(
    name: str,
    log_file: Path,
    *,
    role: str | None = None,
    env: Mapping[str, str] | None = None,
    own_session: bool = False,
) -> asyncio.subprocess.Process:
    """Start ``realmkit node NAME`` with this interpreter; its output goes to ``log_file``.

    The child gets this process's environment with ``env`` set over it, no
    stdin, and stdout and stderr appended to ``log_file``. ``own_session``
    puts it in a session of its own, so that a signal to this process's group
    (Ctrl-C in a terminal) spares it.
    """
    with log_file.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "realmkit",
            *node_command(name, role),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=own_session,
        )


def free_port(preferred: int = 0, host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on at ``host``; ``preferred`` when it is free."""
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            # As servers bind: a port whose old connections linger in TIME_WAIT
            # is free, so a restarted engine gets its previous port back.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise EngineStartFailed("network", f"no free port on {host}")


def is_alive(pid: int | None, needle: str = "") -> bool:
    """Is ``pid`` running (not a zombie) with ``needle`` in its command line?

    The needle guards against a recycled pid belonging to another program.
    """
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return needle in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to a file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def wait_until(ready: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    """Poll ``ready()`` with backoff; ``EngineStartFailed`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not ready():
        if time.monotonic() > deadline:
            raise EngineStartFailed(what, f"not ready after {timeout:g}s", str(log))
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def stop_process(pid: int, timeout: float) -> bool:
    """SIGTERM ``pid`` and wait; SIGKILL it after ``timeout`` seconds. True if it had
    to be killed."""
    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
    except psutil.Error:
        return False
    if _exited(proc, timeout):
        return False
    with contextlib.suppress(psutil.Error):
        proc.kill()
    _exited(proc, timeout)
    return True


def _exited(proc: psutil.Process, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``proc`` to exit. An exited process that its
    parent has not reaped yet (a zombie: ``realmkit up`` under a test runner or a
    busy supervisor) has exited: waiting on it would last the whole timeout."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc.wait(min(0.25, timeout))
            return True
        except psutil.TimeoutExpired:
            pass
        except psutil.Error:
            return True
        if not is_alive(proc.pid) or time.monotonic() > deadline:
            return not is_alive(proc.pid)


async def end_group(proc: asyncio.subprocess.Process, grace: float = 3.0) -> None:
    """End the process group ``proc`` leads (started with ``start_new_session``):
    SIGINT (a Python program, Barman among them, cleans up on it), SIGKILL after
    ``grace`` seconds; ``proc`` reaped, and whatever of its group outlived it (an
    rsync it started) killed and gone before this returns (within ``grace``)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        async with asyncio.timeout(grace):
            await proc.wait()
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
    deadline = time.monotonic() + grace
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
        while time.monotonic() < deadline:
            os.killpg(proc.pid, 0)  # ProcessLookupError once the group is empty
            await asyncio.sleep(0.02)  # not our children: nothing to wait on but the group


class ProcessSampler:
    """What this process costs its host, written with each heartbeat of its nodes
    (``cluster.nodes.cpu_percent`` and ``memory_bytes``, migration 0021): the CPU it
    used since the previous sample as a percent of one core (above 100 when its
    threads, a login node's password hashes for one, use several) and its resident
    memory. Per process: a test that runs several nodes in one sees its total for each.
    """

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._sampled = False

    def sample(self) -> tuple[float | None, int | None]:
        """(CPU percent since the last sample, None at the first; resident bytes)."""
        try:
            cpu = round(self._process.cpu_percent(interval=None), 1)
            memory = int(self._process.memory_info().rss)
        except psutil.Error:
            return None, None
        first, self._sampled = not self._sampled, True
        return (None if first else cpu), memory


SAMPLER = ProcessSampler()
