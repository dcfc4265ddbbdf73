"""No deadlocks by construction: every ledger write locks its accounts in one global order
(ledger/locks.py), and a hot member's concurrent spends never deadlock on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import ledger
from core.db import Database
from ledger import repository
from ledger.errors import AccountNotFound, InsufficientPoints
from ledger.locks import LockOrderViolation, held_locks, in_lock_order
from tests.ledger.world import World, key
from tests.stores import STORE

pytestmark = pytest.mark.anyio


def test_member_accounts_come_first_then_partners_and_charities_then_the_alliance() -> None:
    assert in_lock_order(
        ["alliance:expired", "partner:3:redeemed", "member:12", "charity:9", "member:2:held"]
    ) == ["member:12", "member:2:held", "charity:9", "partner:3:redeemed", "alliance:expired"]


async def test_a_lock_back_down_the_order_is_refused(db: Database, now: datetime) -> None:
    await World(db, now).open()

    def backwards(session: Session) -> None:
        repository.lock_accounts(session, "partner:30:redeemed")
        repository.lock_accounts(session, "member:1")

    with pytest.raises(LockOrderViolation):
        await db.write(backwards)


async def test_a_refund_with_compensation_and_debt_locks_in_order(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100)
    spent = await world.redeem(1, 30, 80)
    await db.write(ledger.reverse_earn, key(), lot_id=earned.lot_id, now=now)

    def refund(session: Session) -> list[str]:
        ledger.refund(
            session,
            key(),
            hold_id=spent.hold_id,
            now=now,
            compensation_points=5,
            compensation_expires_at=now + timedelta(days=30),
        )
        return held_locks(session)

    taken = await db.write(refund)

    assert taken == in_lock_order(taken)
    assert (await world.verify()).clean


async def test_the_sweeps_lock_every_member_before_the_alliance(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open(members=(1, 2, 3))
    for member in (3, 1, 2):
        await world.earn(member, 10, 5, lifetime=timedelta(days=1))  # reserved, then voided
        await world.earn(member, 10, 20, lifetime=timedelta(days=1, hours=12))  # lapses
        await db.write(
            ledger.reserve,
            key(),
            member_id=member,
            partner_id=30,
            amount=5,
            deadline=now + timedelta(minutes=5),
            now=now,
        )
    later = now + timedelta(days=2)

    assert await db.write(ledger.void_lapsed_holds, later) == 3
    assert (await db.write(ledger.expire_lapsed_lots, later)).members == 3
    assert (await world.verify()).clean


@pytest.fixture
async def wide_db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=20, max_overflow=0, sqlite_writer_threads=8)
    yield database
    await database.dispose()


async def _deadlocks(database_url: str) -> int:
    dsn = make_url(database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        found = await connection.fetchval(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        )
        return int(found)
    finally:
        await connection.close()


@pytest.mark.skipif(STORE != "postgresql", reason="row locks and deadlocks are PostgreSQL's")
async def test_two_hundred_concurrent_spends_of_one_member_never_deadlock(
    wide_db: Database, database_url: str, now: datetime
) -> None:
    world = await World(wide_db, now).open(members=(1,), partners=(10, 30, 31))
    for _ in range(7):
        await world.earn(1, 10, 10)  # 70 points in 7 lots
    deadlocks_before = await _deadlocks(database_url)

    async def spend(i: int) -> object:
        if i % 4 == 3:  # a donation: member -> charity, a second hot account pair
            return await wide_db.write(
                ledger.donate, key(), member_id=1, charity_id=90, points=1, now=now
            )
        return await world.redeem(1, 30 + i % 2, 1)

    outcomes = await asyncio.gather(*(spend(i) for i in range(200)), return_exceptions=True)

    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(outcomes) - len(failures) == 70
    assert all(isinstance(o, InsufficientPoints) for o in failures)
    assert await world.balance("member:1") == 0
    assert (await world.verify()).clean
    await wide_db.dispose()  # a backend flushes its statistics when it exits
    assert await _deadlocks(database_url) == deadlocks_before


async def test_a_redemption_locks_the_partners_hot_account_only_at_commit(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 50)

    def redeem(session: Session) -> list[str]:
        ledger.redeem(session, key(), member_id=1, partner_id=30, amount=20, now=now)
        return held_locks(session)

    assert await db.write(redeem) == ["member:1"]  # partner:30:redeemed waits for the commit
    assert await world.balance("partner:30:redeemed") == 20
    assert await world.balance("partner:10:issued") == -50
    assert (await world.verify()).clean


async def test_a_leg_applied_at_commit_still_needs_its_account(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 50)

    with pytest.raises(AccountNotFound):
        await world.redeem(1, 99, 20)  # partner 99 has no accounts
    assert await world.balance("member:1") == 50


@pytest.mark.skipif(STORE != "postgresql", reason="row locks are PostgreSQL's")
async def test_a_spend_visibly_short_is_refused_without_waiting_for_the_members_lock(
    db: Database, database_url: str, now: datetime
) -> None:
    world = await World(db, now).open(members=(1,), partners=(30,))
    await world.earn(1, 30, 5)
    dsn = make_url(database_url).set(drivername="postgresql")
    holder = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        async with holder.transaction():  # another transaction holds the member's row
            await holder.execute("SELECT 1 FROM ledger_accounts WHERE id = 'member:1' FOR UPDATE")
            short = asyncio.create_task(world.redeem(1, 30, 6))
            affordable = asyncio.create_task(world.redeem(1, 30, 5))
            done, _ = await asyncio.wait([short, affordable], timeout=30)
            # The short spend is answered while the lock is still held; the affordable one
            # waits for it, as it must.
            assert done == {short}
            with pytest.raises(InsufficientPoints):
                short.result()
        assert (await affordable).amount == 5
    finally:
        await holder.close()
    assert await world.balance("member:1") == 0
    assert (await world.verify()).clean
