from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from compliance.errors import ComplianceViolation
from core.db import Database
from partners.errors import PartnerNotFound
from partners.registry import add_partner
from partners.terms import (
    InvalidTerms,
    budget_in_force,
    set_marketing_budget,
    set_settlement_terms,
    terms_in_force,
)

pytestmark = pytest.mark.anyio


async def _optician(db: Database, now: datetime) -> None:
    await db.write(add_partner, code="optician", name="Clear Sight", legal_entity="CS Ltd", now=now)


def _terms(**overrides: object) -> dict[str, object]:
    return {
        "partner_code": "optician",
        "issue_price_per_point_fen": "0.8",
        "reimbursement_per_point_fen": "0.75",
        "operator_fee_rate": "0.02",
        "cycle": "MONTHLY",
        **overrides,
    }


async def test_terms_are_exact_decimals(db: Database, now: datetime) -> None:
    await _optician(db, now)

    await db.write(set_settlement_terms, now=now, **_terms())
    found = await db.read(terms_in_force, "optician", now)

    assert found is not None
    assert (found.issue_price_per_point_fen, found.reimbursement_per_point_fen) == (
        Decimal("0.800000"),
        Decimal("0.750000"),
    )
    assert (found.operator_fee_rate, found.cycle) == (Decimal("0.020000"), "MONTHLY")


async def test_a_change_takes_effect_only_in_the_future(db: Database, now: datetime) -> None:
    await _optician(db, now)
    await db.write(set_settlement_terms, now=now, **_terms())

    with pytest.raises(ComplianceViolation, match="CR-07"):
        await db.write(set_settlement_terms, now=now, **_terms(issue_price_per_point_fen="0.9"))
    later = now + timedelta(days=1)
    await db.write(
        set_settlement_terms, now=now, effective_at=later, **_terms(issue_price_per_point_fen="0.9")
    )

    before = await db.read(terms_in_force, "optician", now + timedelta(hours=1))
    after = await db.read(terms_in_force, "optician", later)
    assert before is not None
    assert after is not None
    assert (before.issue_price_per_point_fen, after.issue_price_per_point_fen) == (
        Decimal("0.800000"),
        Decimal("0.900000"),
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"issue_price_per_point_fen": 0.8},
        {"issue_price_per_point_fen": "-1"},
        {"issue_price_per_point_fen": "NaN"},
        {"issue_price_per_point_fen": "0.0000001"},
        {"operator_fee_rate": "1"},
        {"cycle": "YEARLY"},
    ],
)
async def test_bad_terms_are_refused(db: Database, now: datetime, bad: dict[str, object]) -> None:
    await _optician(db, now)

    with pytest.raises(InvalidTerms):
        await db.write(set_settlement_terms, now=now, **_terms(**bad))

    assert await db.read(terms_in_force, "optician", now) is None


async def test_a_new_partners_budget_is_zero_until_set(db: Database, now: datetime) -> None:
    await _optician(db, now)
    assert await db.read(budget_in_force, "optician", now) is None

    await db.write(
        set_marketing_budget,
        partner_code="optician",
        amount_fen=5_000_000,
        period_start=now - timedelta(days=1),
        period_end=now + timedelta(days=30),
        now=now,
    )

    found = await db.read(budget_in_force, "optician", now)
    assert found is not None
    assert found.amount_fen == 5_000_000
    assert await db.read(budget_in_force, "optician", now + timedelta(days=31)) is None


@pytest.mark.parametrize("amount", [-1, 2**31, 10.5])
async def test_a_budget_is_whole_fen_in_range(db: Database, now: datetime, amount: object) -> None:
    await _optician(db, now)

    with pytest.raises(InvalidTerms):
        await db.write(
            set_marketing_budget,
            partner_code="optician",
            amount_fen=amount,
            period_start=now,
            period_end=now + timedelta(days=1),
            now=now,
        )


async def test_terms_for_an_unknown_partner_are_not_found(db: Database, now: datetime) -> None:
    with pytest.raises(PartnerNotFound):
        await db.write(set_settlement_terms, now=now, **_terms(partner_code="nobody"))
