"""Password hashes on a login node: a few at a time, off the event loop.

An argon2id check takes about 20 ms of one core (``auth.passwords``). Run in
the default thread pool, a wave of logins after a restart ran as many at once
as there were threads, took every core of a small host from the world nodes
on it, and stalled everything else the login node serves (tickets, realm
lists). Here at most ``parallel`` run at once; the rest wait in line, so the
node's other requests, and the other processes of the host, keep their turn.
The line is bounded: past ``waiting`` callers, or after ``patience`` seconds in
it, a login is answered ``Unavailable`` (HTTP 503, try again) instead of held.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TypeVar

from realmkit.errors import Unavailable

T = TypeVar("T")

# One core of two (or all but one) for hashing: the host keeps the rest.
PARALLEL = max(1, (os.cpu_count() or 2) - 1)
WAITING = 1000  # callers in line at most (about 20 s of hashing on one core)
PATIENCE = 15.0  # seconds a caller waits in line at most


class HashLine:
    def __init__(
        self, parallel: int = PARALLEL, waiting: int = WAITING, patience: float = PATIENCE
    ) -> None:
        self.parallel = parallel
        self.waiting = waiting
        self.patience = patience
        self._gate = asyncio.Semaphore(parallel)
        self._in_line = 0
        self.running = 0
        self.turned_away = 0

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` in a worker thread, when its turn comes."""
        if self._in_line >= self.waiting:
            self.turned_away += 1
            raise Unavailable("too many logins at once; try again in a second", retry_after=1.0)
        self._in_line += 1
        try:
            async with asyncio.timeout(self.patience):
                await self._gate.acquire()
        except TimeoutError:
            self.turned_away += 1
            raise Unavailable(
                "logins are queued longer than usual; try again in a second", retry_after=1.0
            ) from None
        finally:
            self._in_line -= 1
        self.running += 1
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self.running -= 1
            self._gate.release()
