"""The operator's compliance report: refusals, budgets, liability and open AML cases.

It lives with the partners because it is mostly about them (budgets, prices, the points
they issued); it reads the compliance audit and AML cases from below."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.models import AmlCase, BlockedAttempt
from ledger.models import Allocation, Hold, Lot, Transfer
from partners.models import MarketingBudget, Partner, SettlementTerms


@dataclass(frozen=True, slots=True)
class RefusalCount:
    rule: str
    partner_code: str | None
    count: int


@dataclass(frozen=True, slots=True)
class BudgetUse:
    partner_code: str
    period_start: datetime
    period_end: datetime
    amount_fen: int
    issued_points: int
    used_fen: int
    remaining_fen: int
    issued_in_period_points: int | None = None


@dataclass(frozen=True, slots=True)
class Liability:
    partner_code: str
    spendable_points: int
    held_points: int


@dataclass(frozen=True, slots=True)
class CaseCount:
    pattern: str
    open: int


@dataclass(slots=True)
class ComplianceReport:
    as_of: datetime
    period_start: datetime | None = None
    period_end: datetime | None = None
    refusals: list[RefusalCount] = field(default_factory=list)
    budgets: list[BudgetUse] = field(default_factory=list)
    liability: list[Liability] = field(default_factory=list)
    open_cases: list[CaseCount] = field(default_factory=list)


def _fen(points: int, price: Decimal) -> int:
    """Money is integer fen, rounded half-even at report level."""
    return int((Decimal(points) * price).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def compliance_report(
    session: Session, now: datetime, window: tuple[datetime, datetime] | None = None
) -> ComplianceReport:
    """As of ``now``; with a settlement period's ``window`` ``[start, end)``: the refusals
    and AML cases of the window, the budgets that overlap it with the points issued in it.
    The liability is always as of now (it is a balance, not a flow)."""
    report = ComplianceReport(as_of=now)
    codes = dict(session.execute(select(Partner.id, Partner.code)).all())
    refusals = select(BlockedAttempt.rule, BlockedAttempt.partner_id, func.count())
    budgets = select(MarketingBudget).where(
        MarketingBudget.period_start <= now, MarketingBudget.period_end > now
    )
    cases = select(AmlCase.pattern, func.count()).where(AmlCase.status == "OPEN")
    issued_in_period: dict[int, int] = {}
    if window is not None:
        start, end = window
        report.period_start, report.period_end = start, end
        refusals = refusals.where(BlockedAttempt.at >= start, BlockedAttempt.at < end)
        budgets = select(MarketingBudget).where(
            MarketingBudget.period_start < end, MarketingBudget.period_end > start
        )
        cases = cases.where(AmlCase.opened_at >= start, AmlCase.opened_at < end)
        issued_in_period = {
            int(partner_id or 0): int(points)
            for partner_id, points in session.execute(
                select(Transfer.partner_id, func.sum(Transfer.amount))
                .where(
                    Transfer.code == "earn",
                    Transfer.partner_id.is_not(None),
                    Transfer.created_at >= start,
                    Transfer.created_at < end,
                )
                .group_by(Transfer.partner_id)
            )
        }

    for rule, partner_id, count in session.execute(
        refusals.group_by(BlockedAttempt.rule, BlockedAttempt.partner_id).order_by(
            BlockedAttempt.rule, BlockedAttempt.partner_id
        )
    ):
        code = None if partner_id is None else codes.get(partner_id)
        report.refusals.append(RefusalCount(rule, code, int(count)))

    prices: dict[int, Decimal] = {}
    for partner_id, price in session.execute(
        select(SettlementTerms.partner_id, SettlementTerms.issue_price_per_point_fen)
        .where(SettlementTerms.effective_at <= now)
        .order_by(SettlementTerms.partner_id, SettlementTerms.effective_at)
    ):
        prices[partner_id] = Decimal(price)  # the latest in force wins
    for budget in session.execute(
        budgets.order_by(MarketingBudget.partner_id, MarketingBudget.id)
    ).scalars():
        used = _fen(budget.issued_points, prices.get(budget.partner_id, Decimal(0)))
        report.budgets.append(
            BudgetUse(
                codes[budget.partner_id],
                budget.period_start,
                budget.period_end,
                budget.amount_fen,
                budget.issued_points,
                used,
                budget.amount_fen - used,
                None if window is None else issued_in_period.get(budget.partner_id, 0),
            )
        )

    spendable = dict(
        session.execute(
            select(Lot.issuer_partner_id, func.sum(Lot.remaining)).group_by(Lot.issuer_partner_id)
        ).all()
    )
    held = dict(
        session.execute(
            select(Lot.issuer_partner_id, func.sum(Allocation.points))
            .join(Allocation, Allocation.lot_id == Lot.id)
            .join(Transfer, Transfer.id == Allocation.transfer_id)
            .join(Hold, Hold.id == Transfer.hold_id)
            .where(Transfer.code == "hold", Hold.status == "PENDING")
            .group_by(Lot.issuer_partner_id)
        ).all()
    )
    for partner_id in sorted(set(spendable) | set(held), key=lambda p: codes.get(p, "")):
        report.liability.append(
            Liability(
                codes[partner_id],
                int(spendable.get(partner_id) or 0),
                int(held.get(partner_id) or 0),
            )
        )

    for pattern, count in session.execute(cases.group_by(AmlCase.pattern)):
        report.open_cases.append(CaseCount(pattern, int(count)))
    return report
