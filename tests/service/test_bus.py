"""The bus over a real NATS: typed request/reply, queue groups, JetStream, KV, outages."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from realmkit.bus import subjects
from realmkit.bus.nats import NatsBus, Stored
from realmkit.engines.embedded import EmbeddedNats, Endpoints
from realmkit.errors import (
    BusTimeout,
    BusUnavailable,
    Conflict,
    NoResponders,
    NotFound,
    RemoteError,
    StaleEpoch,
)

WAIT = 10.0


class Place(msgspec.Struct, frozen=True):
    character_id: int


class Placed(msgspec.Struct, frozen=True):
    character_id: int
    served_by: str


async def test_request_reply_is_typed(bus: NatsBus) -> None:
    """A request's Struct reaches the server decoded; the reply comes back decoded."""

    async def place(request: Place) -> Placed:
        return Placed(request.character_id, "orchestrator-1")

    await bus.serve(subjects.ORCHESTRATOR_REQUESTS, Place, place, queue=subjects.ORCHESTRATOR_QUEUE)
    reply = await bus.request(subjects.ORCHESTRATOR_REQUESTS, Place(42), Placed, timeout=WAIT)
    assert reply == Placed(42, "orchestrator-1")


async def test_queue_group_delivers_each_message_to_one_member(endpoints: Endpoints) -> None:
    """Three queue members on separate connections: every message is handled exactly once."""
    total = 60
    members = [await NatsBus.connect(endpoints.nats_url, name=f"m{i}") for i in range(3)]
    publisher = await NatsBus.connect(endpoints.nats_url, name="publisher")
    seen: Counter[int] = Counter()
    handled_by: Counter[int] = Counter()
    all_seen = asyncio.get_running_loop().create_future()
    try:
        for index, member in enumerate(members):

            async def handle(msg: Place, index: int = index) -> None:
                seen[msg.character_id] += 1
                handled_by[index] += 1
                if sum(seen.values()) == total and not all_seen.done():
                    all_seen.set_result(None)

            await member.subscribe("test.queue", Place, handle, queue=subjects.ORCHESTRATOR_QUEUE)
            await member.flush()
        for n in range(total):
            await publisher.publish("test.queue", Place(n))
        await publisher.flush()
        await asyncio.wait_for(all_seen, WAIT)
        for member in members:
            await member.flush()  # anything still in flight to a member arrives before this
        assert seen == Counter(range(total))
        assert len(handled_by) > 1
    finally:
        for connection in (*members, publisher):
            await connection.close()


async def test_handler_error_reaches_the_requester(bus: NatsBus) -> None:
    """A RealmkitError raised by the server comes back as RemoteError with its code."""

    async def refuse(request: Place) -> Placed:
        raise StaleEpoch(request.character_id, 3)

    await bus.serve("test.refuse", Place, refuse)
    with pytest.raises(RemoteError) as caught:
        await bus.request("test.refuse", Place(7), Placed, timeout=WAIT)
    assert caught.value.remote_code == "STALE_EPOCH"


async def test_nobody_serving_is_no_responders(bus: NatsBus) -> None:
    """A request on a subject nobody serves fails at once with NoResponders."""
    with pytest.raises(NoResponders):
        await bus.request("test.nobody", Place(1), Placed, timeout=WAIT)


async def test_silent_server_is_a_timeout(bus: NatsBus) -> None:
    """A server that never answers makes the request fail with BusTimeout."""
    never = asyncio.Event()

    async def hang(request: Place) -> Placed:
        await never.wait()
        raise AssertionError("unreachable")

    await bus.serve("test.hang", Place, hang)
    with pytest.raises(BusTimeout):
        await bus.request("test.hang", Place(1), Placed, timeout=0.2)
    never.set()


async def test_bad_bytes_are_dropped_and_the_subscription_lives(bus: NatsBus) -> None:
    """Undecodable bytes never reach the handler; the next good message does."""
    got: asyncio.Queue[Place] = asyncio.Queue()

    async def handle(msg: Place) -> None:
        await got.put(msg)

    await bus.subscribe("test.bytes", Place, handle)
    await bus.client.publish("test.bytes", b"\xc1 definitely not msgpack")
    await bus.client.publish("test.bytes", msgspec.msgpack.encode({"wrong": "shape"}))
    await bus.publish("test.bytes", Place(5))
    assert await asyncio.wait_for(got.get(), WAIT) == Place(5)
    assert got.empty()


async def test_an_ended_subscription_gets_nothing_more(bus: NatsBus) -> None:
    """After ``unsubscribe`` (safe twice) a subscription gets no message; another
    subscription to the same subject gets the next one."""
    first: asyncio.Queue[Place] = asyncio.Queue()
    second: asyncio.Queue[Place] = asyncio.Queue()

    async def to_first(msg: Place) -> None:
        await first.put(msg)

    async def to_second(msg: Place) -> None:
        await second.put(msg)

    subscription = await bus.subscribe("test.ended", Place, to_first)
    assert subscription.subject == "test.ended"
    await bus.publish("test.ended", Place(1))
    assert await asyncio.wait_for(first.get(), WAIT) == Place(1)
    await subscription.unsubscribe()
    await subscription.unsubscribe()
    await bus.subscribe("test.ended", Place, to_second)
    await bus.publish("test.ended", Place(2))
    assert await asyncio.wait_for(second.get(), WAIT) == Place(2)
    await bus.flush()
    assert first.empty()


