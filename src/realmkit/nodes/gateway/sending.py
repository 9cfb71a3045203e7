"""A gateway's sends to its players: in order, a frame's spread over a few milliseconds.

A space frame gives a gateway one message per player it serves, all at once.
Written in one burst, they would leave the event loop blind to the players'
inputs for the whole burst and put every socket's bytes on the wire in the
same instant (the traffic spike the seeds warn of). ``Sender`` writes a
frame's messages in slices of at least ``SLICE_MIN`` sends, at most
``SLICES`` of them, ``SLICE_SECONDS`` apart; between slices the loop reads
inputs. What the spaces send (frames, events) goes through one queue, so a
player's messages from its world keep their order (a frame, then the events
of the next tick); the answers to a player's own messages (``new_world``,
``transfer_pending``, errors, queue replies) are written at once. Behind on
its queue, it sends the next slice at once. A message whose player no longer
takes it when its turn comes (it left, or its client was told of a change of
world meanwhile: a frame or event of the old one must not follow
``new_world``) is dropped, as the gateway would not have sent it then.

``delays`` keeps how long each message waited from the frame's arrival to
its write (the last ``KEEP`` of them), for the gateway's load report.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Final, Generic, TypeVar

log = logging.getLogger("realmkit.gateway")

SLICES: Final = 4
SLICE_MIN: Final = 128
SLICE_SECONDS: Final = 0.002
KEEP: Final = 20_000

T = TypeVar("T")


class Sender(Generic[T]):
    """Writes (target, bytes) with ``write``, in order, a batch spread in slices."""

    def __init__(self, write: Callable[[T, bytes], None]) -> None:
        self._write = write
        self._queue: deque[tuple[float, Sequence[tuple[T, bytes]], Callable[[T], bool]]] = deque()
        self._wake = asyncio.Event()
        self.delays: deque[float] = deque(maxlen=KEEP)
        self.sent = 0

    def put(self, batch: Sequence[tuple[T, bytes]], still: Callable[[T], bool]) -> None:
        """Send these messages after everything queued before them, each if its
        target still takes it (``still``) when its turn comes."""
        if batch:
            self._queue.append((time.perf_counter(), batch, still))
            self._wake.set()

    def p99_ms(self) -> float:
        """The 99th percentile of the kept send delays, in milliseconds."""
        if not self.delays:
            return 0.0
        worst = heapq.nlargest(len(self.delays) // 100 + 1, self.delays)
        return 1000.0 * worst[-1]

    async def run(self) -> None:
        """Send forever (cancel to stop)."""
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            arrived, batch, still = self._queue.popleft()
            size = max(SLICE_MIN, -(-len(batch) // SLICES))
            for start in range(0, len(batch), size):
                if start and not self._queue:
                    await asyncio.sleep(SLICE_SECONDS)
                for target, data in batch[start : start + size]:
                    if not still(target):
                        continue
                    try:
                        self._write(target, data)
                    except Exception:
                        # One message that fails must not stop every player's sends.
                        log.exception("a message to a player was not sent")
                        continue
                    self.delays.append(time.perf_counter() - arrived)
                    self.sent += 1
