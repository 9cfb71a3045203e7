"""The reviver runs real node processes and restarts one killed with SIGKILL."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import aiohttp

from realmkit.engines.embedded import Endpoints
from realmkit.procs import free_port, is_alive
from realmkit.supervision.policy import ChildState, RestartPolicy
from realmkit.supervision.reviver import Reviver

WAIT = 30.0


async def _healthy(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def test_killed_node_is_restarted(
    tmp_path: Path, endpoints: Endpoints, database_url: str, eventually
) -> None:
    """SIGKILL a login node: the reviver starts a new process that serves again."""
    ports = [free_port(), free_port()]
    config = tmp_path / "realmkit.toml"
    config.write_text(
        "".join(
            f'[[nodes]]\nname = "login-{i}"\nrole = "login"\nport = {p}\n'
            for i, p in enumerate(ports)
        )
    )
    reviver = Reviver(
        ["login-0", "login-1"],
        Endpoints(endpoints.nats_url, database_url),
        tmp_path / "logs",
        config=config,
        policy=RestartPolicy(first_delay=0.1),
    )
    await reviver.start()
    pids: list[int | None] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            for port in ports:
                await eventually(lambda p=port: _healthy(session, p), WAIT, f"login on {port}")
            victim = reviver.pid_of("login-0")
            assert victim is not None
            os.kill(victim, signal.SIGKILL)

            async def replaced() -> bool:
                pid = reviver.pid_of("login-0")
                return pid not in (None, victim) and await _healthy(session, ports[0])

            await eventually(replaced, WAIT, "login-0 restarted")
            child = reviver.supervision.children["login-0"]
            assert child.restarts == 1
            assert child.last_exit == -signal.SIGKILL
            assert reviver.supervision.children["login-1"].restarts == 0
            pids = [reviver.pid_of(n) for n in ("login-0", "login-1")]
    finally:
        await reviver.drain()
        await reviver.stop()
    assert {c.state for c in reviver.children} == {ChildState.STOPPED}
    assert not any(is_alive(pid) for pid in pids)
    assert "login API on" in (tmp_path / "logs" / "login-1.log").read_text()
