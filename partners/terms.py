"""A partner's settlement terms and marketing budgets.

Prices per point are exact decimals of a fen, never floats. CR-07: once a partner has
terms, a change takes effect at a future time and never applies retroactively.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from compliance.errors import ComplianceViolation
from compliance.rules import Violation, marketing_budget, no_retroactive_change
from partners.errors import PartnerError
from partners.models import MarketingBudget, SettlementCycle, SettlementTerms
from partners.registry import find_partner

PRICE_PLACES = Decimal("0.000001")


class InvalidTerms(PartnerError):
    def __init__(self, message: str) -> None:
        super().__init__(message)


def exact_decimal(field: str, value: object, *, below_one: bool = False) -> Decimal:
    """A non-negative decimal with at most six places, from a Decimal or a string."""
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise InvalidTerms(f'{field} must be a decimal string such as "0.8"')
    try:
        number = Decimal(value)
    except InvalidOperation as error:
        raise InvalidTerms(f'{field} must be a decimal string such as "0.8"') from error
    if not number.is_finite() or number < 0 or number != number.quantize(PRICE_PLACES):
        raise InvalidTerms(f"{field} must be a non-negative decimal with at most six places")
    if below_one and number >= 1:
        raise InvalidTerms(f"{field} must be below 1")
    return number


def plain(number: Decimal) -> Decimal:
    """``0.800000`` as ``0.8`` and ``100.000000`` as ``100``: no trailing zeros, no exponent."""
    return (
        number.to_integral_value() if number == number.to_integral_value() else number.normalize()
    )


@dataclass(frozen=True, slots=True)
class TermsView:
    partner_code: str
    issue_price_per_point_fen: Decimal
    reimbursement_per_point_fen: Decimal
    operator_fee_rate: Decimal
    cycle: str
    effective_at: datetime


def set_settlement_terms(
    session: Session,
    *,
    partner_code: str,
    issue_price_per_point_fen: object,
    reimbursement_per_point_fen: object,
    operator_fee_rate: object,
    cycle: str,
    now: datetime,
    effective_at: datetime | None = None,
) -> TermsView:
    """Record terms effective at ``effective_at`` (default: now, for a partner's first terms)."""
    partner = find_partner(session, partner_code)
    if cycle not in SettlementCycle.__members__:
        raise InvalidTerms(f"cycle must be one of {', '.join(SettlementCycle.__members__)}")
    effective = effective_at or now
    has_terms = session.execute(
        select(SettlementTerms.id).where(SettlementTerms.partner_id == partner.id).limit(1)
    ).first()
    if has_terms is not None:
        violation = no_retroactive_change(effective, now)
        if violation is not None:
            raise ComplianceViolation(violation, ["effectiveAt"])
    terms = SettlementTerms(
        partner_id=partner.id,
        issue_price_per_point_fen=exact_decimal("issuePricePerPointFen", issue_price_per_point_fen),
        reimbursement_per_point_fen=exact_decimal(
            "reimbursementPerPointFen", reimbursement_per_point_fen
        ),
        operator_fee_rate=exact_decimal("operatorFeeRate", operator_fee_rate, below_one=True),
        cycle=cycle,
        effective_at=effective,
        created_at=now,
    )
    session.add(terms)
    session.flush()
    return TermsView(
        partner_code,
        plain(terms.issue_price_per_point_fen),
        plain(terms.reimbursement_per_point_fen),
        plain(terms.operator_fee_rate),
        cycle,
        effective,
    )


def _terms_row(session: Session, partner_id: int, at: datetime) -> SettlementTerms | None:
    """The terms with the latest effective time not after ``at``."""
    return session.execute(
        select(SettlementTerms)
        .where(SettlementTerms.partner_id == partner_id, SettlementTerms.effective_at <= at)
        .order_by(SettlementTerms.effective_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def _budget_row(session: Session, partner_id: int, at: datetime) -> MarketingBudget | None:
    """The latest budget set for the period containing ``at``."""
    return session.execute(
        select(MarketingBudget)
        .where(
            MarketingBudget.partner_id == partner_id,
            MarketingBudget.period_start <= at,
            MarketingBudget.period_end > at,
        )
        .order_by(MarketingBudget.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def terms_in_force(session: Session, partner_code: str, at: datetime) -> TermsView | None:
    row = _terms_row(session, find_partner(session, partner_code).id, at)
    if row is None:
        return None
    return TermsView(
        partner_code,
        plain(Decimal(row.issue_price_per_point_fen)),
        plain(Decimal(row.reimbursement_per_point_fen)),
        plain(Decimal(row.operator_fee_rate)),
        row.cycle,
        row.effective_at,
    )


@dataclass(frozen=True, slots=True)
class BudgetView:
    partner_code: str
    amount_fen: int
    period_start: datetime
    period_end: datetime


MAX_BUDGET_FEN = 2**31 - 1


def set_marketing_budget(
    session: Session,
    *,
    partner_code: str,
    amount_fen: int,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> BudgetView:
    """Fund a budget period in integer fen. A new partner's budget is 0 until this is set."""
    partner = find_partner(session, partner_code)
    if type(amount_fen) is not int or not 0 <= amount_fen <= MAX_BUDGET_FEN:
        raise InvalidTerms("amountFen must be a whole number of fen from 0 to 2147483647")
    if period_end <= period_start:
        raise InvalidTerms("periodEnd must be after periodStart")
    session.add(
        MarketingBudget(
            partner_id=partner.id,
            amount_fen=amount_fen,
            issued_points=0,
            period_start=period_start,
            period_end=period_end,
            created_at=now,
        )
    )
    session.flush()
    return BudgetView(partner_code, amount_fen, period_start, period_end)


def budget_in_force(session: Session, partner_code: str, at: datetime) -> BudgetView | None:
    """The latest budget set for the period containing ``at``; None means a budget of 0."""
    row = _budget_row(session, find_partner(session, partner_code).id, at)
    if row is None:
        return None
    return BudgetView(partner_code, row.amount_fen, row.period_start, row.period_end)


def consume_budget(
    session: Session, partner_id: int, points: int, now: datetime
) -> Violation | None:
    """CR-02, atomically with the award: raise the budget's issued points only if points x
    issue price stays within the budget. The cap is computed with exact decimals, and the
    conditional UPDATE makes two racing awards unable to both pass the last yuan."""
    budget = _budget_row(session, partner_id, now)
    terms = _terms_row(session, partner_id, now)
    price = None if terms is None else terms.issue_price_per_point_fen
    if budget is None or price is None:
        return marketing_budget(budget is not None, price is not None, False)
    unit = Decimal(price)
    cap = (
        MAX_ISSUABLE
        if unit == 0
        else int((Decimal(budget.amount_fen) / unit).to_integral_value(ROUND_FLOOR))
    )
    raised = session.execute(
        update(MarketingBudget)
        .where(
            MarketingBudget.id == budget.id,
            MarketingBudget.issued_points + points <= cap,
        )
        .values(issued_points=MarketingBudget.issued_points + points)
        .returning(MarketingBudget.id)
    ).first()
    return marketing_budget(True, True, raised is not None)


MAX_ISSUABLE = 2**62
