from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from core.db import Database, ReadOnlyWrite, UnsupportedDatabase, normalise_url
from ledger.models import Operation
from tests.stores import STORE

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///./a.db", "sqlite+aiosqlite:///./a.db"),
        ("sqlite+aiosqlite:////tmp/a.db", "sqlite+aiosqlite:////tmp/a.db"),
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_database_urls_are_normalised_to_the_async_drivers(given: str, expected: str) -> None:
    assert normalise_url(given).render_as_string() == expected


@pytest.mark.parametrize("url", ["mysql://root@h/db", "sqlite://", "sqlite:///:memory:"])
def test_unsupported_stores_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(UnsupportedDatabase):
        normalise_url(url)


@pytest.mark.skipif(STORE != "sqlite", reason="SQLite connection settings")
async def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(db: Database) -> None:
    def pragmas(session: Session) -> tuple[str, int, int]:
        return (
            session.execute(text("PRAGMA journal_mode")).scalar_one(),
            session.execute(text("PRAGMA foreign_keys")).scalar_one(),
            session.execute(text("PRAGMA busy_timeout")).scalar_one(),
        )

    assert await db.read(pragmas) == ("wal", 1, 10_000)


async def test_a_write_that_raises_leaves_nothing_behind(db: Database) -> None:
    def half_written(session: Session) -> None:
        session.execute(
            text(
                "INSERT INTO ledger_operations (client_id, idempotency_key, kind, request_hash, "
                "created_at) VALUES ('c', 'k', 'earn', 'h', :at)"
            ),
            {"at": datetime(2026, 1, 1)},
        )
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await db.write(half_written)

    def count(session: Session) -> int:
        return int(session.execute(text("SELECT COUNT(*) FROM ledger_operations")).scalar_one())

    assert await db.read(count) == 0


async def test_timestamps_come_back_aware_and_in_utc(db: Database) -> None:
    from ledger.accounts import open_charity_account
    from ledger.models import Account

    written = datetime(2026, 5, 1, 20, 30, tzinfo=timezone(timedelta(hours=8)))
    await db.write(open_charity_account, 7, written)

    def created(session: Session) -> datetime:
        return session.get_one(Account, "charity:7").created_at

    assert await db.read(created) == datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    assert (await db.read(created)).tzinfo is UTC


async def test_naive_timestamps_are_refused(db: Database) -> None:
    from ledger.accounts import open_charity_account

    with pytest.raises(Exception, match="naive datetime"):
        await db.write(open_charity_account, 7, datetime(2026, 5, 1))


@pytest.mark.parametrize(
    "write",
    [
        "INSERT INTO ledger_operations (client_id, idempotency_key, kind, request_hash, "
        "created_at) VALUES ('c', 'k', 'earn', 'h', CURRENT_TIMESTAMP)",
        "UPDATE ledger_accounts SET debits_posted = 0",
        "DELETE FROM ledger_operations",
    ],
)
async def test_a_read_unit_refuses_to_write(db: Database, write: str) -> None:
    """A write in a read unit is a bug that would be rolled back silently: the read session
    refuses it, as text or as the ORM's own statements, on both stores."""

    def sneaky(session: Session) -> None:
        session.execute(text(write))

    with pytest.raises(ReadOnlyWrite):
        await db.read(sneaky)

    def core_insert(session: Session) -> None:
        session.execute(
            insert(Operation).values(
                client_id="c",
                idempotency_key="k",
                kind="earn",
                request_hash="h",
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )

    with pytest.raises(ReadOnlyWrite):
        await db.read(core_insert)

    def count(session: Session) -> int:
        return int(session.execute(text("SELECT COUNT(*) FROM ledger_operations")).scalar_one())

    assert await db.read(count) == 0


async def test_a_read_unit_refuses_to_flush(db: Database) -> None:
    def added(session: Session) -> None:
        session.add(
            Operation(
                client_id="c",
                idempotency_key="k",
                kind="earn",
                request_hash="h",
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )
        session.flush()

    with pytest.raises(ReadOnlyWrite):
        await db.read(added)
