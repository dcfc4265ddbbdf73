"""Closing a period: reconcile once more, refuse while any line is undecided, freeze."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, update
from sqlalchemy.orm import Session

from events import EventType, emit, global_id
from settlement.errors import PeriodClosed, PeriodNotReconciling, UnresolvedLines
from settlement.models import PeriodStatus, SettlementPeriod, Statement
from settlement.periods import PeriodView, columns_of, get_period, view_of
from settlement.reconciliation import reconcile, unresolved_count
from settlement.statements import StatementView, compute_statements

_statements = cast(Table, Statement.__table__)


def close_period(
    session: Session,
    period_id: int,
    now: datetime,
    progress: Callable[[str], None] = lambda step: None,
) -> PeriodView:
    """Freeze the statements and close the period for good. Reconciliation runs once more
    first, so lines posted since the last run are classified too; the close is refused
    while any unmatched line is undecided or disputed."""
    period = get_period(session, period_id, lock=True)
    if period.status == PeriodStatus.CLOSED:
        raise PeriodClosed()
    if period.status != PeriodStatus.RECONCILING:
        raise PeriodNotReconciling()
    progress("reconciling the latest lines")
    reconcile(session, period_id, now)
    open_lines = unresolved_count(session, period_id)
    if open_lines:
        raise UnresolvedLines(open_lines)
    progress("computing statements")
    computed = compute_statements(session, period.cycle, period.starts_at, period.ends_at)
    progress(f"freezing {len(computed.statements)} statements")
    if computed.statements:
        session.execute(
            insert(_statements),
            [
                {"period_id": period_id, "created_at": now, **columns_of(s)}
                for s in computed.statements
            ],
        )
    closed = session.execute(
        update(SettlementPeriod)
        .where(
            SettlementPeriod.id == period_id,
            SettlementPeriod.status == PeriodStatus.RECONCILING,
        )
        .values(
            status=PeriodStatus.CLOSED,
            closed_at=now,
            operator_revenue_fen=computed.operator_revenue_fen,
        )
        .returning(SettlementPeriod.id)
    ).first()
    if closed is None:
        raise PeriodClosed()
    session.refresh(period)
    _announce(session, period_id, computed.statements, now)
    progress("closed")
    return view_of(period)


def _announce(
    session: Session, period_id: int, statements: Sequence[StatementView], now: datetime
) -> None:
    """Each partner hears that its frozen statement is ready, then that the period closed."""
    period = global_id("SettlementPeriod", period_id)
    for statement in statements:
        emit(
            session,
            EventType.SETTLEMENT_STATEMENT_READY,
            now=now,
            payload={
                "periodId": period,
                "partnerId": global_id("Partner", statement.partner_id),
                "netFen": statement.net_fen,
            },
            partner_id=statement.partner_id,
            audience=[statement.partner_id],
        )
    emit(
        session,
        EventType.SETTLEMENT_PERIOD_CLOSED,
        now=now,
        payload={"periodId": period, "statements": len(statements)},
        audience=[statement.partner_id for statement in statements],
    )
