from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

import ledger
from core.db import Database
from ledger import repository
from ledger.errors import ClawbackDebtOutstanding, LotNotFound, ReversalExceedsEarned
from ledger.models import Operation
from tests.ledger.world import World, key

pytestmark = pytest.mark.anyio


async def test_clawback_of_unspent_points_returns_them_to_the_issuer(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100)

    result = await db.write(ledger.reverse_earn, key(), lot_id=earned.lot_id, now=now)

    assert (result.clawed_back, result.debt_recorded) == (100, 0)
    assert await world.balance("member:1") == 0
    assert await world.balance("partner:10:issued") == 0
    assert (await world.verify()).clean


async def test_partial_clawback_leaves_the_rest_reversible(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100)

    await db.write(ledger.reverse_earn, key(), lot_id=earned.lot_id, points=30, now=now)
    with pytest.raises(ReversalExceedsEarned) as raised:
        await db.write(ledger.reverse_earn, key(), lot_id=earned.lot_id, points=71, now=now)

    assert raised.value.reversible == 70
    assert await world.balance("member:1") == 70


async def test_clawback_takes_other_lots_then_records_the_shortfall_as_debt(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100)
    await world.earn(1, 20, 30)
    await world.redeem(1, 30, 110)

    result = await db.write(ledger.reverse_earn, key(), lot_id=earned.lot_id, now=now)

    assert (result.clawed_back, result.debt_recorded) == (20, 80)
    assert await world.balance("member:1") == 0
    assert await world.balance("member:1:debt") == -80
    assert await world.balance("partner:10:issued") == 0
    assert (await world.verify()).clean


async def test_later_earnings_repay_clawback_debt_before_anything_else(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100)
    await world.redeem(1, 30, 100)
    await db.write(ledger.reverse_earn, key(), lot_id=earned.lot_id, now=now)

    first = await world.earn(1, 20, 60)
    second = await world.earn(1, 20, 50)

    assert (first.debt_repaid, second.debt_repaid) == (60, 40)
    assert await world.balance("member:1:debt") == 0
    assert await world.balance("member:1") == 10
    assert await world.lots(1) == [(10, 100, 0), (20, 60, 0), (20, 50, 10)]
    assert (await world.verify()).clean


async def test_points_voided_back_after_a_clawback_repay_the_debt(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100)
    hold = await world.reserve(1, 30, 100)
    clawback = await db.write(ledger.reverse_earn, key(), lot_id=earned.lot_id, now=now)

    await db.write(ledger.void, key(), hold_id=hold.hold_id, now=now)

    assert clawback.debt_recorded == 100
    assert await world.balance("member:1:debt") == 0
    assert await world.balance("member:1") == 0
    assert await world.balance("partner:10:issued") == 0
    assert (await world.verify()).clean


async def test_a_member_in_clawback_debt_cannot_spend(db: Database, now: datetime) -> None:
    """The guard behind the repayments: should points and debt ever coexist (on
    PostgreSQL an earn racing a clawback can read the debt before it commits),
    redemption is still refused."""
    world = await World(db, now).open()
    await world.earn(1, 10, 100)

    def owe_without_repayment(session: Session) -> None:
        operation = session.execute(
            insert(Operation)
            .values(
                client_id="test",
                idempotency_key="debt",
                kind="clawback",
                request_hash="-",
                created_at=now,
            )
            .returning(Operation.id)
        ).scalar_one()
        repository.apply_balances(session, "member:1:debt", "partner:10:issued", 30)
        repository.insert_transfer(
            session,
            operation_id=operation,
            debit="member:1:debt",
            credit="partner:10:issued",
            amount=30,
            code="clawback",
            now=now,
        )

    await db.write(owe_without_repayment)

    with pytest.raises(ClawbackDebtOutstanding) as raised:
        await world.redeem(1, 30, 10)

    assert raised.value.debt == 30
    assert await world.balance("member:1") == 100


async def test_a_partner_cannot_claw_back_another_partners_lot(db: Database, now: datetime) -> None:
    world = await World(db, now).open()
    earned = await world.earn(1, 10, 100)

    with pytest.raises(LotNotFound):
        await db.write(ledger.reverse_earn, key(), lot_id=earned.lot_id, now=now, partner_id=20)

    assert await world.balance("member:1") == 100
