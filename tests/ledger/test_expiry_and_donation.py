from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import ledger
from core.db import Database
from ledger.adjustment import MemberAccountNotAdjustable
from ledger.errors import InsufficientPoints, LimitExceeded
from tests.ledger.world import World, key

pytestmark = pytest.mark.anyio


async def test_expiry_moves_lapsed_points_to_breakage(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 30, lifetime=timedelta(days=5))
    await world.earn(1, 20, 70)
    await world.earn(2, 10, 15, lifetime=timedelta(days=1))

    batch = await db.write(ledger.expire_lapsed_lots, now + timedelta(days=6))

    assert (batch.members, batch.points) == (2, 45)
    assert await world.balance("member:1") == 70
    assert await world.balance("member:2") == 0
    assert await world.balance("alliance:expired") == 45
    assert (await world.verify()).clean


async def test_expiry_with_nothing_lapsed_posts_nothing(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 30)

    batch = await db.write(ledger.expire_lapsed_lots, now + timedelta(days=1))

    assert (batch.members, batch.points) == (0, 0)
    assert (await world.verify()).transfers == 1


async def test_expiry_runs_in_batches_of_members(db: Database, now: datetime) -> None:
    world = await World(db, now).open(members=(1, 2, 3))
    for member in (1, 2, 3):
        await world.earn(member, 10, 10, lifetime=timedelta(days=1))
    later = now + timedelta(days=2)

    sizes = [(await db.write(ledger.expire_lapsed_lots, later, 2)).members for _ in range(3)]

    assert sizes == [2, 1, 0]
    assert await world.balance("alliance:expired") == 30


async def test_donation_moves_points_to_the_charity_project(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)

    result = await db.write(ledger.donate, key(), member_id=1, charity_id=90, points=40, now=now)

    assert result.points == 40
    assert await world.balance("charity:90") == 40
    assert await world.lots(1) == [(10, 100, 60)]
    assert (await world.verify()).clean


async def test_donation_beyond_the_balance_is_refused(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 10)

    with pytest.raises(InsufficientPoints):
        await db.write(ledger.donate, key(), member_id=1, charity_id=90, points=11, now=now)


async def test_adjustment_is_a_new_transfer_between_partner_accounts(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 50)
    await world.redeem(1, 30, 50)

    await db.write(
        ledger.adjust,
        key(),
        debit="partner:30:redeemed",
        credit="partner:10:issued",
        amount=5,
        now=now,
        reason="reconciliation line 7",
    )

    assert await world.balance("partner:30:redeemed") == 45
    assert await world.balance("partner:10:issued") == -45
    assert (await world.verify()).clean


async def test_adjustment_never_touches_member_accounts(db: Database, now: datetime) -> None:
    await World(db, now).open()

    with pytest.raises(MemberAccountNotAdjustable):
        await db.write(
            ledger.adjust,
            key(),
            debit="partner:10:issued",
            credit="member:1",
            amount=5,
            now=now,
            reason="gift",
        )


async def test_adjustment_cannot_un_issue_more_than_was_issued(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 50)
    await world.redeem(1, 30, 50)

    with pytest.raises(LimitExceeded):
        await db.write(
            ledger.adjust,
            key(),
            debit="partner:30:redeemed",
            credit="partner:10:issued",
            amount=51,
            now=now,
            reason="too much",
        )
