"""Settlement periods, statements, netting, partner reports and reconciliation."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from resolvers import settlement as resolve
from resolvers.context import HubContext
from resolvers.outcome import Outcome
from resolvers.pagination import position_page
from resolvers.permissions import requires
from schema.connections import connection, scoped_mutation
from schema.errors import UserError, user_errors
from schema.operator import SettlementCycle
from schema.partners import Partner, partner_by_id
from schema.scalars import BigInt
from settlement.periods import PeriodView
from settlement.reconciliation import LineView, Summary
from settlement.reports import LineInput
from settlement.statements import MatrixEntry, StatementView


def _gid(type_name: str, value: int) -> strawberry.ID:
    return strawberry.ID(relay.to_base64(type_name, value))


@strawberry.enum(description="OPEN → RECONCILING → CLOSED.")
class SettlementPeriodStatus(Enum):
    OPEN = "OPEN"
    RECONCILING = "RECONCILING"
    CLOSED = "CLOSED"


@strawberry.enum
class SettlementLineKind(Enum):
    AWARD = "AWARD"
    REVERSAL = "REVERSAL"
    REDEMPTION = "REDEMPTION"
    REFUND = "REFUND"
    COMPENSATION = "COMPENSATION"


@strawberry.enum
class ReconciliationStatus(Enum):
    MATCHED = "MATCHED"
    MISSING_IN_HUB = "MISSING_IN_HUB"
    MISSING_IN_PARTNER = "MISSING_IN_PARTNER"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"


@strawberry.enum
class ReconciliationResolution(Enum):
    ACCEPT_HUB = strawberry.enum_value("ACCEPT_HUB", description="The hub's figure stands.")
    ADJUST = strawberry.enum_value(
        "ADJUST",
        description="The partner's figure is accepted; the difference in points is posted "
        "as an adjust transfer that settles in the next period.",
    )
    DISPUTE = strawberry.enum_value(
        "DISPUTE", description="Recorded with a note; blocks the close until resolved."
    )


@strawberry.enum
class NetDirection(Enum):
    PAYS_OPERATOR = "PAYS_OPERATOR"
    PAID_BY_OPERATOR = "PAID_BY_OPERATOR"
    SETTLED = "SETTLED"


@strawberry.type(description="One partner's statement for a period, in integer fen.")
class SettlementStatement:
    partner_id: strawberry.Private[int]
    issued_points: BigInt
    issue_fen: BigInt = strawberry.field(description="Points issued x issue price: payable.")
    reversed_points: BigInt
    reversal_fen: BigInt = strawberry.field(description="Clawed-back points: paid back.")
    compensation_points: BigInt
    compensation_fen: BigInt = strawberry.field(description="Compensation points: payable.")
    redeemed_points: BigInt
    reimbursement_fen: BigInt = strawberry.field(description="Points honoured: receivable.")
    refunded_points: BigInt
    refund_fen: BigInt = strawberry.field(description="Refunded redemptions: paid back.")
    adjustment_fen: BigInt = strawberry.field(description="Reconciliation adjustments.")
    fee_fen: BigInt = strawberry.field(description="The operator's fee on reimbursements.")
    net_fen: BigInt = strawberry.field(
        description="Positive: the operator pays the partner; negative: the partner pays."
    )

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.partner_id)

    @classmethod
    def from_view(cls, s: StatementView) -> SettlementStatement:
        return cls(
            partner_id=s.partner_id,
            issued_points=s.issued_points,
            issue_fen=s.issue_fen,
            reversed_points=s.reversed_points,
            reversal_fen=s.reversal_fen,
            compensation_points=s.compensation_points,
            compensation_fen=s.compensation_fen,
            redeemed_points=s.redeemed_points,
            reimbursement_fen=s.reimbursement_fen,
            refunded_points=s.refunded_points,
            refund_fen=s.refund_fen,
            adjustment_fen=s.adjustment_fen,
            fee_fen=s.fee_fen,
            net_fen=s.net_fen,
        )


@strawberry.type(description="The one payment a partner makes to, or gets from, the operator.")
class NetPosition:
    partner_id: strawberry.Private[int]
    net_fen: BigInt
    direction: NetDirection

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.partner_id)


@strawberry.type(description="Points issued by one partner and spent at another.")
class ProvenanceEntry:
    issuer_id: strawberry.Private[int]
    redeemer_id: strawberry.Private[int]
    points: BigInt
    amount_fen: BigInt = strawberry.field(
        description="At the redeeming partner's reimbursement price."
    )

    @strawberry.field
    async def issuer(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.issuer_id)

    @strawberry.field
    async def redeemer(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.redeemer_id)

    @classmethod
    def from_entry(cls, e: MatrixEntry) -> ProvenanceEntry:
        return cls(
            issuer_id=e.issuer_partner_id,
            redeemer_id=e.redeemer_partner_id,
            points=e.points,
            amount_fen=e.amount_fen,
        )


@strawberry.type(description="What the central counterparty saves, clearing-house style.")
class NettingStatistics:
    gross_fen: BigInt = strawberry.field(
        description="What partners would pay each other pair by pair for cross-brand spending."
    )
    bilateral_net_fen: BigInt = strawberry.field(description="The same, netted within each pair.")
    multilateral_net_fen: BigInt = strawberry.field(
        description="What moves when each partner settles once with the operator."
    )
    ratio: str | None = strawberry.field(
        description="1 - multilateral / gross, a decimal string; null without flows."
    )


@strawberry.type
class ReconciliationSummary:
    matched: int
    missing_in_hub: int
    missing_in_partner: int
    amount_mismatch: int
    unresolved: int = strawberry.field(
        description="Unmatched lines without a resolution, or disputed (operator only)."
    )

    @classmethod
    def from_summary(cls, s: Summary) -> ReconciliationSummary:
        return cls(
            matched=s.matched,
            missing_in_hub=s.missing_in_hub,
            missing_in_partner=s.missing_in_partner,
            amount_mismatch=s.amount_mismatch,
            unresolved=s.unresolved,
        )


@strawberry.type(description="A partner's line and the hub's, side by side.")
class ReconciliationLine:
    id: strawberry.ID
    kind: SettlementLineKind
    reference: str
    hub_points: BigInt | None
    hub_fen: BigInt | None
    partner_points: BigInt | None
    partner_fen: BigInt | None
    status: ReconciliationStatus
    resolution: ReconciliationResolution | None
    note: str | None
    adjust_transfer_id: strawberry.ID | None
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.partner_id)

    @classmethod
    def from_view(cls, line: LineView) -> ReconciliationLine:
        return cls(
            id=_gid("ReconciliationLine", line.id),
            kind=SettlementLineKind(line.kind),
            reference=line.reference,
            hub_points=line.hub_points,
            hub_fen=line.hub_fen,
            partner_points=line.partner_points,
            partner_fen=line.partner_fen,
            status=ReconciliationStatus(line.status),
            resolution=None
            if line.resolution is None
            else ReconciliationResolution[line.resolution],
            note=line.note,
            adjust_transfer_id=None
            if line.adjust_transfer_id is None
            else strawberry.ID(str(line.adjust_transfer_id)),
            partner_id=line.partner_id,
        )


@strawberry.type
class Reconciliation:
    period_id: strawberry.Private[int]

    @strawberry.field
    async def summary(self, info: Info[HubContext, Any]) -> ReconciliationSummary:
        found = await resolve.reconciliation_summary(info.context, self.period_id)
        return ReconciliationSummary.from_summary(found)

    @strawberry.field(description="Lines in reconciliation order; a partner sees its own.")
    async def lines(
        self,
        info: Info[HubContext, Any],
        first: int | None = None,
        after: str | None = None,
        status: ReconciliationStatus | None = None,
    ) -> relay.Connection[ReconciliationLine]:  # type: ignore[type-var]
        edges, has_next = await resolve.reconciliation_lines(
            info.context, self.period_id, first, after, None if status is None else status.value
        )
        built = [(c, ReconciliationLine.from_view(v)) for c, v in edges]
        return connection(built, has_next, after)  # type: ignore[no-any-return]


@strawberry.type(description="A settlement period: [startsAt, endsAt) in UTC for one cycle.")
class SettlementPeriod:
    id: strawberry.ID
    cycle: SettlementCycle
    starts_at: datetime
    ends_at: datetime
    status: SettlementPeriodStatus
    opened_at: datetime
    reconciled_at: datetime | None
    closed_at: datetime | None
    view: strawberry.Private[PeriodView]

    @classmethod
    def from_view(cls, view: PeriodView) -> SettlementPeriod:
        return cls(
            id=_gid("SettlementPeriod", view.id),
            cycle=SettlementCycle[view.cycle],
            starts_at=view.starts_at,
            ends_at=view.ends_at,
            status=SettlementPeriodStatus(view.status),
            opened_at=view.opened_at,
            reconciled_at=view.reconciled_at,
            closed_at=view.closed_at,
            view=view,
        )

    @strawberry.field(description="True once closed: the statements are frozen for good.")
    async def frozen(self, info: Info[HubContext, Any]) -> bool:
        return await resolve.frozen(info.context, self.view.id)

    @strawberry.field(description="One per partner; as of now until the period closes.")
    async def statements(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[SettlementStatement]:  # type: ignore[type-var]
        rows = await resolve.statements(info.context, self.view.id)
        edges, has_next = position_page(rows, f"statements:{self.view.id}", first, after)
        built = [(c, SettlementStatement.from_view(s)) for c, s in edges]
        return connection(built, has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Multilateral netting: one payment per partner.")
    async def net_positions(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[NetPosition]:  # type: ignore[type-var]
        rows = await resolve.statements(info.context, self.view.id)
        edges, has_next = position_page(rows, f"nets:{self.view.id}", first, after)
        built = [(c, _position(s)) for c, s in edges]
        return connection(built, has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(
        description="The operator's revenue: minus the sum of the nets (operator only)."
    )
    async def operator_revenue_fen(self, info: Info[HubContext, Any]) -> BigInt | None:
        return await resolve.operator_revenue(info.context, self.view.id)

    @strawberry.field(description="Whose points were spent where (a partner: its own pairs).")
    async def provenance(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[ProvenanceEntry]:  # type: ignore[type-var]
        rows = await resolve.matrix(info.context, self.view)
        edges, has_next = position_page(rows, f"provenance:{self.view.id}", first, after)
        built = [(c, ProvenanceEntry.from_entry(e)) for c, e in edges]
        return connection(built, has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Netting statistics (operator only; null for partners).")
    async def netting(self, info: Info[HubContext, Any]) -> NettingStatistics | None:
        found = await resolve.netting_of(info.context, self.view)
        if found is None:
            return None
        return NettingStatistics(
            gross_fen=found.gross_fen,
            bilateral_net_fen=found.bilateral_net_fen,
            multilateral_net_fen=found.multilateral_net_fen,
            ratio=None if found.ratio is None else str(found.ratio),
        )

    @strawberry.field
    def reconciliation(self) -> Reconciliation:
        return Reconciliation(period_id=self.view.id)


def _position(s: StatementView) -> NetPosition:
    direction = (
        NetDirection.PAID_BY_OPERATOR
        if s.net_fen > 0
        else NetDirection.PAYS_OPERATOR
        if s.net_fen < 0
        else NetDirection.SETTLED
    )
    return NetPosition(partner_id=s.partner_id, net_fen=s.net_fen, direction=direction)


async def settlement_periods(
    info: Info[HubContext, Any], first: int | None = None, after: str | None = None
) -> relay.Connection[SettlementPeriod]:  # type: ignore[type-var]
    page = await resolve.periods(info.context, first, after)
    edges = [(c, SettlementPeriod.from_view(v)) for c, v in page.edges]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


async def settlement_period(
    info: Info[HubContext, Any], id: strawberry.ID
) -> SettlementPeriod | None:
    found = await resolve.period(info.context, str(id))
    return None if found is None else SettlementPeriod.from_view(found)


settlement_periods_field = strawberry.field(
    resolver=settlement_periods,
    extensions=requires("settlement:read", "operator:admin"),
    description="Settlement periods, newest first.",
)
settlement_period_field = strawberry.field(
    resolver=settlement_period,
    extensions=requires("settlement:read", "operator:admin"),
    description="One settlement period; a partner sees only its own statement and lines.",
)


@strawberry.type
class SettlementPeriodPayload:
    period: SettlementPeriod | None
    user_errors: list[UserError]


def _period_payload(outcome: Outcome[PeriodView]) -> SettlementPeriodPayload:
    return SettlementPeriodPayload(
        period=None if outcome.value is None else SettlementPeriod.from_view(outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class OpenSettlementPeriodInput:
    cycle: SettlementCycle = strawberry.field(description="The partners on this cycle settle.")
    starts_at: datetime
    ends_at: datetime | None = strawberry.field(
        default=None, description="Default: one cycle after startsAt (a day, week or month)."
    )


async def open_settlement_period(
    info: Info[HubContext, Any], input: OpenSettlementPeriodInput
) -> SettlementPeriodPayload:
    return _period_payload(
        await resolve.open_settlement_period(
            info.context, input.cycle.name, input.starts_at, input.ends_at
        )
    )


@strawberry.input
class SettlementPeriodInput:
    period_id: strawberry.ID


@strawberry.type
class ReconcileSettlementPeriodPayload:
    summary: ReconciliationSummary | None
    user_errors: list[UserError]


async def reconcile_settlement_period(
    info: Info[HubContext, Any], input: SettlementPeriodInput
) -> ReconcileSettlementPeriodPayload:
    outcome = await resolve.reconcile_period(info.context, str(input.period_id))
    return ReconcileSettlementPeriodPayload(
        summary=None
        if outcome.value is None
        else ReconciliationSummary.from_summary(outcome.value),
        user_errors=user_errors(outcome),
    )


async def close_settlement_period(
    info: Info[HubContext, Any], input: SettlementPeriodInput
) -> SettlementPeriodPayload:
    return _period_payload(
        await resolve.close_settlement_period(info.context, str(input.period_id))
    )


@strawberry.input
class SettlementLineInput:
    kind: SettlementLineKind
    reference: str = strawberry.field(
        description="The order reference (AWARD, REVERSAL), or the Redemption id the hub "
        "returned (REDEMPTION, REFUND, COMPENSATION)."
    )
    points: int
    amount_fen: int


@strawberry.input
class PostSettlementReportInput:
    period_id: strawberry.ID
    lines: list[SettlementLineInput] = strawberry.field(description="1 to 5,000 per call.")


@strawberry.type
class PostSettlementReportPayload:
    accepted: int | None = strawberry.field(description="Lines recorded by this call.")
    already_posted: int | None = strawberry.field(
        description="Lines posted before with the same figures (idempotent)."
    )
    user_errors: list[UserError]


async def post_settlement_report(
    info: Info[HubContext, Any], input: PostSettlementReportInput
) -> PostSettlementReportPayload:
    lines = [
        LineInput(line.kind.value, line.reference, line.points, line.amount_fen)
        for line in input.lines
    ]
    outcome = await resolve.post_settlement_report(info.context, str(input.period_id), lines)
    posted = outcome.value
    return PostSettlementReportPayload(
        accepted=None if posted is None else posted.accepted,
        already_posted=None if posted is None else posted.already_posted,
        user_errors=user_errors(outcome),
    )


@strawberry.input
class ResolveReconciliationLineInput:
    line_id: strawberry.ID
    resolution: ReconciliationResolution
    note: str | None = None


@strawberry.type
class ResolveReconciliationLinePayload:
    line: ReconciliationLine | None
    user_errors: list[UserError]


async def resolve_reconciliation_line(
    info: Info[HubContext, Any], input: ResolveReconciliationLineInput
) -> ResolveReconciliationLinePayload:
    outcome = await resolve.resolve_reconciliation_line(
        info.context, str(input.line_id), input.resolution.name, input.note
    )
    return ResolveReconciliationLinePayload(
        line=None if outcome.value is None else ReconciliationLine.from_view(outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class ResolveReconciliationLinesInput:
    period_id: strawberry.ID
    resolution: ReconciliationResolution
    status: ReconciliationStatus | None = strawberry.field(
        default=None, description="Only lines of this status."
    )
    partner_code: str | None = strawberry.field(default=None, description="Only this partner's.")
    note: str | None = None


@strawberry.type
class ResolveReconciliationLinesPayload:
    resolved: int | None = strawberry.field(description="Lines resolved by this call.")
    remaining: int | None = strawberry.field(
        description="Matching lines still unresolved (over 5,000 per call): call again."
    )
    user_errors: list[UserError]


async def resolve_reconciliation_lines(
    info: Info[HubContext, Any], input: ResolveReconciliationLinesInput
) -> ResolveReconciliationLinesPayload:
    outcome = await resolve.resolve_reconciliation_lines(
        info.context,
        str(input.period_id),
        None if input.status is None else input.status.value,
        input.partner_code,
        input.resolution.name,
        input.note,
    )
    done = outcome.value
    return ResolveReconciliationLinesPayload(
        resolved=None if done is None else done.resolved,
        remaining=None if done is None else done.remaining,
        user_errors=user_errors(outcome),
    )


open_settlement_period_field = scoped_mutation(
    open_settlement_period, "operator:admin", "Open a settlement period for one cycle."
)
reconcile_settlement_period_field = scoped_mutation(
    reconcile_settlement_period,
    "operator:admin",
    "After the period's end: classify every line, the hub's and the partners'. Run it again "
    "after partners post more lines; resolutions are kept.",
)
post_settlement_report_field = scoped_mutation(
    post_settlement_report,
    "settlement:write",
    "Post your lines for a period: up to 5,000 per call, idempotent per kind and reference.",
)
resolve_reconciliation_line_field = scoped_mutation(
    resolve_reconciliation_line, "operator:admin", "Resolve one unmatched line."
)
resolve_reconciliation_lines_field = scoped_mutation(
    resolve_reconciliation_lines,
    "operator:admin",
    "Resolve up to 5,000 of a period's undecided lines the same way (filter by status and "
    "partner); a disputed line is settled on its own with resolveReconciliationLine.",
)
close_settlement_period_field = scoped_mutation(
    close_settlement_period,
    "operator:admin",
    "Freeze the statements and close the period for good; refused while lines are open.",
)
