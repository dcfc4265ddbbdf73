"""Settlement periods: OPEN → RECONCILING → CLOSED. Closing freezes the statements."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from partners.models import SettlementCycle
from settlement.errors import (
    PeriodClosed,
    PeriodNotEnded,
    PeriodNotFound,
    SettlementError,
)
from settlement.models import PeriodStatus, SettlementPeriod, Statement
from settlement.statements import StatementView, Window, compute_statements, price_windows

MAX_LENGTH = {
    SettlementCycle.DAILY: timedelta(days=1),
    SettlementCycle.WEEKLY: timedelta(days=7),
    SettlementCycle.MONTHLY: timedelta(days=31),
}


def cycle_end(cycle: str, starts_at: datetime) -> datetime:
    """The end of one cycle from ``starts_at``: a day, a week, or a calendar month."""
    if cycle == SettlementCycle.DAILY:
        return starts_at + timedelta(days=1)
    if cycle == SettlementCycle.WEEKLY:
        return starts_at + timedelta(days=7)
    year, month = (starts_at.year + starts_at.month // 12, starts_at.month % 12 + 1)
    day = min(starts_at.day, calendar.monthrange(year, month)[1])
    return starts_at.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class PeriodView:
    id: int
    cycle: str
    starts_at: datetime
    ends_at: datetime
    status: str
    opened_at: datetime
    reconciled_at: datetime | None
    closed_at: datetime | None
    operator_revenue_fen: int | None


def view_of(period: SettlementPeriod) -> PeriodView:
    return PeriodView(
        period.id,
        period.cycle,
        period.starts_at,
        period.ends_at,
        period.status,
        period.opened_at,
        period.reconciled_at,
        period.closed_at,
        period.operator_revenue_fen,
    )


def open_period(
    session: Session,
    *,
    cycle: str,
    starts_at: datetime,
    ends_at: datetime | None,
    now: datetime,
) -> PeriodView:
    """Open ``[starts_at, ends_at)`` (default: one cycle) for the partners on ``cycle``.
    Periods of one cycle never overlap, and none is longer than its cycle."""
    if cycle not in SettlementCycle.__members__:
        raise SettlementError("cycle must be DAILY, WEEKLY or MONTHLY", ["cycle"])
    if starts_at.tzinfo is None or (ends_at is not None and ends_at.tzinfo is None):
        raise SettlementError("times need a UTC offset", ["startsAt"])
    end = ends_at if ends_at is not None else cycle_end(cycle, starts_at)
    if end <= starts_at:
        raise SettlementError("endsAt must be after startsAt", ["endsAt"])
    if end - starts_at > MAX_LENGTH[SettlementCycle(cycle)]:
        raise SettlementError(f"a {cycle} period is at most one cycle long", ["endsAt"])
    overlapping = session.execute(
        select(SettlementPeriod.id).where(
            SettlementPeriod.cycle == cycle,
            SettlementPeriod.starts_at < end,
            SettlementPeriod.ends_at > starts_at,
        )
    ).first()
    if overlapping is not None:
        raise SettlementError(
            f"it overlaps period {overlapping[0]} of the same cycle", ["startsAt"]
        )
    period = SettlementPeriod(
        cycle=cycle, starts_at=starts_at, ends_at=end, status=PeriodStatus.OPEN, opened_at=now
    )
    session.add(period)
    session.flush()
    return view_of(period)


def get_period(session: Session, period_id: int, *, lock: bool = False) -> SettlementPeriod:
    """The period; with ``lock`` its row is locked on PostgreSQL (SQLite's writer holds
    the whole database), so posting and closing cannot interleave."""
    query = select(SettlementPeriod).where(SettlementPeriod.id == period_id)
    if lock:
        query = query.with_for_update()
    period = session.execute(query).scalar_one_or_none()
    if period is None:
        raise PeriodNotFound()
    return period


def period_view(session: Session, period_id: int) -> PeriodView:
    return view_of(get_period(session, period_id))


def periods_page(session: Session, *, limit: int, before_id: int | None) -> list[PeriodView]:
    query = select(SettlementPeriod).order_by(SettlementPeriod.id.desc()).limit(limit + 1)
    if before_id is not None:
        query = query.where(SettlementPeriod.id < before_id)
    return [view_of(p) for p in session.execute(query).scalars()]


def begin_reconciliation(session: Session, period: SettlementPeriod, now: datetime) -> None:
    if period.status == PeriodStatus.CLOSED:
        raise PeriodClosed()
    if period.ends_at > now:
        raise PeriodNotEnded()
    period.status = PeriodStatus.RECONCILING
    period.reconciled_at = now
    session.flush()


def columns_of(statement: StatementView) -> dict[str, int]:
    return {
        "partner_id": statement.partner_id,
        "issued_points": statement.issued_points,
        "issue_fen": statement.issue_fen,
        "reversed_points": statement.reversed_points,
        "reversal_fen": statement.reversal_fen,
        "compensation_points": statement.compensation_points,
        "compensation_fen": statement.compensation_fen,
        "redeemed_points": statement.redeemed_points,
        "reimbursement_fen": statement.reimbursement_fen,
        "refunded_points": statement.refunded_points,
        "refund_fen": statement.refund_fen,
        "adjustment_fen": statement.adjustment_fen,
        "fee_fen": statement.fee_fen,
        "net_fen": statement.net_fen,
    }


def frozen_statements(session: Session, period_id: int) -> list[StatementView]:
    rows = session.execute(
        select(Statement).where(Statement.period_id == period_id).order_by(Statement.partner_id)
    ).scalars()
    return [
        StatementView(
            r.partner_id,
            r.issued_points,
            r.issue_fen,
            r.reversed_points,
            r.reversal_fen,
            r.compensation_points,
            r.compensation_fen,
            r.redeemed_points,
            r.reimbursement_fen,
            r.refunded_points,
            r.refund_fen,
            r.adjustment_fen,
            r.fee_fen,
            r.net_fen,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PeriodStatements:
    period: PeriodView
    statements: list[StatementView]
    operator_revenue_fen: int
    frozen: bool
    windows: list[Window]


def statements_of(session: Session, period_id: int) -> PeriodStatements:
    """A closed period's frozen statements; an open one's computed as of now."""
    period = get_period(session, period_id)
    if period.status == PeriodStatus.CLOSED:
        frozen = frozen_statements(session, period_id)
        revenue = period.operator_revenue_fen
        assert revenue is not None
        windows = price_windows(session, period.cycle, period.starts_at, period.ends_at)
        return PeriodStatements(view_of(period), frozen, revenue, True, windows)
    computed = compute_statements(session, period.cycle, period.starts_at, period.ends_at)
    return PeriodStatements(
        view_of(period),
        computed.statements,
        computed.operator_revenue_fen,
        False,
        computed.windows,
    )


def statements_for(session: Session, period_ids: Sequence[int]) -> dict[int, PeriodStatements]:
    """For the per-request loader: each period's statements, computed once per request."""
    found = {}
    for period_id in period_ids:
        try:
            found[period_id] = statements_of(session, period_id)
        except PeriodNotFound:
            continue
    return found
