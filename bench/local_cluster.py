"""A throwaway local cluster for benchmarks: `realmkit up` in a temporary folder.

The node file names every role on free loopback ports; the cluster has its
own embedded engines, stopped and deleted with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from realmkit.engines.embedded import EmbeddedEngines
from realmkit.procs import free_port


def realmkit(*args: str) -> list[str]:
    return [sys.executable, "-m", "realmkit", *args]


class LocalCluster:
    """Started by ``start``; ``login`` is the login node's base URL (ending in /)."""

    def __init__(
        self,
        roles: list[tuple[str, str]],
        prefix: str,
        settings: str = "",
        world_capacity: int = 5000,
    ) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.root.chmod(0o755)
        ports = {name: free_port() for name, role in roles if role in ("login", "gateway")}
        node_file = self.root / "realmkit.toml"
        node_file.write_text(
            # The benchmarks are load generators on this machine: many sign-ups from it.
            '[login]\nregistrations_unlimited = ["127.0.0.1"]\n\n'
            + settings
            + "".join(
                f'[[nodes]]\nname = "{n}"\nrole = "{r}"\nport = {ports.get(n, 0)}\n'
                f"capacity = {world_capacity if r == 'world' else 5000}\n"
                for n, r in roles
            )
        )
        self.data = self.root / "d"
        self.env = {
            **os.environ,
            "REALMKIT_CONFIG": str(node_file),
            "REALMKIT_DATA_DIR": str(self.data),
        }
        self.login = f"http://127.0.0.1:{ports['login']}/"
        self.up: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.up = subprocess.Popen(
            realmkit("up", "--no-live"),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.login + "healthz", timeout=1) as resp:  # noqa: S310
                    if json.loads(resp.read()).get("gateways", 0) >= 2:
                        return
            except OSError:
                pass
            time.sleep(0.3)  # the cluster is starting
        raise SystemExit("cluster did not become ready")

    def urls(self) -> tuple[str, str]:
        """(NATS URL, database URL) of the cluster's embedded engines."""
        return EmbeddedEngines(self.data).urls()

    def node_pid(self, name: str) -> int:
        assert self.up is not None
        for child in psutil.Process(self.up.pid).children(recursive=True):
            if child.cmdline()[-2:] == ["node", name]:
                return child.pid
        raise LookupError(name)

    def server_processes(self) -> dict[str, psutil.Process]:
        """Every process of the cluster's server side, by name: its nodes (with those
        the scaler launched: they run in a session of their own, not under `up`),
        NATS, and PostgreSQL's postmaster and each of its backends (``postgres-PID``).
        Call it again for processes started since."""
        assert self.up is not None
        found: dict[str, psutil.Process] = {}
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.up.pid).children(recursive=True):
                cmd = child.cmdline()
                if "node" in cmd:  # python -m realmkit node NAME
                    found[cmd[cmd.index("node") + 1]] = child
        for pid_file in sorted((self.data / "launched").glob("*.pid")):
            with contextlib.suppress(OSError, ValueError, psutil.Error):
                proc = psutil.Process(int(pid_file.read_text()))
                if pid_file.stem in proc.cmdline():
                    found[pid_file.stem] = proc
        engines = EmbeddedEngines(self.data)
        nats = engines.nats.pid()
        if nats is not None:
            with contextlib.suppress(psutil.Error):
                found["nats"] = psutil.Process(nats)
        postmaster = engines.postgres.pid()
        if postmaster is not None:
            with contextlib.suppress(psutil.Error):
                main = psutil.Process(postmaster)
                found["postgres"] = main
                for backend in main.children(recursive=True):
                    found[f"postgres-{backend.pid}"] = backend
        return found

    def stop(self, keep_logs: Path | None = None) -> None:
        if self.up is not None:
            self.up.send_signal(signal.SIGTERM)
            self.up.wait(120)
        EmbeddedEngines(self.data).down()
        if keep_logs is not None:
            shutil.copytree(self.data / "logs", keep_logs, dirs_exist_ok=True)
        shutil.rmtree(self.root, ignore_errors=True)
