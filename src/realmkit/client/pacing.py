"""Waiting that a swarm's stop event cuts short (bots never wait past it)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TypeVar

T = TypeVar("T")


async def next_item(queue: asyncio.Queue[T], stop: asyncio.Event) -> T | None:
    """The next item of ``queue``, or None once ``stop`` is set."""
    getting = asyncio.ensure_future(queue.get())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if getting.done():
        return getting.result()
    getting.cancel()
    return None


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()


async def until_set(event: asyncio.Event, stop: asyncio.Event, seconds: float) -> bool:
    """Wait at most ``seconds`` for ``event``; whether it is set (False once ``stop`` is)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            waiting = asyncio.ensure_future(event.wait())
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiting.cancel()
                stopping.cancel()
    return event.is_set() and not stop.is_set()
