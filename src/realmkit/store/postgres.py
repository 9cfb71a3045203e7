"""The asyncpg adapter: connection pool and translation of database errors.

No asyncpg exception leaves this package: connection trouble becomes
``StoreUnavailable``, a broken invariant the caller can name becomes the
matching ``Conflict`` (``ItemAlreadyOwned``, ``AlreadyAssigned``,
``StaleEpoch``...), anything else ``StoreError`` with its SQLSTATE. Lost
connections are logged once when PostgreSQL goes and once when it is back
(``realmkit.outage``), never per failed call, and asyncpg's own log of them
(a traceback per second while the pool tries to refill) is left out.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import asyncpg

from realmkit.engines.embedded import redact
from realmkit.errors import RealmkitError, StoreError, StoreUnavailable
from realmkit.outage import Outage

log = logging.getLogger("realmkit.store")

# The epoch triggers of the schema raise this SQLSTATE...
STALE_EPOCH_SQLSTATE = "RK001"
# ...and the lifecycle triggers this one.
ILLEGAL_MOVE_SQLSTATE = "RK002"

ConnectionLike = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy
ErrorFactory = Callable[[], RealmkitError]

UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    # A connection whose query the server's death interrupted can come back from
    # the pool mid-protocol ("another operation is in progress"): it is gone too.
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
)


class _PoolRefills(logging.Filter):
    """Drops asyncpg's WARNING with traceback for each failed refill of a pool
    (every second while PostgreSQL is away): the ``Database`` logs the outage."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        return not isinstance(failure, UNAVAILABLE)


logging.getLogger("asyncpg.pool").addFilter(_PoolRefills())


@contextlib.contextmanager
def translated(
    conflicts: Mapping[str, ErrorFactory] | None = None,
    stale: ErrorFactory | None = None,
    illegal: ErrorFactory | None = None,
) -> Iterator[None]:
    """Map asyncpg errors raised inside the block to ``realmkit.errors``.

    ``conflicts`` maps a constraint name to the error to raise when that
    constraint refuses a row; ``stale`` builds the error for a refused epoch,
    ``illegal`` the one for a lifecycle move the schema refuses.
    """
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        constraint = getattr(exc, "constraint_name", None) or ""
        if conflicts and constraint in conflicts:
            raise conflicts[constraint]() from exc
        raise StoreError(str(exc), exc.sqlstate) from exc
    except asyncpg.PostgresError as exc:
        if exc.sqlstate == STALE_EPOCH_SQLSTATE and stale is not None:
            raise stale() from exc
        if exc.sqlstate == ILLEGAL_MOVE_SQLSTATE and illegal is not None:
            raise illegal() from exc
        if isinstance(exc, UNAVAILABLE):
            raise StoreUnavailable(str(exc)) from exc
        raise StoreError(str(exc), exc.sqlstate) from exc
    except UNAVAILABLE as exc:
        raise StoreUnavailable(str(exc) or type(exc).__name__) from exc


class Database:
    """A pool of connections to one PostgreSQL database.

    A task holds at most one of its connections at a time: inside a block that
    holds one (``connection``, ``transaction``, ``advisory_lock``), the same
    task's repository calls use that one. A task never waits for a second
    connection while it pins a first, so a pool that many tasks hold at once
    cannot deadlock (every holder waiting for a connection another holds).
    Tasks started inside the block take their own.
    """

    def __init__(self, pool: asyncpg.Pool, where: str = "", name: str = "realmkit") -> None:
        self.pool = pool
        self.outage = Outage("PostgreSQL", where or "its address", name, log, time.monotonic)
        self._held: contextvars.ContextVar[tuple[object, ConnectionLike] | None] = (
            contextvars.ContextVar(f"realmkit-db-{id(self)}", default=None)
        )

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
        name: str = "realmkit",
    ) -> Database:
        """Open a pool; ``StoreUnavailable`` naming the (redacted) URL if it fails.

        ``name`` is the connections' application_name (which node holds what lock).
        """
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                server_settings={"application_name": name},
            )
        except (*UNAVAILABLE, asyncpg.PostgresError, TimeoutError) as exc:
            raise StoreUnavailable(f"{redact(url)}: {exc or type(exc).__name__}") from exc
        return cls(pool, redact(url), name)

    async def close(self) -> None:
        await self.pool.close()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[ConnectionLike]:
        """A pooled connection for the block: the one this task holds already, if any."""
        task = asyncio.current_task()
        held = self._held.get()
        if held is not None and held[0] is task:
            with translated():
                yield held[1]
            return
        with self.watched():
            async with self.pool.acquire() as conn:
                self._held.set((task, conn))
                try:
                    yield conn
                finally:
                    self._held.set(held)

    @contextlib.contextmanager
    def watched(self) -> Iterator[None]:
        """``translated()``, and the outage kept: a lost connection begins it (logged
        once), a block that ran ends it."""
        try:
            with translated():
                yield
        except StoreUnavailable as exc:
            self.outage.began(exc.detail)
            raise
        self.outage.ended()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[ConnectionLike]:
        async with self.connection() as conn:
            with translated():
                async with conn.transaction():  # a savepoint inside another one
                    yield conn

    @contextlib.asynccontextmanager
    async def advisory_lock(
        self, name: str, *, shared: bool = False
    ) -> AsyncIterator[ConnectionLike]:
        """Hold a cluster-wide lock named ``name`` (a session advisory lock) for the block.

        ``shared`` holders exclude only exclusive ones (many transfers may land in
        an instance at once; stopping it excludes them all).

        Waiting never pins a pooled connection: the lock is tried, and on
        failure the connection goes back to the pool before the next try, so
        many waiters cannot starve the holder of the connections it needs.
        The holder keeps one connection, which the block may use; if this
        process dies PostgreSQL releases the lock with that connection.
        """
        suffix = "_shared" if shared else ""
        delay = 0.002
        while True:
            async with self.connection() as conn:
                with translated():
                    won = await conn.fetchval(
                        f"SELECT pg_try_advisory_lock{suffix}(hashtextextended($1, 0))", name
                    )
                if won:
                    try:
                        yield conn
                    finally:
                        with translated():
                            await conn.execute(
                                f"SELECT pg_advisory_unlock{suffix}(hashtextextended($1, 0))", name
                            )
                    return
            await asyncio.sleep(delay)  # someone holds it: back off, then try again
            delay = min(delay * 2, 0.05)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.connection() as conn:
            return await conn.fetchval(query, *args)


