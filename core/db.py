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
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Concatenate, ParamSpec, TypeVar

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
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

P = ParamSpec("P")
T = TypeVar("T")

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


def utcnow() -> datetime:
    return datetime.now(UTC)


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
        sqlite_busy_timeout_ms: int = 10_000,
        sqlite_writer_threads: int = 1,
        sqlite_reader_threads: int = 4,
    ) -> None:
        self.url = normalise_url(url)
        self.dialect = self.url.get_backend_name()
        self._async_engine: AsyncEngine | None = None
        self._executors: list[ThreadPoolExecutor] = []
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
            self._read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        else:
            self._async_engine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=pool_size,
                hide_parameters=True,  # no member data in error messages or logs
            )
            self._async_sessions = async_sessionmaker(self._async_engine, expire_on_commit=False)

    def engines(self) -> list[Engine]:
        """The synchronous engines underneath, for instrumentation (statement counts)."""
        if self._async_engine is not None:
            return [self._async_engine.sync_engine]
        return [self._write_engine, self._read_engine]

    async def write(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(session, …)`` as one write transaction; commit on return, roll back on raise."""
        if self._async_engine is None:
            return await self._in_thread(self._writer, self._write_sessions, fn, args, kwargs)
        async with self._async_sessions() as session, session.begin():
            return await session.run_sync(fn, *args, **kwargs)

    async def read(
        self, fn: Callable[Concatenate[Session, P], T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(session, …)`` in a short read transaction that is always rolled back."""
        if self._async_engine is None:
            return await self._in_thread(
                self._reader, self._read_sessions, fn, args, kwargs, commit=False
            )
        async with self._async_sessions() as session:
            try:
                return await session.run_sync(fn, *args, **kwargs)
            finally:
                await session.rollback()

    @staticmethod
    async def _in_thread(
        executor: ThreadPoolExecutor,
        sessions: sessionmaker[Session],
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
        return await loop.run_in_executor(executor, functools.partial(unit))

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
        self._write_engine.dispose()
        self._read_engine.dispose()


def database_from_settings() -> Database:
    from core.config import get_settings

    settings = get_settings()
    return Database(
        settings.database_url,
        pool_size=settings.database_pool_size,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
