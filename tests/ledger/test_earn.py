from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import ledger
from core.db import Database
from ledger.errors import AccountNotFound, InvalidAmount, InvalidExpiry
from tests.ledger.world import World, key

pytestmark = pytest.mark.anyio


async def test_earn_credits_member_from_partner_issuance_as_one_lot(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()

    result = await world.earn(1, 10, 120, green=True)

    assert (result.points, result.debt_repaid) == (120, 0)
    assert await world.balance("member:1") == 120
    assert await world.balance("partner:10:issued") == -120
    assert await world.lots(1) == [(10, 120, 120)]
    assert (await world.verify()).clean


async def test_earn_lot_records_its_expiry(db: Database, now: datetime) -> None:
    world = await World(db, now).open()

    result = await world.earn(1, 10, 5, lifetime=timedelta(days=30))

    assert await world.lot_expiry(result.lot_id) == now + timedelta(days=30)


@pytest.mark.parametrize("points", [0, -5, 1.5, "10", True, 2**63])
async def test_earn_refuses_points_that_are_not_positive_whole_numbers(
    db: Database, now: datetime, points: object
) -> None:
    world = await World(db, now).open()

    with pytest.raises(InvalidAmount):
        await world.earn(1, 10, points)  # type: ignore[arg-type]

    assert await world.balance("member:1") == 0


async def test_earn_refuses_an_expiry_not_in_the_future(db: Database, now: datetime) -> None:
    world = await World(db, now).open()

    with pytest.raises(InvalidExpiry):
        await world.earn(1, 10, 5, lifetime=timedelta(0))


async def test_earn_to_a_member_without_accounts_writes_nothing(
    db: Database, now: datetime
) -> None:
    world = await World(db, now).open()

    with pytest.raises(AccountNotFound) as raised:
        await world.earn(404, 10, 5)

    assert raised.value.account_id == "member:404"
    report = await world.verify()
    assert (report.transfers, report.lots, report.clean) == (0, 0, True)


async def test_earn_from_an_unknown_partner_is_refused(db: Database, now: datetime) -> None:
    await World(db, now).open()

    with pytest.raises(AccountNotFound) as raised:
        await db.write(
            ledger.earn,
            key(),
            member_id=1,
            partner_id=99,
            points=5,
            order_ref="o",
            expires_at=now + timedelta(days=1),
            now=now,
        )

    assert raised.value.account_id == "partner:99:issued"
