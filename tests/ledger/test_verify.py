from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.db import Database
from tests.ledger.world import World

pytestmark = pytest.mark.anyio


async def _populated(db: Database, now: datetime) -> World:
    world = await World(db, now).open()
    await world.earn(1, 10, 100)
    await world.earn(2, 20, 50)
    await world.redeem(1, 30, 40)
    await world.reserve(2, 30, 20)
    return world


async def test_a_consistent_ledger_verifies_clean_with_a_summary(
    db: Database, now: datetime
) -> None:
    world = await _populated(db, now)

    report = await world.verify()

    assert report.clean
    assert (report.transfers, report.lots, report.member_points, report.held_points) == (
        4,
        2,
        90,
        20,
    )
    assert report.lines()[0].startswith("ledger clean: 14 accounts, 4 transfers, 2 lots")


async def test_verify_detects_a_corrupted_account_balance(db: Database, now: datetime) -> None:
    world = await _populated(db, now)

    def corrupt(session: Session) -> None:
        session.execute(
            text(
                "UPDATE ledger_accounts SET credits_posted = credits_posted + 5 "
                "WHERE id = 'member:1'"
            )
        )

    await db.write(corrupt)
    report = await world.verify()

    assert not report.clean
    assert [(b.invariant, b.subject) for b in report.breaches] == [
        ("account_equals_transfers", "member:1")
    ]
    assert report.breaches[0].detail == "posted 40/105, transfers give 40/100"


async def test_verify_detects_a_lot_that_disagrees_with_its_allocations(
    db: Database, now: datetime
) -> None:
    world = await _populated(db, now)

    def corrupt(session: Session) -> None:
        session.execute(
            text("UPDATE ledger_lots SET remaining = remaining + 1 WHERE member_id = 1")
        )

    await db.write(corrupt)
    report = await world.verify()

    assert {b.invariant for b in report.breaches} == {
        "member_balance_equals_lots",
        "lot_remaining_equals_allocations",
    }


async def test_verify_detects_held_points_without_a_pending_hold(
    db: Database, now: datetime
) -> None:
    world = await _populated(db, now)

    def corrupt(session: Session) -> None:
        session.execute(text("UPDATE ledger_holds SET status = 'VOIDED' WHERE member_id = 2"))

    await db.write(corrupt)
    report = await world.verify()

    assert [(b.invariant, b.subject) for b in report.breaches] == [
        ("held_equals_pending_holds", "member:2:held")
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transfers SET amount = amount + 1",
        "DELETE FROM ledger_transfers",
        "UPDATE ledger_allocations SET points = points + 1",
        "DELETE FROM ledger_allocations",
    ],
)
async def test_transfers_and_allocations_are_append_only(
    db: Database, now: datetime, statement: str
) -> None:
    world = await _populated(db, now)

    def tamper(session: Session) -> None:
        session.execute(text(statement))

    with pytest.raises(DBAPIError, match="append-only"):
        await db.write(tamper)

    assert (await world.verify()).clean


async def test_a_member_balance_cannot_go_negative_even_by_direct_sql(
    db: Database, now: datetime
) -> None:
    await _populated(db, now)

    def overdraw(session: Session) -> None:
        session.execute(
            text(
                "UPDATE ledger_accounts SET debits_posted = credits_posted + 1 "
                "WHERE id = 'member:1'"
            )
        )

    with pytest.raises(DBAPIError, match="debits_within_credits"):
        await db.write(overdraw)


async def test_verify_detects_a_reversal_without_its_original_or_with_a_wrong_one(
    db: Database, now: datetime
) -> None:
    """Settlement prices a clawback or a refund at its original's terms
    (docs/settlement.md): one naming none, or a redemption, is a breach."""
    world = await _populated(db, now)

    def corrupt(session: Session) -> None:
        for original in ("NULL", "id"):
            session.execute(
                text(
                    "INSERT INTO ledger_transfers (operation_id, debit_account_id, "
                    "credit_account_id, amount, code, partner_id, member_id, "
                    "original_transfer_id, created_at) "
                    "SELECT operation_id, 'member:1', 'partner:10:issued', 1, 'clawback', 10, "
                    f"1, {original}, created_at FROM ledger_transfers WHERE code = 'redeem'"
                )
            )

    await db.write(corrupt)
    report = await world.verify()

    named = [b for b in report.breaches if b.invariant == "reversal_names_its_original"]
    assert sorted(b.detail for b in named) == [
        "clawback names original 3",
        "clawback names original none",
    ]
