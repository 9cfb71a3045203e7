"""Stopping processes by pid (``realmkit.procs``) with real processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from realmkit.procs import end_group, is_alive, stop_process

# A parent that starts a sleeper, says its pid, and never reaps it.
NEGLECTFUL_PARENT = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def test_an_exit_its_parent_has_not_reaped_yet_is_a_stop() -> None:
    """SIGTERM ends a process whose parent does not reap it (a zombie until then):
    `stop_process` returns at once, without waiting out its timeout or killing."""
    parent = subprocess.Popen(
        [sys.executable, "-c", NEGLECTFUL_PARENT], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        started = time.monotonic()
        assert stop_process(child, timeout=30.0) is False
        assert time.monotonic() - started < 10.0
        assert not is_alive(child)
    finally:
        parent.kill()  # its zombie child goes to init, which reaps it
        parent.wait()


async def test_a_cancelled_command_ends_with_its_whole_process_group(eventually) -> None:  # type: ignore[no-untyped-def]
    """`end_group` ends a command started in a session of its own and what it
    started (as Barman's cron starts a WAL streamer): none outlives it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        NEGLECTFUL_PARENT,
        stdout=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None
    child = int(await proc.stdout.readline())
    try:
        await end_group(proc, grace=10.0)
        assert proc.returncode is not None

        async def child_gone() -> bool:
            return not is_alive(child)

        await eventually(child_gone, 10.0, "the command's own child gone too")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
