"""The operator's compliance report, section by section in pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from partners.compliance_report import ComplianceReport, compliance_report
from resolvers.context import HubContext
from resolvers.pagination import bad_input, encode_cursor, page_request
from resolvers.settlement import period as settlement_period

T = TypeVar("T")


async def report(context: HubContext, period_gid: str | None) -> ComplianceReport | None:
    """As of now, or for one settlement period's window; null for an unknown period."""
    if period_gid is None:
        return await context.database.read(compliance_report, context.started_at)
    period = await settlement_period(context, period_gid)
    if period is None:
        return None
    return await context.database.read(
        compliance_report, context.started_at, (period.starts_at, period.ends_at)
    )


def section_page(
    rows: Sequence[T], section: str, first: int | None, after: str | None
) -> tuple[list[tuple[str, T]], bool]:
    """A page of one report section. The report is computed whole (its rows number the
    partners times the rules) in a fixed order, so a position is a stable cursor."""
    page = page_request(first, after, f"report:{section}")
    start = 0 if page.after is None else int(page.after[0]) + 1
    if start < 0:
        raise bad_input("after is not a cursor of this list", "after")
    shown = rows[start : start + page.limit]
    edges = [(encode_cursor(f"report:{section}", [start + n]), row) for n, row in enumerate(shown)]
    return edges, start + page.limit < len(rows)
