"""Which node processes to start, and when to restart a crashed one. No I/O.

The reviver feeds this core what happened (a child started, a child exited
with a code) and asks it what to do now; it never decides anything itself.

Rules:
- A child that exits while the supervisor is running is restarted after a
  backoff that doubles with each crash in a row (0.5 s, 1 s, 2 s ... 30 s).
- A child that stayed up for ``stable_after`` seconds has its streak reset:
  one crash a day never waits long.
- Once ``shutdown()`` is called nothing is started again.

States: STOPPED -> STARTING -> RUNNING -> (exit) -> BACKOFF -> STARTING ...
and from any state -> STOPPING -> STOPPED on shutdown.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from realmkit.errors import IllegalTransition


class ChildState(StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"
    STOPPING = "stopping"


_ALLOWED: dict[ChildState, set[ChildState]] = {
    ChildState.STOPPED: {ChildState.STARTING},
    ChildState.STARTING: {ChildState.RUNNING, ChildState.BACKOFF, ChildState.STOPPING},
    ChildState.RUNNING: {ChildState.BACKOFF, ChildState.STOPPING},
    ChildState.BACKOFF: {ChildState.STARTING, ChildState.STOPPING},
    ChildState.STOPPING: {ChildState.STOPPED},
}


class Child(msgspec.Struct):
    name: str
    state: ChildState = ChildState.STOPPED
    pid: int | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    crashes_in_a_row: int = 0
    restarts: int = 0
    last_exit: int | None = None

    def move(self, target: ChildState) -> None:
        if target not in _ALLOWED[self.state]:
            raise IllegalTransition("child", self.state.value, target.value)
        self.state = target


class RestartPolicy(msgspec.Struct, frozen=True):
    first_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 60.0

    def delay(self, crashes_in_a_row: int) -> float:
        return float(min(self.max_delay, self.first_delay * 2 ** max(0, crashes_in_a_row - 1)))


class Supervision:
    def __init__(self, names: list[str], policy: RestartPolicy | None = None) -> None:
        self.policy = policy or RestartPolicy()
        self.children = {name: Child(name) for name in names}
        self.shutting_down = False

    def due(self, now: float) -> list[str]:
        """Children to start now (stopped ones at first, crashed ones after backoff)."""
        if self.shutting_down:
            return []
        return [
            c.name
            for c in self.children.values()
            if c.state is ChildState.STOPPED
            or (c.state is ChildState.BACKOFF and c.restart_at <= now)
        ]

    def next_wakeup(self, now: float) -> float | None:
        """Seconds until the next restart is due (None: nothing waits)."""
        waits = [
            c.restart_at - now for c in self.children.values() if c.state is ChildState.BACKOFF
        ]
        return max(0.0, min(waits)) if waits and not self.shutting_down else None

    def started(self, name: str, pid: int, now: float) -> None:
        child = self.children[name]
        if child.state is ChildState.BACKOFF:
            child.restarts += 1
        child.move(ChildState.STARTING)
        child.pid = pid
        child.started_at = now
        child.move(ChildState.RUNNING)

    def exited(self, name: str, code: int, now: float) -> float | None:
        """Record an exit; returns the restart delay, or None when it stays down."""
        child = self.children[name]
        child.pid = None
        child.last_exit = code
        if child.state is ChildState.STOPPING or self.shutting_down:
            child.state = ChildState.STOPPING
            child.move(ChildState.STOPPED)
            return None
        if now - child.started_at >= self.policy.stable_after:
            child.crashes_in_a_row = 0
        child.crashes_in_a_row += 1
        delay = self.policy.delay(child.crashes_in_a_row)
        child.restart_at = now + delay
        child.move(ChildState.BACKOFF)
        return delay

    def shutdown(self) -> list[str]:
        """Stop restarting; returns the children that are still running and must be stopped."""
        self.shutting_down = True
        running = []
        for child in self.children.values():
            if child.state in (ChildState.RUNNING, ChildState.STARTING):
                child.move(ChildState.STOPPING)
                running.append(child.name)
            elif child.state is ChildState.BACKOFF:
                child.move(ChildState.STOPPING)
                child.move(ChildState.STOPPED)
        return running
