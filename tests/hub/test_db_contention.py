"""The unit of work under contention: a serialization failure or deadlock reruns the
transaction; overload beyond the admission bound is DatabaseBusy, at once or after a
short wait, never a hang."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db import Database, DatabaseBusy, KeyedSlots
from ledger.accounts import open_charity_account
from tests.stores import STORE

pytestmark = pytest.mark.anyio
postgresql_only = pytest.mark.skipif(STORE != "postgresql", reason="PostgreSQL's SQLSTATEs")
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _operations(session: Session) -> int:
    return int(session.execute(text("SELECT COUNT(*) FROM ledger_operations")).scalar_one())


def _claim(session: Session, key: str) -> None:
    session.execute(
        text(
            "INSERT INTO ledger_operations (client_id, idempotency_key, kind, request_hash, "
            "created_at) VALUES ('c', :key, 'earn', 'h', :at)"
        ),
        {"key": key, "at": NOW},
    )


@postgresql_only
@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
async def test_a_serialization_failure_or_deadlock_reruns_the_whole_transaction(
    db: Database, sqlstate: str
) -> None:
    attempts: list[int] = []

    def write(session: Session) -> str:
        attempts.append(1)
        _claim(session, "k")
        if len(attempts) == 1:  # the server itself fails the first attempt with this SQLSTATE
            session.execute(
                text(f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{sqlstate}'; END $$")
            )
        return "written"

    assert await db.write(write) == "written"
    assert len(attempts) == 2
    assert await db.read(_operations) == 1  # the first attempt's insert was rolled back


@postgresql_only
async def test_other_database_errors_are_not_retried(db: Database) -> None:
    attempts: list[int] = []

    def write(session: Session) -> None:
        attempts.append(1)
        session.execute(text("DO $$ BEGIN RAISE EXCEPTION 'no' USING ERRCODE = '22012'; END $$"))

    with pytest.raises(DBAPIError):
        await db.write(write)
    assert len(attempts) == 1


@postgresql_only
async def test_a_real_deadlock_is_retried_into_one_clean_result(
    db: Database, database_url: str
) -> None:
    await db.write(open_charity_account, 1, NOW)
    await db.write(open_charity_account, 2, NOW)
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    other = await asyncpg.connect(dsn)
    lock = "SELECT id FROM ledger_accounts WHERE id = $1 FOR UPDATE"
    attempts: list[int] = []

    def lock_one_then_two(session: Session) -> int:
        attempts.append(1)
        for account in ("charity:1", "charity:2"):
            session.execute(
                text(f"SELECT id FROM ledger_accounts WHERE id = '{account}' FOR UPDATE")
            )
        return len(attempts)

    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute(lock, "charity:2")
        write = asyncio.create_task(db.write(lock_one_then_two))
        while not await other.fetchval(  # noqa: ASYNC110 (polling the server, not a task)
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE NOT l.granted AND a.datname = current_database()"
        ):
            await asyncio.sleep(0.02)  # until the unit of work waits for charity:2
        await other.execute(lock, "charity:1")  # and this closes the cycle
        await transaction.commit()
        assert await write == 2
    finally:
        await other.close()


@pytest.fixture
async def narrow_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=1, max_overflow=0, queue_limit=1, pool_timeout=0.05)
    yield database
    await database.dispose()


async def test_a_full_queue_is_busy_at_once_and_a_long_wait_is_busy_after_the_bound(
    narrow_db: Database,
) -> None:
    async with narrow_db.admission.slot():
        waiting = asyncio.create_task(narrow_db.read(_operations))
        await asyncio.sleep(0.01)
        with pytest.raises(DatabaseBusy):  # the one queue place is taken
            await narrow_db.read(_operations)
        with pytest.raises(DatabaseBusy) as busy:  # no slot within 50 ms
            await waiting
    assert busy.value.retry_after == 1
    assert await narrow_db.read(_operations) == 0  # capacity comes back


async def test_writes_under_one_key_run_a_few_at_a_time_and_the_key_is_then_forgotten() -> None:
    slots = KeyedSlots(per_key=2)
    running: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}
    release = asyncio.Event()

    async def work(key: str) -> None:
        async with slots.hold(("member", key)):
            running[key] += 1
            most[key] = max(most[key], running[key])
            await release.wait()
            running[key] -= 1

    tasks = [asyncio.create_task(work(k)) for k in "aaaaab"]
    for _ in range(5):
        await asyncio.sleep(0)
    assert running == {"a": 2, "b": 1}  # two of a's five at once; b is not held up by a
    release.set()
    await asyncio.gather(*tasks)
    assert most == {"a": 2, "b": 1}
    assert len(slots) == 0
