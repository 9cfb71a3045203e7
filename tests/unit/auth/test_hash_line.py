"""The login node's line for password hashes (``nodes/login/hashing.py``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

import pytest

from realmkit.errors import Unavailable
from realmkit.nodes.login.hashing import HashLine

WAIT = 5.0
Eventually = Callable[[Callable[[], Awaitable[bool]], float, str], Awaitable[None]]


class Work:
    """A hash stand-in that runs until released, counting how many run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.done = 0

    def __call__(self, value: int) -> int:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        assert self.release.wait(WAIT), "never released"
        with self.lock:
            self.now -= 1
            self.done += 1
        return value * 2


def _running(work: Work, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return work.now == n

    return check


async def test_a_wave_runs_a_few_at_a_time_and_every_caller_gets_its_answer(
    eventually: Eventually,
) -> None:
    line = HashLine(parallel=2, waiting=100, patience=WAIT)
    work = Work()
    calls = [asyncio.create_task(line.run(work, n)) for n in range(8)]
    await eventually(_running(work, 2), WAIT, "two running")
    assert line.running == 2
    work.release.set()
    assert await asyncio.gather(*calls) == [2 * n for n in range(8)]
    assert work.most == 2
    assert line.turned_away == 0


async def test_past_the_lines_length_a_caller_is_told_to_come_back(
    eventually: Eventually,
) -> None:
    line = HashLine(parallel=1, waiting=2, patience=WAIT)
    work = Work()
    running = asyncio.create_task(line.run(work, 1))
    await eventually(_running(work, 1), WAIT, "one running")
    waiting = [asyncio.create_task(line.run(work, n)) for n in (2, 3)]
    await asyncio.sleep(0)  # both take their place in line
    with pytest.raises(Unavailable):
        await line.run(work, 4)
    work.release.set()
    assert await asyncio.gather(running, *waiting) == [2, 4, 6]
    assert line.turned_away == 1


async def test_a_caller_kept_in_line_too_long_is_told_to_come_back(
    eventually: Eventually,
) -> None:
    line = HashLine(parallel=1, waiting=10, patience=0.05)
    work = Work()
    running = asyncio.create_task(line.run(work, 1))
    await eventually(_running(work, 1), WAIT, "one running")
    with pytest.raises(Unavailable):
        await line.run(work, 2)
    work.release.set()
    assert await running == 2
    assert line.running == 0


async def test_one_address_cannot_fill_the_line(eventually: Eventually) -> None:
    """Past ``per_address`` callers of one address waiting in line (one of its runs,
    one waits), the next of it is turned away; another address still gets in."""
    line = HashLine(parallel=1, waiting=100, patience=WAIT, per_address=1)
    work = Work()
    mine = [asyncio.create_task(line.run(work, n, address="10.0.0.1")) for n in (1, 2)]
    await eventually(_running(work, 1), WAIT, "one running")
    await asyncio.sleep(0)  # the second takes its place in line
    with pytest.raises(Unavailable):
        await line.run(work, 3, address="10.0.0.1")
    theirs = asyncio.create_task(line.run(work, 4, address="10.0.0.2"))
    work.release.set()
    assert await asyncio.gather(*mine, theirs) == [2, 4, 8]
    assert line.turned_away == 1
