from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from core.db import Database
from ledger.errors import HoldNotPending, InvalidExpiry
from ledger.models import Lot
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


async def _lots(db: Database, member: int) -> list[tuple[int, int, datetime, int | None]]:
    """(points, remaining, expiry, the lot restored from) per lot of the member, in order."""

    def run(session: Session) -> list[tuple[int, int, datetime, int | None]]:
        rows = session.execute(
            select(Lot.points, Lot.remaining, Lot.expires_at, Lot.restored_from_lot_id)
            .where(Lot.member_id == member)
            .order_by(Lot.id)
        )
        return [(int(a), int(b), c, d) for a, b, c, d in rows]

    return await db.read(run)


async def test_refund_gives_a_lapsed_lot_back_the_lifetime_it_had_left(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    redemption = await world.redeem(1, 30, 100, at=now + timedelta(days=4))
    refunded_at = now + timedelta(days=30)

    await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=refunded_at)

    assert await _lots(db, 1) == [
        (100, 0, now + timedelta(days=10), None),
        (100, 100, refunded_at + timedelta(days=6), earned.lot_id),
    ]
    assert await world.lots(1) == [(10, 100, 0), (10, 100, 100)]  # the same issuer
    assert (await world.verify()).clean


async def test_refund_gives_a_live_lot_back_the_lifetime_it_had_left_when_spent(
    db: Database, now: datetime
) -> None:
    """Spent with 6 days left, refunded with 1 day left: the points live 6 days from the
    refund."""
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    redemption = await world.redeem(1, 30, 100, at=now + timedelta(days=4))
    refunded_at = now + timedelta(days=9)

    await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=refunded_at)

    assert await _lots(db, 1) == [
        (100, 0, now + timedelta(days=10), None),
        (100, 100, refunded_at + timedelta(days=6), earned.lot_id),
    ]
    assert (await world.verify()).clean


async def test_refund_never_extends_the_points_it_did_not_restore(
    db: Database, now: datetime
) -> None:
    """The lot's unspent points keep their expiry; only the 60 refunded points get the
    lifetime they had when spent, and the lot's lapsed points lapse as they would have."""
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    redemption = await world.redeem(1, 30, 60, at=now + timedelta(days=4))
    refunded_at = now + timedelta(days=30)

    await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=refunded_at)
    expired = await db.write(ledger.expire_lapsed_lots, now=refunded_at)

    assert await _lots(db, 1) == [
        (100, 0, now + timedelta(days=10), None),
        (60, 60, refunded_at + timedelta(days=6), earned.lot_id),
    ]
    assert (expired.members, expired.points) == (1, 40)
    assert await world.balance("alliance:expired") == 40
    assert await world.balance("member:1") == 60
    assert (await world.verify()).clean


async def test_a_refund_at_the_moment_of_spending_refills_the_lot_itself(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    redemption = await world.redeem(1, 30, 60)

    await db.write(ledger.refund, key(), hold_id=redemption.hold_id, now=now)

    assert await _lots(db, 1) == [(100, 100, now + timedelta(days=10), None)]
    assert (await world.verify()).clean


async def test_redeem_and_refund_cycles_never_extend_untouched_points(
    db: Database, now: datetime
) -> None:
    """The outside attack: 100 small redeem-and-refund cycles, an hour apart, on a lot of
    1,000 points. The 900 points never spent keep their expiry; each refunded 1 point
    lives exactly the lifetime it had when spent; the member's balance is unchanged."""
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 1_000, lifetime=timedelta(days=10))
    at = now
    restored: list[tuple[datetime, datetime]] = []
    for _ in range(100):
        at += timedelta(hours=1)
        spent = await world.redeem(1, 30, 1, at=at)
        refunded_at = at + timedelta(minutes=30)
        await db.write(ledger.refund, key(), hold_id=spent.hold_id, now=refunded_at)
        restored.append((at, refunded_at))

    lots = await _lots(db, 1)
    assert lots[0] == (1_000, 900, now + timedelta(days=10), None)
    assert await world.lot_expiry(earned.lot_id) == now + timedelta(days=10)
    children = lots[1:]
    assert len(children) == 100
    for (points, remaining, expiry, origin), (spent_at, refunded_at) in zip(
        children, restored, strict=True
    ):
        assert (points, remaining, origin) == (1, 1, earned.lot_id)
        assert expiry == refunded_at + (now + timedelta(days=10) - spent_at)
        assert expiry - refunded_at <= now + timedelta(days=10) - spent_at
    assert await world.balance("member:1") == 1_000
    report = await world.verify()
    assert report.clean, report


