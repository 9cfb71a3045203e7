"""Password hashes on a login node: a few at a time, off the event loop.

An argon2id check takes about 20 ms of one core (``auth.passwords``). Run in
the default thread pool, a wave of logins after a restart ran as many at once
as there were threads, took every core of a small host from the world nodes
on it, and stalled everything else the login node serves (tickets, realm
lists). Here at most ``parallel`` run at once; the rest wait in line, so the
node's other requests, and the other processes of the host, keep their turn.
The line is bounded: past ``waiting`` callers, or past ``per_address`` of one
address, or after ``patience`` seconds in it, a login is answered
``Unavailable`` (HTTP 503 with Retry-After) instead of held, so one client
cannot fill the line for everyone.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TypeVar

from realmkit.errors import Unavailable

T = TypeVar("T")

# All the cores this process may use but one for hashing: the host keeps the rest.
PARALLEL = max(1, len(os.sched_getaffinity(0)) - 1)
WAITING = 1000  # callers in line at most (about 25 s of hashing on one core)
PER_ADDRESS = 100  # of them from one address
PATIENCE = 30.0  # seconds a caller waits in line at most


class HashLine:
    def __init__(
        self,
        parallel: int = PARALLEL,
        waiting: int = WAITING,
        patience: float = PATIENCE,
        per_address: int = PER_ADDRESS,
    ) -> None:
        self.parallel = parallel
        self.waiting = waiting
        self.patience = patience
        self.per_address = per_address
        self._gate = asyncio.Semaphore(parallel)
        self._in_line = 0
        self._by_address: dict[str, int] = {}
        self.running = 0
        self.turned_away = 0

    @property
    def waiting_now(self) -> int:
        """Callers in line, not yet hashing."""
        return self._in_line

    async def run(self, work: Callable[..., T], *args: object, address: str = "") -> T:
        """``work(*args)`` in a worker thread, when its turn comes (``address``: the
        caller's, for its share of the line)."""
        mine = self._by_address.get(address, 0)
        if self._in_line >= self.waiting or mine >= self.per_address:
            self.turned_away += 1
            raise Unavailable("too many logins at once; try again in a second", retry_after=1.0)
        self._in_line += 1
        self._by_address[address] = mine + 1
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
            left = self._by_address[address] - 1
            if left:
                self._by_address[address] = left
            else:
                del self._by_address[address]
        self.running += 1
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self.running -= 1
            self._gate.release()
