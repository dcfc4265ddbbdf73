"""Settlement for the operator and the partners: thin adapters to ``settlement/``. A partner
sees only its own statement, net position, provenance and reconciliation lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.db import utcnow
from partners.registry import find_partner
from resolvers.context import HubContext
from resolvers.ids import decode_id
from resolvers.outcome import Outcome, attempt, require_partner, write
from resolvers.pagination import encode_cursor, page_request
from settlement.closing import close_period
from settlement.errors import PeriodNotFound
from settlement.periods import (
    PeriodStatements,
    PeriodView,
    open_period,
    period_view,
    periods_page,
)
from settlement.reconciliation import (
    BulkResolution,
    LineView,
    Summary,
    lines_page,
    reconcile,
    resolve_line,
    resolve_lines,
    summary,
)
from settlement.reports import LineInput, Posted, post_report
from settlement.statements import MatrixEntry, Netting, StatementView, netting, provenance


@dataclass(frozen=True, slots=True)
class PeriodPage:
    edges: list[tuple[str, PeriodView]]
    has_next: bool


def _can_read(context: HubContext) -> bool:
    return context.principal.kind == "operator" or context.principal.partner_id is not None


async def periods(context: HubContext, first: int | None, after: str | None) -> PeriodPage:
    page = page_request(first, after, "periods")
    before_id = page.after_int()
    rows = await context.database.read(periods_page, limit=page.limit, before_id=before_id)
    shown = rows[: page.limit]
    return PeriodPage(
        [(encode_cursor("periods", [p.id]), p) for p in shown], len(rows) > page.limit
    )


async def period(context: HubContext, period_gid: str) -> PeriodView | None:
    period_id = decode_id(period_gid, "SettlementPeriod")
    if period_id is None or not _can_read(context):
        return None
    try:
        return await context.database.read(period_view, period_id)
    except PeriodNotFound:
        return None


async def _statements(context: HubContext, period_id: int) -> PeriodStatements:
    found: PeriodStatements | None = await context.loaders.statements.load(period_id)
    assert found is not None  # the period was read in this request
    return found


def _own(context: HubContext, statements: Sequence[StatementView]) -> list[StatementView]:
    partner_id = context.principal.partner_id
    if context.principal.kind == "operator":
        return list(statements)
    return [s for s in statements if s.partner_id == partner_id]


async def statements(context: HubContext, period_id: int) -> list[StatementView]:
    return _own(context, (await _statements(context, period_id)).statements)


async def frozen(context: HubContext, period_id: int) -> bool:
    return (await _statements(context, period_id)).frozen


async def operator_revenue(context: HubContext, period_id: int) -> int | None:
    if context.principal.kind != "operator":
        return None
    return (await _statements(context, period_id)).operator_revenue_fen


async def matrix(context: HubContext, period: PeriodView) -> list[MatrixEntry]:
    computed = await _statements(context, period.id)
    windows = computed.windows
    entries = await context.database.read(provenance, windows, period.starts_at, period.ends_at)
    own = context.principal.partner_id
    if context.principal.kind == "operator":
        return entries
    return [e for e in entries if own in (e.issuer_partner_id, e.redeemer_partner_id)]


async def netting_of(context: HubContext, period: PeriodView) -> Netting | None:
    """Netting statistics span every partner: the operator's view only."""
    if context.principal.kind != "operator":
        return None
    return netting(await matrix(context, period))


async def reconciliation_summary(context: HubContext, period_id: int) -> Summary:
    partner_id = None if context.principal.kind == "operator" else context.principal.partner_id
    return await context.database.read(summary, period_id, partner_id)


async def reconciliation_lines(
    context: HubContext, period_id: int, first: int | None, after: str | None, status: str | None
) -> tuple[list[tuple[str, LineView]], bool]:
    kind = f"recon:{period_id}"
    page = page_request(first, after, kind)
    after_id = page.after_int()
    partner_id = None if context.principal.kind == "operator" else context.principal.partner_id
    rows = await context.database.read(
        lines_page,
        period_id,
        partner_id=partner_id,
        status=status,
        limit=page.limit,
        after_id=after_id,
    )
    shown = rows[: page.limit]
    return [(encode_cursor(kind, [r.id]), r) for r in shown], len(rows) > page.limit


def _period_id(period_gid: str) -> int:
    return decode_id(period_gid, "SettlementPeriod") or -1


async def open_settlement_period(
    context: HubContext, cycle: str, starts_at: datetime, ends_at: datetime | None
) -> Outcome[PeriodView]:
    return await write(
        context,
        "openSettlementPeriod",
        open_period,
        cycle=cycle,
        starts_at=starts_at,
        ends_at=ends_at,
        now=utcnow(),
    )


async def reconcile_period(context: HubContext, period_gid: str) -> Outcome[Summary]:
    return await write(
        context, "reconcileSettlementPeriod", reconcile, _period_id(period_gid), utcnow()
    )


async def post_settlement_report(
    context: HubContext, period_gid: str, lines: list[LineInput]
) -> Outcome[Posted]:
    async def call() -> Posted:
        return await context.database.write(
            post_report,
            partner_id=require_partner(context),
            period_id=_period_id(period_gid),
            lines=lines,
            now=utcnow(),
        )

    return await attempt(context, "postSettlementReport", call)


async def resolve_reconciliation_line(
    context: HubContext, line_gid: str, resolution: str, note: str | None
) -> Outcome[LineView]:
    line_id = decode_id(line_gid, "ReconciliationLine") or -1
    return await write(
        context, "resolveReconciliationLine", resolve_line, line_id, resolution, note, utcnow()
    )


async def resolve_reconciliation_lines(
    context: HubContext,
    period_gid: str,
    status: str | None,
    partner_code: str | None,
    resolution: str,
    note: str | None,
) -> Outcome[BulkResolution]:
    async def call() -> BulkResolution:
        def run(session: Session) -> BulkResolution:
            partner_id = None if partner_code is None else find_partner(session, partner_code).id
            return resolve_lines(
                session,
                _period_id(period_gid),
                status=status,
                partner_id=partner_id,
                resolution=resolution,
                note=note,
                now=utcnow(),
            )

        return await context.database.write(run)

    return await attempt(context, "resolveReconciliationLines", call)


async def close_settlement_period(context: HubContext, period_gid: str) -> Outcome[PeriodView]:
    return await write(
        context,
        "closeSettlementPeriod",
        close_period,
        _period_id(period_gid),
        utcnow(),
    )