async def test_draining_a_service_answers_the_requests_it_took(bus: NatsBus) -> None:
    """``drain`` returns once a request already being answered has its answer."""
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(request: Place) -> Placed:
        started.set()
        await release.wait()
        return Placed(request.character_id, "draining")

    subscription = await bus.serve("test.drain", Place, slow, concurrent=True)
    asked = asyncio.create_task(bus.request("test.drain", Place(3), Placed, timeout=WAIT))
    await asyncio.wait_for(started.wait(), WAIT)
    draining = asyncio.create_task(bus.drain_subscription(subscription))
    # Nothing to wait on for "not yet": give a wrong drain a moment to return early.
    finished, _ = await asyncio.wait({draining}, timeout=0.2)
    assert not finished
    release.set()
    await asyncio.wait_for(draining, WAIT)
    assert await asyncio.wait_for(asked, WAIT) == Placed(3, "draining")
    await subscription.drain()  # already ended: nothing to do
    with pytest.raises(NoResponders):
        await bus.request("test.drain", Place(4), Placed, timeout=WAIT)


async def test_stream_keeps_published_messages(bus: NatsBus) -> None:
    """A message published to a JetStream stream can be read back by its sequence."""
    await bus.ensure_stream(subjects.EVENTS_STREAM, [subjects.EVENTS_ALL])
    await bus.ensure_stream(subjects.EVENTS_STREAM, [subjects.EVENTS_ALL])  # idempotent
    seq = await bus.publish_persistent(subjects.event("node_up"), Place(3))
    assert await bus.stream_message(subjects.EVENTS_STREAM, seq, Place) == Place(3)
    with pytest.raises(NotFound):
        await bus.stream_message(subjects.EVENTS_STREAM, seq + 100, Place)


async def test_a_followed_stream_delivers_in_order_and_replays_by_subject(
    bus: NatsBus,
) -> None:
    """``follow`` hands every message stored from now on, in stream order with its
    sequence; ``replay`` reads back those of some subjects after a sequence, in order,
    at most the last ``limit``."""
    stream = f"TEST_{uuid.uuid4().hex[:8].upper()}"
    prefix = stream.lower()
    await bus.ensure_stream(stream, [f"{prefix}.>"], max_age=600, max_bytes=1 << 20)
    seen: list[tuple[int, int]] = []
    got_all = asyncio.Event()

    async def on(stored: Stored[Place]) -> None:
        seen.append((stored.seq, stored.message.character_id))
        if len(seen) == 30:
            got_all.set()

    sub = await bus.follow(stream, f"{prefix}.>", Place, on)
    seqs = []
    for i in range(30):
        seqs.append(await bus.publish_persistent(f"{prefix}.{'a' if i % 3 else 'b'}.{i}", Place(i)))
    await asyncio.wait_for(got_all.wait(), WAIT)
    await sub.unsubscribe()
    assert seen == list(zip(seqs, range(30), strict=True))
    b_only = await bus.replay(stream, [f"{prefix}.b.*"], seqs[3], Place, limit=100)
    assert [s.message.character_id for s in b_only] == [6, 9, 12, 15, 18, 21, 24, 27]
    assert all(s.at_ms > 1_700_000_000_000 for s in b_only), "the server's time, in ms"
    both = await bus.replay(stream, [f"{prefix}.b.*", f"{prefix}.a.1"], 0, Place, limit=3)
    assert [s.message.character_id for s in both] == [21, 24, 27]
    assert await bus.replay(stream, [f"{prefix}.a.*"], seqs[-1], Place, limit=10) == []


async def test_key_value_compare_and_set(bus: NatsBus) -> None:
    """KV create refuses an existing key; update refuses a stale revision."""
    kv = await bus.key_value("test_leases", Placed)
    revision = await kv.create("leader", Placed(1, "orchestrator-1"))
    with pytest.raises(Conflict):
        await kv.create("leader", Placed(2, "orchestrator-2"))
    newer = await kv.update("leader", Placed(1, "orchestrator-2"), revision)
    with pytest.raises(Conflict):
        await kv.update("leader", Placed(1, "orchestrator-3"), revision)
    assert await kv.get("leader") == (Placed(1, "orchestrator-2"), newer)
    await kv.delete("leader")
    with pytest.raises(NotFound):
        await kv.get("leader")


async def test_unreachable_server_is_named_without_secret() -> None:
    """Connecting to a port where nothing listens raises BusUnavailable naming the URL."""
    with pytest.raises(BusUnavailable) as caught:
        await NatsBus.connect("nats://tok3n@127.0.0.1:1", patience=0.5)
    assert "127.0.0.1:1" in caught.value.message
    assert "tok3n" not in caught.value.message


async def test_bus_survives_a_nats_restart(tmp_path: Path) -> None:
    """While NATS is down requests fail fast with BusUnavailable; after restart they work."""
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    bus = await NatsBus.connect(server.url())
    try:

        async def echo(request: Place) -> Placed:
            return Placed(request.character_id, "echo")

        await bus.serve("test.echo", Place, echo)
        assert (await bus.request("test.echo", Place(1), Placed, timeout=WAIT)).served_by == "echo"
        server.stop()
        await bus.wait_connected(WAIT, connected=False)  # the client notices the closed socket
        with pytest.raises(BusUnavailable):
            await bus.request("test.echo", Place(2), Placed, timeout=WAIT)
        server.start()  # same port: the client's reconnect loop finds it
        await bus.wait_connected(WAIT)
        assert (await bus.request("test.echo", Place(3), Placed, timeout=WAIT)).character_id == 3
    finally:
        await bus.close()
        server.stop()