async def test_spending_restored_points_again_restores_their_own_lifetime(
    db: Database, now: datetime
) -> None:
    """Restored points spent and refunded again get back what they had left then, never
    the lot's first lifetime: the clock stops only while the points are with the partner."""
    world = await World(db, now).open()
    await world.earn(1, 10, 10, lifetime=timedelta(days=10))
    first = await world.redeem(1, 30, 10, at=now + timedelta(days=2))  # 8 days left
    await db.write(ledger.refund, key(), hold_id=first.hold_id, now=now + timedelta(days=5))
    # The restored points expire at day 13; spent at day 9 with 4 days left.
    second = await world.redeem(1, 30, 10, at=now + timedelta(days=9))
    await db.write(ledger.refund, key(), hold_id=second.hold_id, now=now + timedelta(days=20))

    lots = await _lots(db, 1)
    assert [(p, r) for p, r, _, _ in lots] == [(10, 0), (10, 0), (10, 10)]
    assert lots[1][2] == now + timedelta(days=13)
    assert lots[2][2] == now + timedelta(days=24)
    assert (await world.verify()).clean


async def test_a_voided_hold_gives_its_points_back_as_a_refund_does(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    held = await world.reserve(1, 30, 40, at=now + timedelta(days=9), ttl=timedelta(hours=2))

    await db.write(ledger.void, key(), hold_id=held.hold_id, now=now + timedelta(days=9, hours=1))

    assert await _lots(db, 1) == [
        (100, 60, now + timedelta(days=10), None),
        (40, 40, now + timedelta(days=10, hours=1), earned.lot_id),
    ]
    assert (await world.verify()).clean


async def test_a_refund_across_lots_of_two_issuers_keeps_each_issuer(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    await world.earn(1, 10, 70, lifetime=timedelta(days=10))
    await world.earn(1, 20, 70, lifetime=timedelta(days=20))
    redemption = await world.redeem(1, 30, 100, at=now + timedelta(days=1))

    refund = await db.write(
        ledger.refund, key(), hold_id=redemption.hold_id, now=now + timedelta(days=3)
    )

    assert refund.restored == 100
    assert await world.lots(1) == [(10, 70, 0), (20, 70, 40), (10, 70, 70), (20, 30, 30)]
    assert await world.balance("partner:30:redeemed") == 0
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


async def test_a_clawback_takes_the_refunded_points_back_from_their_restored_lot_first(
    db: Database, now: datetime
) -> None:
    """Partner 10's points, spent and refunded, live in a lot restored from their lot; a
    later clawback of that purchase takes them from there, not from partner 20's lot that
    expires sooner."""
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100, lifetime=timedelta(days=10))
    spent = await world.redeem(1, 30, 50, at=now + timedelta(days=1))
    await db.write(ledger.refund, key(), hold_id=spent.hold_id, now=now + timedelta(days=2))
    await world.earn(1, 20, 100, at=now + timedelta(days=2), lifetime=timedelta(days=3))

    clawed = await db.write(
        ledger.reverse_earn, key(), lot_id=earned.lot_id, now=now + timedelta(days=3)
    )

    assert (clawed.clawed_back, clawed.debt_recorded) == (100, 0)
    assert await world.lots(1) == [(10, 100, 0), (10, 50, 0), (20, 100, 100)]
    assert (await world.verify()).clean
