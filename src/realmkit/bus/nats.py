"""The NATS adapter: typed messages over nats-py, JetStream streams and KV.

Messages are msgspec Structs encoded as msgpack. No nats exception leaves
this module: an unreachable or lost server is ``BusUnavailable``, a request
nobody answers ``NoResponders`` or ``BusTimeout``, undecodable bytes
``BadMessage``. After the first connection the client reconnects forever
(publishes are buffered meanwhile); requests fail fast while disconnected
instead of waiting out their timeout. A lost server is logged once when it
goes and once when it is back (``realmkit.outage``), never per failed call.

A request handler that raises a ``RealmkitError`` answers with that error;
the requester gets ``RemoteError`` carrying the remote code and message.

``subscribe`` and ``serve`` hand out this module's ``Subscription``, not
nats-py's, so that the nodes never import ``nats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    KeyValueConfig,
    StreamConfig,
)

from realmkit.engines.embedded import redact
from realmkit.errors import (
    BadMessage,
    BusTimeout,
    BusUnavailable,
    Conflict,
    NoResponders,
    NotFound,
    RealmkitError,
    RemoteError,
    Unavailable,
)
from realmkit.outage import Outage
from realmkit.protocol.codec import decode, encode

log = logging.getLogger("realmkit.bus")
FIRST_RETRY_DELAY = 0.05

T = TypeVar("T")
R = TypeVar("R")

ERROR_HEADER = "Realmkit-Error"
# Remote error codes that mean "ask again soon" (see request_patiently).
RETRYABLE = frozenset(
    {"UNAVAILABLE", "BUS_UNAVAILABLE", "BUS_TIMEOUT", "NO_RESPONDERS", "STORE_UNAVAILABLE"}
)
CONNECT_TIMEOUT = 5.0
RECONNECT_WAIT = 0.25

_GONE = (
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.StaleConnectionError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.NoServersError,
    OSError,
)


# A replay fetches so many messages at a time, and ends when one fetch finds nothing
# for this long (the stream's last message was read).
REPLAY_BATCH = 500
REPLAY_WAIT = 0.5


class Stored(msgspec.Struct, Generic[T], frozen=True):
    """A message as a stream keeps it: its sequence there (unique and growing) and
    when the server stored it (ms since 1970)."""

    seq: int
    at_ms: int
    message: T


def _stored(msg: Msg, kind: Any) -> Stored[Any]:
    meta = msg.metadata
    at_ms = int(meta.timestamp.timestamp() * 1000) if meta.timestamp else 0
    return Stored(meta.sequence.stream, at_ms, decode(msg.data, kind, msg.subject))


class ErrorReply(msgspec.Struct, frozen=True):
    code: str
    message: str


class NatsBus:
    """One connection to NATS, shared by everything in a node process."""

    def __init__(
        self,
        client: Client,
        url: str,
        online: asyncio.Event,
        offline: asyncio.Event,
        outage: Outage,
    ) -> None:
        self.client = client
        self.url = redact(url)
        self.outage = outage
        self.js = client.jetstream()
        self._events = {True: online, False: offline}
        self._handling: set[asyncio.Task[None]] = set()

    @classmethod
    async def connect(
        cls, url: str, *, name: str = "realmkit", patience: float = CONNECT_TIMEOUT
    ) -> NatsBus:
        """Connect, retrying for ``patience`` seconds (a node may start before NATS).

        ``BusUnavailable`` naming the URL (secret masked) if NATS never answers.
        """
        shown = redact(url)
        online, offline = asyncio.Event(), asyncio.Event()
        outage = Outage("NATS", shown, name, log, time.monotonic)

        async def disconnected() -> None:
            online.clear()
            offline.set()
            if not client.is_closed and not client.is_draining:
                outage.began("connection lost")

        async def reconnected() -> None:
            offline.clear()
            online.set()
            outage.ended()

        async def error(exc: Exception) -> None:
            log.debug("NATS client error: %s", exc)

        client = Client()
        try:
            async with asyncio.timeout(patience):
                await client.connect(
                    url,
                    name=name,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=RECONNECT_WAIT,  # type: ignore[arg-type]
                    connect_timeout=1,
                    disconnected_cb=disconnected,
                    reconnected_cb=reconnected,
                    error_cb=error,
                )
        except (TimeoutError, *_GONE, nats.errors.Error) as exc:
            await client.close()
            detail = str(exc) or "no answer"
            raise BusUnavailable(f"{shown}: {detail}") from exc
        online.set()
        return cls(client, url, online, offline, outage)

    @property
    def connected(self) -> bool:
        return bool(self.client.is_connected)

    async def wait_connected(self, timeout: float, *, connected: bool = True) -> None:
        """Return once the connection is up (or, with ``connected=False``, lost).

        ``BusUnavailable`` if that has not happened within ``timeout`` seconds.
        """
        try:
            async with asyncio.timeout(timeout):
                await self._events[connected].wait()
        except TimeoutError as exc:
            state = "connected" if connected else "disconnected"
            raise BusUnavailable(f"{self.url}: not {state} within {timeout:g}s") from exc

    async def close(self) -> None:
        """Drain subscriptions and close; safe to call twice."""
        if self.client.is_closed:
            return
        try:
            await self.client.drain()
        except (*_GONE, nats.errors.Error):
            await self.client.close()

    # --- core NATS ----------------------------------------------------------

    async def publish(self, subject: str, message: Any) -> None:
        with self._translated(subject):
            await self.client.publish(subject, encode(message))

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait until the server has everything published so far."""
        with self._translated("flush"):
            await self.client.flush(timeout=int(timeout) or 1)

    async def subscribe(
        self,
        subject: str,
        kind: Any,
        handler: Callable[[Any], Awaitable[None]],
        *,
        queue: str = "",
    ) -> Subscription:
        """Call ``handler`` with each decoded message; bad bytes are logged and dropped.

        ``kind`` is a Struct type or a union of tagged Structs.
        """

        async def on_message(msg: Msg) -> None:
            try:
                message = decode(msg.data, kind, msg.subject)
            except BadMessage as exc:
                log.warning("%s", exc)
                return
            try:
                await handler(message)
            except Exception:
                log.exception("handler for %s failed", msg.subject)

        with self._translated(subject):
            return Subscription(
                self, await self.client.subscribe(subject, queue=queue, cb=on_message)
            )

    async def serve(
        self,
        subject: str,
        kind: Any,
        handler: Callable[[Any], Awaitable[Any]],
        *,
        queue: str = "",
        concurrent: bool = False,
    ) -> Subscription:
        """Answer requests on ``subject`` with ``handler``'s result (a Struct).

        ``kind`` is a Struct type or a union of tagged Structs. Requests are
        handled one after another unless ``concurrent``: then each runs as its
        own task, so one that waits on other nodes does not hold up the rest.
        """

        async def answer(msg: Msg) -> None:
            try:
                reply = encode(await handler(decode(msg.data, kind, msg.subject)))
                headers = None
            except RealmkitError as exc:
                reply = encode(ErrorReply(exc.code, exc.message))
                headers = {ERROR_HEADER: exc.code}
            except Exception:
                log.exception("request handler for %s failed", msg.subject)
                reply = encode(ErrorReply("INTERNAL", "the serving node failed"))
                headers = {ERROR_HEADER: "INTERNAL"}
            if msg.reply:
                with contextlib.suppress(BusUnavailable), self._translated(msg.reply):
                    await self.client.publish(msg.reply, reply, headers=headers)

        async def on_request(msg: Msg) -> None:
            if not concurrent:
                await answer(msg)
                return
            task = asyncio.create_task(answer(msg))
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)

        with self._translated(subject):
            return Subscription(
                self, await self.client.subscribe(subject, queue=queue, cb=on_request)
            )

    async def drain_subscription(self, subscription: Subscription) -> None:
        """Stop receiving on ``subscription``; messages already received are handled."""
        await subscription.drain()

    async def request(
        self, subject: str, message: Any, reply_kind: type[R], *, timeout: float = 2.0
    ) -> R:
        """Send a request and decode the reply as ``reply_kind``."""
        if not self.connected:
            self._lost("not connected")
            raise BusUnavailable(f"{self.url}: not connected (request on {subject})")
        try:
            msg = await self.client.request(subject, encode(message), timeout=timeout)
        except nats.errors.NoRespondersError as exc:
            raise NoResponders(subject) from exc
        except nats.errors.TimeoutError as exc:
            raise BusTimeout(subject, timeout) from exc
        except _GONE as exc:
            self._lost(str(exc) or type(exc).__name__)
            raise BusUnavailable(f"{self.url}: {exc}") from exc
        except nats.errors.Error as exc:
            raise BusUnavailable(f"{self.url}: {exc}", outage=False) from exc
        if msg.headers and ERROR_HEADER in msg.headers:
            failure = decode(msg.data, ErrorReply, subject)
            raise RemoteError(subject, failure.code, failure.message)
        return decode(msg.data, reply_kind, subject)

    async def request_patiently(
        self,
        subject: str,
        message: Any,
        reply_kind: type[R],
        *,
        within: float,
        attempt_timeout: float = 3.0,
    ) -> R:
        """``request``, tried again while the answer is "not now" for ``within`` seconds.

        "Not now": nobody serves the subject (every orchestrator down), the
        server is unreachable or slow, or it answered with an ``Unavailable``
        error of its own (an instance being restored or migrated).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        delay = FIRST_RETRY_DELAY
        while True:
            left = deadline - loop.time()
            try:
                return await self.request(
                    subject, message, reply_kind, timeout=max(0.1, min(attempt_timeout, left))
                )
            except RemoteError as exc:
                if exc.remote_code not in RETRYABLE or loop.time() + delay >= deadline:
                    raise
                reason = exc.remote_code
            except Unavailable as exc:
                if loop.time() + delay >= deadline:
                    raise
                reason = exc.code
            if delay == FIRST_RETRY_DELAY:
                log.info("%s: %s; asking again for up to %.0fs", subject, reason, left)
            else:
                log.debug("%s: %s; trying again", subject, reason)
            await asyncio.sleep(delay)  # nobody can take it yet: back off, ask again
            delay = min(delay * 2, 0.5)

    # --- JetStream ----------------------------------------------------------

    async def ensure_stream(
        self,
        name: str,
        subjects: Sequence[str],
        *,
        max_age: float = 0,
        max_msgs: int = -1,
        max_bytes: int = -1,
        max_msg_size: int = -1,
    ) -> None:
        """Create the stream, or update it to this configuration (the oldest messages
        make room for new ones past a limit)."""
        config = StreamConfig(
            name=name,
            subjects=list(subjects),
            max_age=max_age or None,
            max_msgs=max_msgs,
            max_bytes=max_bytes,
            max_msg_size=max_msg_size,
        )
        with self._translated(f"stream {name}"):
            try:
                await self.js.add_stream(config)
            except nats.js.errors.BadRequestError:
                await self.js.update_stream(config)

    async def publish_persistent(self, subject: str, message: Any) -> int:
        """Publish into a stream; returns the stream sequence once stored."""
        with self._translated(subject):
            ack = await self.js.publish(subject, encode(message))
        return int(ack.seq)

    async def follow(
        self,
        stream: str,
        subject: str,
        kind: Any,
        handler: Callable[[Stored[Any]], Awaitable[None]],
    ) -> Subscription:
        """Every message stored in ``stream`` on ``subject`` from now on, in stream order,
        each once (an ordered consumer: it starts again where it was after a gap or a
        lost connection); bad bytes are logged and dropped."""

        async def on_message(msg: Msg) -> None:
            try:
                stored = _stored(msg, kind)
            except BadMessage as exc:
                log.warning("%s", exc)
                return
            try:
                await handler(stored)
            except Exception:
                log.exception("handler for %s failed", msg.subject)

        with self._translated(f"stream {stream}"):
            sub = await self.js.subscribe(
                subject,
                stream=stream,
                cb=on_message,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.NEW,
                idle_heartbeat=2.0,
            )
        return Subscription(self, sub)

    async def replay(
        self, stream: str, subjects: Sequence[str], after: int, kind: type[T], *, limit: int
    ) -> list[Stored[T]]:
        """The messages of ``stream`` on any of ``subjects`` with a sequence above
        ``after``, in order, as stored now: at most the last ``limit`` of them."""
        if not subjects:
            return []
        with self._translated(f"stream {stream}"):
            last = (await self.js.stream_info(stream)).state.last_seq
            if last <= after:
                return []
            config = ConsumerConfig(
                filter_subjects=list(subjects),
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=max(after + 1, 1),
                ack_policy=AckPolicy.NONE,
                inactive_threshold=30.0,
                mem_storage=True,
            )
            sub = await self.js.pull_subscribe(subjects[0], stream=stream, config=config)
            found: list[Stored[T]] = []
            try:
                while True:
                    try:
                        batch = await sub.fetch(REPLAY_BATCH, timeout=REPLAY_WAIT)
                    except nats.errors.TimeoutError:
                        break  # nothing more stored for these subjects
                    done = False
                    for msg in batch:
                        if msg.metadata.sequence.stream > last:
                            done = True
                            break
                        try:
                            found.append(_stored(msg, kind))
                        except BadMessage as exc:
                            log.warning("%s", exc)
                        done = msg.metadata.num_pending == 0
                    del found[:-limit]
                    if done or not batch:
                        break
            finally:
                with contextlib.suppress(nats.errors.Error, nats.js.errors.Error):
                    await sub.unsubscribe()
                    if config.name:  # the ephemeral consumer's name, set as it was made
                        await self.js.delete_consumer(stream, config.name)
        return found

    async def stream_message(self, stream: str, seq: int, kind: type[T]) -> T:
        """One stored message by sequence number (``NotFound`` if absent)."""
        with self._translated(f"stream {stream}"):
            try:
                raw = await self.js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError as exc:
                raise NotFound("stream message", (stream, seq)) from exc
        return decode(raw.data or b"", kind, f"stream {stream}")

    async def key_value(
        self, bucket: str, kind: type[T], *, history: int = 1, ttl: float | None = None
    ) -> KeyValue[T]:
        """A typed KV bucket, created if missing; ``ttl`` expires keys after that many seconds."""
        with self._translated(f"kv {bucket}"):
            try:
                kv = await self.js.key_value(bucket)
            except nats.js.errors.BucketNotFoundError:
                kv = await self.js.create_key_value(
                    KeyValueConfig(bucket=bucket, history=history, ttl=ttl)
                )
        return KeyValue(self, kv, bucket, kind)

    @contextlib.contextmanager
    def _translated(self, where: str) -> Iterator[None]:
        """Turn nats errors raised inside the block into realmkit errors."""
        try:
            yield
        except nats.errors.TimeoutError as exc:
            raise BusTimeout(where, 0) from exc
        except _GONE as exc:
            self._lost(str(exc) or type(exc).__name__)
            raise BusUnavailable(f"{self.url}: {where}: {exc}") from exc
        except nats.errors.Error as exc:  # a refusal (too big, bad subject...), not an outage
            raise BusUnavailable(f"{self.url}: {where}: {exc}", outage=False) from exc

    def _lost(self, detail: str) -> None:
        if not self.client.is_closed and not self.client.is_draining:  # not our own close
            self.outage.began(detail)


class Subscription:
    """Interest in one subject, as ``subscribe`` and ``serve`` hand it out.

    Both ways of ending it are safe to call on a subscription already ended;
    a lost connection is ``BusUnavailable``, like everything else on the bus.
    """

    def __init__(self, bus: NatsBus, subscription: NatsSubscription) -> None:
        self._bus = bus
        self._subscription = subscription
        self.subject: str = subscription.subject

    async def unsubscribe(self) -> None:
        """Stop receiving now; messages received but not yet handled are dropped."""
        with (
            self._bus._translated(self.subject),
            contextlib.suppress(nats.errors.BadSubscriptionError),  # already ended
        ):
            await self._subscription.unsubscribe()

    async def drain(self) -> None:
        """Stop receiving; messages already received are handled, and requests
        still being answered (``serve(concurrent=True)``) are answered."""
        with (
            self._bus._translated(self.subject),
            contextlib.suppress(nats.errors.BadSubscriptionError),  # already ended
        ):
            await self._subscription.drain()  # type: ignore[no-untyped-call]
        if self._bus._handling:
            await asyncio.wait(set(self._bus._handling))


class KeyValue(Generic[T]):
    """Typed view of a JetStream KV bucket. Revisions allow compare-and-set."""

    def __init__(self, bus: NatsBus, kv: Any, bucket: str, kind: type[T]) -> None:
        self.bus = bus
        self.kv = kv
        self.bucket = bucket
        self.kind = kind

    async def get(self, key: str) -> tuple[T, int]:
        """(value, revision); ``NotFound`` if the key has no value."""
        with self.bus._translated(f"kv {self.bucket}"):
            try:
                entry = await self.kv.get(key)
            except nats.js.errors.KeyNotFoundError as exc:
                raise NotFound(f"key in {self.bucket}", key) from exc
        return decode(entry.value or b"", self.kind, f"kv {self.bucket}.{key}"), int(entry.revision)

    async def put(self, key: str, value: T) -> int:
        with self.bus._translated(f"kv {self.bucket}"):
            return int(await self.kv.put(key, encode(value)))

    async def create(self, key: str, value: T) -> int:
        """Set only if the key has no value; ``Conflict`` otherwise."""
        with self.bus._translated(f"kv {self.bucket}"):
            try:
                return int(await self.kv.create(key, encode(value)))
            except nats.js.errors.KeyWrongLastSequenceError as exc:
                raise Conflict(f"{self.bucket}.{key} already set", key=key) from exc

    async def update(self, key: str, value: T, revision: int) -> int:
        """Set only if the key is still at ``revision``; ``Conflict`` otherwise."""
        with self.bus._translated(f"kv {self.bucket}"):
            try:
                return int(await self.kv.update(key, encode(value), last=revision))
            except nats.js.errors.KeyWrongLastSequenceError as exc:
                raise Conflict(
                    f"{self.bucket}.{key} changed since revision {revision}",
                    key=key,
                    revision=revision,
                ) from exc

    async def delete(self, key: str) -> None:
        with self.bus._translated(f"kv {self.bucket}"):
            await self.kv.delete(key)
