"""Database engines, the unit-of-work boundary and the declarative base.

Domain services are plain functions ``fn(session, ...)`` over a synchronous
SQLAlchemy ``Session``; they never commit. :class:`Database` is the boundary
that runs one such function as one transaction and commits it, choosing the
engine that is fastest for each store (see docs/decisions.md, "Engine per store"):

* SQLite: a synchronous pysqlite engine, run in a dedicated writer thread with
  ``BEGIN IMMEDIATE`` (SQLite has a single writer anyway) and in a small pool
  of reader threads with deferred transactions. WAL, ``foreign_keys=ON`` and a
  busy timeout are set on every connection.
* PostgreSQL: SQLAlchemy's async engine over asyncpg; the function runs inside
  ``AsyncSession.run_sync`` so every statement awaits the network without
  blocking the event loop.

The boundary also keeps the store healthy under load (docs/operations.md):

* **Retries.** A transaction that fails with a serialization failure or a deadlock
  (SQLSTATE 40001, 40P01) runs again from the start, a few times, after a jittered
  backoff. Every points-moving operation is idempotent, so a rerun is safe.
* **Admission.** At most ``pool_size + max_overflow`` units run at once per process; a
  few more wait in a bounded queue for at most ``pool_timeout`` seconds. Beyond that the
  unit raises :class:`DatabaseBusy` at once, which the app answers with 503 and
  ``Retry-After``: overload is shed early and cheaply, never as a 500.
* **A few at a time per hot key.** :meth:`Database.write_limited` runs at most
  ``WRITES_PER_KEY`` of one member's writes at once in this process, so a burst on one
  member waits in the process, not as connections parked on a row lock.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import functools
import itertools
import logging
import random
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.types import TypeDecorator

from core import metrics
from core.clock import utcnow as utcnow  # the hub's one clock, travelled only by tests

if TYPE_CHECKING:
    from core.config import Settings

P = ParamSpec("P")
T = TypeVar("T")

log = logging.getLogger("alliance_hub.db")

# SQLSTATEs after which the whole transaction may simply run again.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
# SQLSTATEs that say the server is out of room right now: too_many_connections,
# cannot_connect_now. Answered like a pool timeout.
BUSY_SQLSTATES = frozenset({"53300", "57P03"})
RETRY_ATTEMPTS = 5
RETRY_AFTER_SECONDS = 1
# A peek on the event loop waits at most this long for SQLite (only a checkpoint or WAL
# recovery makes a WAL reader wait at all).
PEEK_BUSY_TIMEOUT_MS = 1000
# One member's writes at once per process (Database.write_limited).
WRITES_PER_KEY = 4


class DatabaseBusy(Exception):
    """No database capacity within the bound: the caller should retry after ``retry_after``
    seconds (HTTP 503 with ``Retry-After``). Nothing was written."""

    def __init__(self, reason: str, retry_after: int = RETRY_AFTER_SECONDS) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a driver error wrapped by SQLAlchemy, if it carries one."""
    original = getattr(error, "orig", None)
    found = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return str(found) if found else None


def retry_delay(attempt: int) -> float:
    """Full jitter: uniform in [0, 5 ms x 2^attempt], capped at 200 ms."""
    return random.uniform(0, min(0.2, 0.005 * 2**attempt))  # noqa: S311 (timing, not secrets)


