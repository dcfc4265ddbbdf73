from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import ledger
from core.db import Database
from ledger.errors import HoldNotPending, InvalidExpiry
from tests.ledger.world import World, key

pytestmark = pytest.mark.anyio


async def test_refund_restores_the_same_lots_from_the_redeeming_partner(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 70)
    await world.earn(1, 20, 70)
    redemption = await world.redeem(1, 30, 100)

    refund = await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=now)

    assert refund.restored == 100
    assert await world.lots(1) == [(10, 70, 70), (20, 70, 70)]
    assert await world.balance("partner:30:redeemed") == 0
    assert await world.hold_status(redemption.hold_id) == "REFUNDED"
    assert (await world.verify()).clean


async def test_refund_extends_a_lot_that_lapsed_by_the_lifetime_it_had_left(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    redemption = await world.redeem(1, 30, 100, at=now + timedelta(days=4))
    refunded_at = now + timedelta(days=30)

    await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=refunded_at)

    assert await world.lot_expiry(earned.lot_id) == refunded_at + timedelta(days=6)
    assert await world.lots(1) == [(10, 100, 100)]
    assert (await world.verify()).clean


async def test_refund_gives_a_live_lot_back_the_lifetime_it_had_left_when_spent(
    db: Database, now: datetime
) -> None:
    """Spent with 6 days left, refunded with 1 day left: the lot lives 6 days from the
    refund (it had not lapsed, so before this fix it kept its 1 day)."""
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    redemption = await world.redeem(1, 30, 100, at=now + timedelta(days=4))
    refunded_at = now + timedelta(days=9)

    await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=refunded_at)

    assert await world.lot_expiry(earned.lot_id) == refunded_at + timedelta(days=6)
    assert await world.lots(1) == [(10, 100, 100)]
    assert (await world.verify()).clean


async def test_refund_into_a_lapsed_lot_expires_its_unspent_points_first(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    redemption = await world.redeem(1, 30, 60, at=now + timedelta(days=4))

    await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=now + timedelta(days=30))

    assert await world.lots(1) == [(10, 100, 60)]
    assert await world.balance("alliance:expired") == 40
    assert await world.lot_expiry(earned.lot_id) == now + timedelta(days=36)
    assert (await world.verify()).clean


async def test_refund_compensation_is_a_new_lot_issued_by_the_redeeming_partner(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    redemption = await world.redeem(1, 30, 100)

    refund = await db.write(
        ledger.refund,
        key(),
        hold_id=redemption.hold_id,
        now=now,
        compensation_points=20,
        compensation_expires_at=now + timedelta(days=90),
    )

    assert refund.compensation_lot_id is not None
    assert await world.lots(1) == [(10, 100, 100), (30, 20, 20)]
    assert await world.balance("partner:30:issued") == -20
    assert await world.balance("member:1") == 120
    assert (await world.verify()).clean


async def test_a_refund_happens_once(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    redemption = await world.redeem(1, 30, 100)
    await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=now)

    with pytest.raises(HoldNotPending) as raised:
        await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=now)

    assert raised.value.status == "REFUNDED"
    assert await world.balance("member:1") == 100


async def test_a_pending_hold_cannot_be_refunded(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    hold = await world.reserve(1, 30, 50)

    with pytest.raises(HoldNotPending):
        await db.write(ledger.refund, key(), hold_id=hold.hold_id, now=now)


async def test_compensation_needs_a_future_expiry(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    redemption = await world.redeem(1, 30, 100)

    with pytest.raises(InvalidExpiry):
        await db.write(
            ledger.refund,
            key(),
            hold_id=redemption.hold_id,
            now=now,
            compensation_points=5,
            compensation_expires_at=now,
        )
