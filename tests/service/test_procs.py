"""Stopping processes by pid (``realmkit.procs``) with real processes."""

from __future__ import annotations

import subprocess
import sys
import time

from realmkit.procs import is_alive, stop_process

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
