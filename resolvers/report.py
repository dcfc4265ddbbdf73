"""The operator's compliance report, section by section in pages."""

from __future__ import annotations

from typing import TypeVar

from partners.compliance_report import ComplianceReport, compliance_report
from resolvers.context import HubContext
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
