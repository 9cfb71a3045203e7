"""The gateway's sender: in order, a frame's messages spread in slices, stale ones dropped."""

from __future__ import annotations

import asyncio

from realmkit.nodes.gateway.sending import SLICE_MIN, SLICES, Sender


async def test_a_big_frame_goes_out_in_slices_with_the_loop_free_between_them() -> None:
    """A frame for many players is written in SLICES slices, in order, and another task
    runs between two slices, never inside one; every write's delay is kept."""
    written: list[tuple[int, bytes]] = []
    between: list[int] = []  # how much was written each time another task ran

    def write(target: int, data: bytes) -> None:
        written.append((target, data))

    sender: Sender[int] = Sender(write)
    task = asyncio.create_task(sender.run())
    players = SLICES * SLICE_MIN * 2
    sender.put([(i, b"frame") for i in range(players)], lambda _: True)
    async with asyncio.timeout(5.0):
        while len(written) < players:
            between.append(len(written))
            await asyncio.sleep(0)
    task.cancel()
    slice_size = players // SLICES
    # Another task ran after each slice, never inside one.
    assert {n for n in between if n} == {slice_size * k for k in range(1, SLICES)}
    assert [t for t, _ in written] == list(range(players))
    assert sender.sent == players
    assert len(sender.delays) == players
    assert sender.p99_ms() >= 0.0


async def test_messages_keep_their_order_and_a_stale_one_is_dropped() -> None:
    """Batches go out in the order they were put; a message whose target no longer
    takes it when its turn comes is not written; an empty batch queues nothing."""
    written: list[tuple[int, bytes]] = []
    four = asyncio.Event()

    def write(target: int, data: bytes) -> None:
        written.append((target, data))
        if len(written) == 4:
            four.set()

    sender: Sender[int] = Sender(write)
    moved = {2}  # player 2 left this world before its turn came
    sender.put([(1, b"frame 1"), (2, b"frame 1"), (3, b"frame 1")], lambda t: t not in moved)
    sender.put([(1, b"event"), (3, b"event")], lambda _: True)
    sender.put([], lambda _: True)  # nothing to send: nothing queued
    task = asyncio.create_task(sender.run())
    async with asyncio.timeout(5.0):
        await four.wait()
    task.cancel()
    assert written == [(1, b"frame 1"), (3, b"frame 1"), (1, b"event"), (3, b"event")]
