"""Concurrent spends of one balance, with real concurrent connections on PostgreSQL and
concurrent writer connections (BEGIN IMMEDIATE) on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import pytest

import ledger
from core.db import Database
from ledger.errors import InsufficientPoints
from tests.ledger.world import World, key

pytestmark = pytest.mark.anyio


@pytest.fixture
async def wide_db(database_url: str) -> Database:
    database = Database(database_url, pool_size=25, sqlite_writer_threads=8)
    yield database  # type: ignore[misc]
    await database.dispose()


async def test_fifty_concurrent_redemptions_never_overspend(
    wide_db: Database, now: datetime
) -> None:
    world = await World(wide_db, now).open()
    for _ in range(4):
        await world.earn(1, 10, 25)

    outcomes = await asyncio.gather(
        *(world.redeem(1, 30, 10) for _ in range(50)), return_exceptions=True
    )

    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, InsufficientPoints)]
    assert (len(succeeded), len(refused)) == (10, 40)
    assert await world.balance("member:1") == 0
    assert await world.balance("partner:30:redeemed") == 100
    assert (await world.verify()).clean


async def test_concurrent_replays_of_one_key_post_once(wide_db: Database, now: datetime) -> None:
    world = await World(wide_db, now).open()
    await world.earn(1, 10, 100)
    idem = key(value="same-redemption")

    outcomes = await asyncio.gather(*(world.redeem(1, 30, 10, idem=idem) for _ in range(10)))

    assert len({outcome.hold_id for outcome in outcomes}) == 1
    assert await world.balance("member:1") == 90
    assert (await world.verify()).clean


async def test_concurrent_earns_and_spends_keep_every_invariant(
    wide_db: Database, now: datetime
) -> None:
    world = await World(wide_db, now).open(members=(1, 2))
    await world.earn(1, 10, 50)
    await world.earn(2, 10, 50)

    async def churn(member: int) -> None:
        for _ in range(5):
            await world.earn(member, 20, 7)
            with contextlib.suppress(InsufficientPoints):
                await world.redeem(member, 30, 12)
            await wide_db.write(
                ledger.donate, key(), member_id=member, charity_id=90, points=1, now=now
            )

    await asyncio.gather(*(churn(member) for member in (1, 2, 1, 2)))

    report = await world.verify()
    assert report.clean, report.lines()
