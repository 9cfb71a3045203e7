"""Shared test plumbing: every process a test starts must be gone at the end."""

from __future__ import annotations

import psutil
import pytest


def _leftovers(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if marker in " ".join(proc.info["cmdline"] or ()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a process started under the test folder outlived it."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None:
        return
    marker = str(factory.getbasetemp())
    stray = _leftovers(marker)
    if not stray:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for proc in stray:
        if reporter is not None:
            reporter.write_line(f"LEAKED PROCESS {proc.pid}: {' '.join(proc.cmdline())}")
        proc.kill()
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
