from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import ledger
from core.db import Database
from ledger.errors import HoldExpired, HoldNotFound, HoldNotPending, InsufficientPoints
from tests.ledger.world import World, key

pytestmark = pytest.mark.anyio


async def test_redeem_spends_the_soonest_expiring_lot_first(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100, lifetime=timedelta(days=300))
    await world.earn(1, 20, 100, lifetime=timedelta(days=30))

    await world.redeem(1, 30, 150)

    assert await world.lots(1) == [(10, 100, 50), (20, 100, 0)]
    assert await world.balance("partner:30:redeemed") == 150
    assert (await world.verify()).clean


async def test_redeem_at_equal_expiry_takes_the_oldest_lot_first(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    expiry = now + timedelta(days=100)
    await world.earn(
        1, 10, 40, at=now - timedelta(days=2), lifetime=expiry - (now - timedelta(days=2))
    )
    await world.earn(1, 20, 40, lifetime=timedelta(days=100))

    await world.redeem(1, 30, 50)

    assert await world.lots(1) == [(10, 40, 0), (20, 40, 30)]


async def test_redeem_more_than_the_balance_is_insufficient_points(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)

    with pytest.raises(InsufficientPoints) as raised:
        await world.redeem(1, 30, 101)

    assert (raised.value.requested, raised.value.available) == (101, 100)
    assert await world.balance("member:1") == 100
    assert await world.lots(1) == [(10, 100, 100)]
    assert (await world.verify()).transfers == 1


async def test_reserve_moves_points_to_held_then_capture_pays_the_partner(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)

    hold = await world.reserve(1, 30, 60)
    assert (await world.balance("member:1"), await world.balance("member:1:held")) == (40, 60)
    captured = await db.write(ledger.capture, key(), hold_id=hold.hold_id, now=now)

    assert captured.status == "CAPTURED"
    assert await world.balance("member:1:held") == 0
    assert await world.balance("partner:30:redeemed") == 60
    assert (await world.verify()).clean


async def test_void_returns_held_points_to_the_same_lots(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 30, lifetime=timedelta(days=10))
    await world.earn(1, 20, 100)
    hold = await world.reserve(1, 30, 60)

    voided = await db.write(ledger.void, key(), hold_id=hold.hold_id, now=now)

    assert voided.status == "VOIDED"
    assert await world.balance("member:1") == 130
    assert await world.lots(1) == [(10, 30, 30), (20, 100, 100)]
    assert (await world.verify()).clean


async def test_capture_of_a_voided_hold_is_not_pending(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    hold = await world.reserve(1, 30, 60)
    await db.write(ledger.void, key(), hold_id=hold.hold_id, now=now)

    with pytest.raises(HoldNotPending) as raised:
        await db.write(ledger.capture, key(), hold_id=hold.hold_id, now=now)

    assert raised.value.status == "VOIDED"


async def test_capture_after_the_deadline_is_refused(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    hold = await world.reserve(1, 30, 60, ttl=timedelta(minutes=15))

    with pytest.raises(HoldExpired):
        await db.write(ledger.capture, key(), hold_id=hold.hold_id, now=now + timedelta(minutes=16))

    assert await world.hold_status(hold.hold_id) == "PENDING"


async def test_the_sweep_voids_holds_past_their_deadline(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    lapsing = await world.reserve(1, 30, 60, ttl=timedelta(minutes=5))
    live = await world.reserve(1, 30, 10, ttl=timedelta(hours=1))

    voided = await db.write(ledger.void_lapsed_holds, now + timedelta(minutes=6))

    assert voided == 1
    assert await world.hold_status(lapsing.hold_id) == "VOIDED"
    assert await world.hold_status(live.hold_id) == "PENDING"
    assert await world.balance("member:1") == 90
    assert (await world.verify()).clean


async def test_a_partner_cannot_capture_another_partners_hold(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    hold = await world.reserve(1, 30, 60)

    with pytest.raises(HoldNotFound):
        await db.write(ledger.capture, key(), hold_id=hold.hold_id, now=now, partner_id=20)

    assert await world.hold_status(hold.hold_id) == "PENDING"


async def test_capture_replay_returns_the_first_capture(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    hold = await world.reserve(1, 30, 60)
    idem = key(value=f"capture:{hold.hold_id}")

    first = await db.write(ledger.capture, idem, hold_id=hold.hold_id, now=now)
    again = await db.write(ledger.capture, idem, hold_id=hold.hold_id, now=now)

    assert again == first
    assert await world.balance("partner:30:redeemed") == 60


async def test_an_unknown_hold_is_not_found(db: Database, now: datetime) -> None:
    await World(db, now).open()

    with pytest.raises(HoldNotFound):
        await db.write(ledger.void, key(), hold_id=12345, now=now)


async def test_spending_expires_lapsed_lots_first_and_never_spends_them(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 50, lifetime=timedelta(days=1))
    await world.earn(1, 20, 100)
    later = now + timedelta(days=2)

    await world.redeem(1, 30, 80, at=later)

    assert await world.lots(1) == [(10, 50, 0), (20, 100, 20)]
    assert await world.balance("alliance:expired") == 50
    assert (await world.verify()).clean


async def test_lapsed_points_do_not_count_towards_a_spend(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 50, lifetime=timedelta(days=1))
    await world.earn(1, 20, 40)

    with pytest.raises(InsufficientPoints):
        await world.redeem(1, 30, 80, at=now + timedelta(days=2))

    assert await world.lots(1) == [(10, 50, 50), (20, 40, 40)]