class Leadership:
    """One process at a time leads: it holds a session advisory lock on a connection
    kept out of the pool for as long as it leads.

    If the process dies, or its connection breaks, PostgreSQL drops the lock
    and the next ``hold`` of another process takes it.
    """

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        self._conn: Any = None

    @property
    def leading(self) -> bool:
        return self._conn is not None

    async def hold(self) -> bool:
        """Become or stay the leader if possible; True while leading."""
        if self._conn is not None:
            try:
                with self.db.watched():
                    await self._conn.fetchval("SELECT 1")
                return True
            except StoreUnavailable:
                await self._drop()
                return False
        with self.db.watched():
            conn = await self.db.pool.acquire()
            try:
                won = await conn.fetchval(
                    "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", self.name
                )
            except BaseException:
                await self.db.pool.release(conn)
                raise
            if not won:
                await self.db.pool.release(conn)
                return False
        self._conn = conn
        return True

    async def resign(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(RealmkitError), translated():
                await self._conn.execute(
                    "SELECT pg_advisory_unlock(hashtextextended($1, 0))", self.name
                )
            await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        with contextlib.suppress(Exception):
            await self.db.pool.release(conn)


async def lock_holder(db: Database, name: str) -> str | None:
    """The application_name of the session holding the advisory lock ``name``."""
    async with db.connection() as conn:
        return await conn.fetchval(  # type: ignore[no-any-return]
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND (l.classid::bigint << 32) | l.objid::bigint = hashtextextended($1, 0)",
            name,
        )


class Listener:
    """``LISTEN`` on a channel over a connection of its own, kept open: each
    notification's payload goes to ``handler``; a lost connection is opened again
    (what was notified while it was down is not heard: ``on_reconnect`` is called so
    the caller can read again what it keeps)."""

    def __init__(
        self,
        db: Database,
        channel: str,
        handler: Callable[[str], None],
        on_reconnect: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.channel = channel
        self.handler = handler
        self.on_reconnect = on_reconnect
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep())
        async with asyncio.timeout(LISTEN_CONNECT_TIMEOUT):
            await self.connected.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            self.handler(str(payload))
        except Exception:
            log.exception("listener of %s failed", self.channel)

    async def _keep(self) -> None:
        pause = 0.1
        first = True
        while True:
            try:
                with self.db.watched():
                    conn = await self.db.pool.acquire()
            except StoreUnavailable:
                await asyncio.sleep(pause)  # PostgreSQL is away: try again soon
                pause = min(pause * 2, 2.0)
                continue
            try:
                with self.db.watched():
                    await conn.add_listener(self.channel, self._heard)
                if not first and self.on_reconnect is not None:
                    self.on_reconnect()
                first, pause = False, 0.1
                self.connected.set()
                while True:  # the connection is checked now and then: a lost one is replaced
                    await asyncio.sleep(LISTEN_CHECK_SECONDS)
                    with self.db.watched():
                        await conn.fetchval("SELECT 1")
            except StoreUnavailable:
                self.connected.clear()
            finally:
                with contextlib.suppress(Exception):
                    await conn.remove_listener(self.channel, self._heard)
                with contextlib.suppress(Exception):
                    await self.db.pool.release(conn)


LISTEN_CONNECT_TIMEOUT = 10.0
LISTEN_CHECK_SECONDS = 1.0