class Admission:
    """Per-process admission control: ``limit`` units at once, at most ``queue_limit``
    waiting (served in arrival order), none waiting longer than ``timeout`` seconds.
    Refusal is :class:`DatabaseBusy`. The hub admits both its requests
    (hub/backpressure.py) and its units of work (below) this way."""

    def __init__(self, limit: int, queue_limit: int, timeout: float, gauges: bool = False) -> None:
        self.gauges = gauges  # the database's admission reports to the pool metrics
        self.limit = limit
        self.queue_limit = queue_limit
        self.timeout = timeout
        self.running = 0
        self.waiting = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(limit)

    async def acquire(self) -> None:
        """Take a slot, waiting in line if none is free; DatabaseBusy when the line is
        full or the wait runs out."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a CLI or a test may drive the database from a new loop
            self._loop, self._slots = loop, asyncio.Semaphore(self.limit)
            self.running = self.waiting = 0
        if self._slots.locked():
            if self.waiting >= self.queue_limit:
                raise DatabaseBusy("the queue is full")
            self.waiting += 1
            if self.gauges:
                metrics.DB_POOL_WAITING.inc()
            try:
                await self._wait_for_slot()
            finally:
                self.waiting -= 1
                if self.gauges:
                    metrics.DB_POOL_WAITING.dec()
        else:
            await self._slots.acquire()
        self.running += 1
        if self.gauges:
            metrics.DB_POOL_IN_USE.inc()

    async def _wait_for_slot(self) -> None:
        """Wait at most ``timeout`` for a slot. Not ``asyncio.timeout``: on Python 3.11 a
        deadline that fires just as the slot is granted leaves a cancellation pending on
        the task, which then hits whatever it awaits next (a request answered 500). Here
        the waiting is a task of its own and only it is ever cancelled."""
        waiter = asyncio.ensure_future(self._slots.acquire())
        try:
            done, _ = await asyncio.wait({waiter}, timeout=self.timeout)
        except BaseException:  # this task was cancelled: give back a slot granted meanwhile
            waiter.cancel()
            await asyncio.wait({waiter})
            if not waiter.cancelled() and waiter.exception() is None:
                self._slots.release()
            raise
        if not done:
            waiter.cancel()
            await asyncio.wait({waiter})
            if waiter.cancelled() or waiter.exception() is not None:
                raise DatabaseBusy("no capacity within the bound")
        waiter.result()

    def release(self) -> None:
        self.running -= 1
        if self.gauges:
            metrics.DB_POOL_IN_USE.dec()
        self._slots.release()

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()


class KeyedSlots:
    """In-process admission per key (a member, say): at most ``per_key`` holders of one key
    at once, the others waiting in arrival order. Created on first use, dropped when
    nobody holds or waits for it."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._slots: dict[Hashable, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        slots, users = self._slots.get(key) or (asyncio.Semaphore(self.per_key), 0)
        self._slots[key] = (slots, users + 1)
        try:
            async with slots:
                yield
        finally:
            slots, users = self._slots[key]
            if users == 1:
                del self._slots[key]
            else:
                self._slots[key] = (slots, users - 1)

    def __len__(self) -> int:
        return len(self._slots)


NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: type[StrEnum]) -> CheckConstraint:
    """A CHECK that ``column`` holds one of an enum's values, named ``<column>_known``."""
    allowed = ", ".join(repr(value.value) for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_known")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on both stores (SQLite keeps no offset, so it stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC timestamp is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class UnsupportedDatabase(ValueError):
    """The database URL names a store alliance-hub does not run on."""


def normalise_url(url: str | URL) -> URL:
    """Map any spelling of a supported store to the async driver URL used in settings."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise UnsupportedDatabase(
                "SQLite needs a file path; an in-memory database is not shared"
            )
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+asyncpg")
    raise UnsupportedDatabase(f"unsupported database {backend!r}: use sqlite or postgresql")


def dialect_insert(dialect: str, table: Table) -> Any:
    """The store's own ``INSERT`` (it has ``on_conflict_do_nothing`` / ``_do_update``)."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _insert_skipping_conflicts(session: Session, table: Table) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` in the session's store's dialect."""
    return dialect_insert(session.get_bind().dialect.name, table).on_conflict_do_nothing()


def insert_ignoring_conflicts(
    session: Session, table: Table, rows: Iterable[Mapping[str, Any]]
) -> None:
    values = list(rows)
    if values:
        session.execute(_insert_skipping_conflicts(session, table), values)


def insert_if_absent(
    session: Session,
    table: Table,
    row: Mapping[str, Any],
    conflict_on: list[str] | None = None,
) -> bool:
    """Insert ``row`` unless it conflicts with an existing row (on any unique key, or only
    on ``conflict_on``); True when this call inserted it. Two racing callers on
    PostgreSQL: the second waits for the first and then sees the conflict."""
    key = next(iter(table.primary_key.columns))
    statement = dialect_insert(session.get_bind().dialect.name, table).on_conflict_do_nothing(
        index_elements=conflict_on
    )
    return session.execute(statement.returning(key), dict(row)).first() is not None


_MEMO = "alliance_hub.unit_memo"


def unit_memo(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per transaction of ``session``: a read that one unit of work
    asks for several times (the AML thresholds of an award) is sent once. The answer is
    the same the second read would give, since the unit's own writes to what it read go
    through ``forget_memo``; a new transaction (a retry, the session's next unit) starts
    empty."""
    transaction = session.get_transaction()
    held = session.info.get(_MEMO)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_MEMO] = held
    memo: dict[Hashable, Any] = held[1]
    if key in memo:
        found: T = memo[key]
        return found
    value = compute()
    memo[key] = value
    return value


def forget_memo(session: Session, key: Hashable) -> None:
    """Drop what ``unit_memo`` holds under ``key`` (the unit is changing it)."""
    held = session.info.get(_MEMO)
    if held is not None:
        held[1].pop(key, None)


class ReadOnlyWrite(RuntimeError):
    """A read unit tried to write: a bug (the write would be rolled back silently). Masked
    as an internal error by the API."""


class ReadOnlySession(Session):
    """The session of a read unit: it refuses anything but reading."""


_READING = ("SELECT", "WITH", "SHOW", "VALUES", "TABLE", "EXPLAIN")


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session: Session, *_: Any) -> None:
    raise ReadOnlyWrite("a read unit flushed changes")


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_dml(state: ORMExecuteState) -> None:
    statement = state.statement
    writes = state.is_insert or state.is_update or state.is_delete
    if isinstance(statement, TextClause):
        sql = statement.text.lstrip().upper()
        asks_pragma = sql.startswith("PRAGMA") and "=" not in sql  # SQLite: reads a setting
        writes = not (sql.startswith(_READING) or asks_pragma)
    if writes:
        raise ReadOnlyWrite("a read unit executed a write")


def sqlite_base64(value: str | None) -> str | None:
    """``hub_base64(text)`` on the hub's SQLite connections: the standard base64 of the
    text's UTF-8 bytes, as PostgreSQL's ``encode(convert_to(text, 'UTF8'), 'base64')``
    without its line breaks (for statements that build ids in SQL, events.outbox)."""
    return None if value is None else base64.b64encode(value.encode()).decode()


def _configure_sqlite(engine: Engine, *, begin: str, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()
        # PostgreSQL has encode(..., 'base64'); SQLite has no base64 of its own.
        dbapi_connection.create_function("hub_base64", 1, sqlite_base64, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


class Database:
    """Engines plus the transaction boundary. One per process; cheap to share."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 5,
        pool_timeout: float = 10.0,
        queue_limit: int = 2000,
        statement_cache_size: int = 100,
        retry_attempts: int = RETRY_ATTEMPTS,
        writes_per_key: int = WRITES_PER_KEY,
        sqlite_busy_timeout_ms: int = 10_000,
        sqlite_writer_threads: int = 1,
        sqlite_reader_threads: int = 4,
    ) -> None:
        self.url = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        self.retry_attempts = retry_attempts
        self.admission = Admission(pool_size + max_overflow, queue_limit, pool_timeout, gauges=True)
        self.per_key = KeyedSlots(writes_per_key)
        self._async_engine: AsyncEngine | None = None
        self._executors: list[ThreadPoolExecutor] = []
        self._peek_all: list[sqlite3.Connection] = []
        if self.dialect == "sqlite":
            sync_url = self.url.set(drivername="sqlite+pysqlite")
            engines = {}
            for mode, begin, threads in (
                ("write", "BEGIN IMMEDIATE", sqlite_writer_threads),
                ("read", "BEGIN", sqlite_reader_threads),
            ):
                engine = create_engine(
                    sync_url,
                    hide_parameters=True,  # no member data in error messages or logs
                    connect_args={"check_same_thread": False},
                    pool_size=threads,
                    max_overflow=0,
                )
                _configure_sqlite(engine, begin=begin, busy_timeout_ms=sqlite_busy_timeout_ms)
                engines[mode] = engine
            self._write_engine, self._read_engine = engines["write"], engines["read"]
            self._writer = ThreadPoolExecutor(sqlite_writer_threads, thread_name_prefix="db-write")
            self._reader = ThreadPoolExecutor(sqlite_reader_threads, thread_name_prefix="db-read")
            self._executors = [self._writer, self._reader]
            self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
            self._read_sessions = sessionmaker(
                self._read_engine, expire_on_commit=False, class_=ReadOnlySession
            )
            self._peek_path = str(self.url.database)
            self._peek_connections = threading.local()
        else:
            self._async_engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                hide_parameters=True,  # no member data in error messages or logs
                connect_args=_statement_cache_args(statement_cache_size),
            )
            self._async_sessions = async_sessionmaker(self._async_engine, expire_on_commit=False)
            self._async_read_sessions = async_sessionmaker(
                self._async_engine,
                expire_on_commit=False,
                sync_session_class=ReadOnlySession,
            )

    def engines(self) -> list[Engine]:
        """The synchronous engines underneath, for instrumentation (statement counts)."""
        if self._async_engine is not None:
            return [self._async_engine.sync_engine]
        return [self._write_engine, self._read_engine]

    async def write(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(session, …)`` as one write transaction; commit on return, roll back on raise.

        A serialization failure or deadlock reruns the whole transaction (see the module)."""
        return await self._unit(self._write_once, fn, args, kwargs)

    async def write_limited(
        self,
        key: Hashable,
        fn: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """``write``, with at most ``writes_per_key`` writes under ``key`` at once in this
        process. Writes that queue on the same row lock (one member's account) wait
        their turn here, holding no connection, instead of as a crowd of connections
        parked on the lock; the few admitted still overlap the statements they send
        before the lock, which one at a time would wait out in turn."""
        async with self.per_key.hold(key):
            return await self.write(fn, *args, **kwargs)

    async def read(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(session, …)`` in a short read transaction that is always rolled back,
        in a session that refuses to write (:class:`ReadOnlyWrite`)."""
        return await self._unit(self._read_once, fn, args, kwargs)

    async def _unit(
        self,
        once: Callable[[Callable[..., T], tuple[Any, ...], dict[str, Any]], Any],
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> T:
        async with self.admission.slot():
            for attempt in itertools.count(1):
                try:
                    result: T = await once(fn, args, kwargs)
                    return result
                except PoolTimeout:
                    raise DatabaseBusy("no database connection within the bound") from None
                except DBAPIError as error:
                    state = sqlstate(error)
                    if state in BUSY_SQLSTATES:
                        raise DatabaseBusy("the database refused a connection") from None
                    if state not in RETRYABLE_SQLSTATES or attempt >= self.retry_attempts:
                        raise
                    log.info("retrying after SQLSTATE %s (attempt %d)", state, attempt)
                await asyncio.sleep(retry_delay(attempt))
        raise AssertionError("unreachable")

    async def _write_once(
        self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        if self._async_engine is None:
            return await self._in_thread(self._writer, self._write_sessions, fn, args, kwargs)
        async with self._async_sessions() as session, session.begin():
            return await session.run_sync(fn, *args, **kwargs)

    async def _read_once(
        self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> T:
        if self._async_engine is None:
            return await self._in_thread(
                self._reader, self._read_sessions, fn, args, kwargs, commit=False
            )
        async with self._async_read_sessions() as session:
            try:
                return await session.run_sync(fn, *args, **kwargs)
            finally:
                await session.rollback()

    @staticmethod
    async def _in_thread(
        executor: ThreadPoolExecutor,
        sessions: sessionmaker[Session] | sessionmaker[ReadOnlySession],
        fn: Callable[..., T],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        commit: bool = True,
    ) -> T:
        def unit() -> T:
            with sessions() as session:
                with session.begin() as transaction:
                    result = fn(session, *args, **kwargs)
                    if not commit:
                        transaction.rollback()
                return result

        loop = asyncio.get_running_loop()
        # The caller's context goes along: its request id on log lines, its trace span.
        context = contextvars.copy_context()
        return await loop.run_in_executor(executor, functools.partial(context.run, unit))

    async def peek(self, sql: str, params: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
        """The first row of one tiny read (a primary-key or index-seek lookup, named
        parameters), at the latest committed state, as cheaply as the store allows.

        SQLite: on the calling thread, through a raw ``sqlite3`` connection of its own in
        autocommit mode: a WAL reader never waits for the writer, and such a read costs
        microseconds, less than a hop to a reader thread. PostgreSQL: one statement on a
        pooled connection, under the same admission as every unit of work."""
        if self._async_engine is None:
            connection = getattr(self._peek_connections, "connection", None)
            if connection is None:
                connection = sqlite3.connect(
                    self._peek_path, isolation_level=None, check_same_thread=False
                )
                connection.execute(f"PRAGMA busy_timeout={PEEK_BUSY_TIMEOUT_MS}")
                self._peek_connections.connection = connection
                self._peek_all.append(connection)
            row = connection.execute(sql, dict(params or {})).fetchone()
        else:
            async with self.admission.slot(), self._async_engine.connect() as connection:
                row = (await connection.execute(text(sql), dict(params or {}))).first()
        if row is None:
            raise LookupError("peek found no row")
        return tuple(row)

    async def ping(self) -> bool:
        """True when the store answers a trivial query."""

        def select_one(session: Session) -> bool:
            return bool(session.execute(text("SELECT 1")).scalar_one() == 1)

        return await self.read(select_one)

    async def dispose(self) -> None:
        if self._async_engine is not None:
            await self._async_engine.dispose()
            return
        for executor in self._executors:
            executor.shutdown(wait=True)
        for connection in self._peek_all:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        self._peek_all.clear()
        self._write_engine.dispose()
        self._read_engine.dispose()


def _statement_cache_args(size: int) -> dict[str, Any]:
    """asyncpg's and SQLAlchemy's prepared-statement caches. PgBouncer in transaction-pooling
    mode hands each transaction whichever server connection is free, so a statement
    prepared on one is unknown on the next: size 0 turns both caches off and gives each
    statement a unique name."""
    if size > 0:
        return {"prepared_statement_cache_size": size}
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__hub_{uuid.uuid4().hex}__",
    }


def database_from_settings(
    settings: Settings | None = None, database_url: str | None = None
) -> Database:
    from core.config import get_settings

    settings = settings or get_settings()
    return Database(
        database_url or settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        queue_limit=settings.database_queue_limit,
        statement_cache_size=settings.database_statement_cache_size,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
