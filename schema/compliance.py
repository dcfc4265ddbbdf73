"""Blocked attempts: every red-line refusal, from the hash-chained audit."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from compliance.aml import CaseView
from compliance.audit import AttemptView
from resolvers import aml as resolve_aml
from resolvers import audit as resolve
from resolvers import report as resolve_report
from resolvers.context import HubContext
from resolvers.pagination import position_page
from resolvers.permissions import authenticated, requires
from schema.connections import connection, scoped_mutation
from schema.errors import UserError, user_errors
from schema.partners import Partner, partner_by_id, partner_of
from schema.scalars import BigInt


@strawberry.type(description="A request refused by a compliance rule.")
class BlockedAttempt:
    id: strawberry.ID
    at: datetime
    rule: str = strawberry.field(description="The rule's id, e.g. CR-01.")
    operation: str = strawberry.field(description="The mutation that was refused.")
    partner_id: strawberry.Private[int | None]

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner | None:
        return await partner_of(info, self.partner_id)

    @classmethod
    def from_view(cls, view: AttemptView) -> BlockedAttempt:
        return cls(
            id=strawberry.ID(str(relay.GlobalID("BlockedAttempt", str(view.id)))),
            at=view.at,
            rule=view.rule,
            operation=view.operation,
            partner_id=view.partner_id,
        )


async def blocked_attempts(
    info: Info[HubContext, Any],
    first: int | None = None,
    after: str | None = None,
    rule: str | None = None,
    partner_code: str | None = None,
) -> relay.Connection[BlockedAttempt]:  # type: ignore[type-var]
    page = await resolve.blocked_attempts(info.context, first, after, rule, partner_code)
    edges = [(cursor, BlockedAttempt.from_view(view)) for cursor, view in page.edges]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


blocked_attempts_field = strawberry.field(
    resolver=blocked_attempts,
    extensions=authenticated(),
    description="Refusals, newest first: all of them for the operator, a partner's own otherwise.",
)


@strawberry.enum(description="What CR-08 watches.")
class AmlPattern(Enum):
    EARNED_PER_MEMBER_DAY = strawberry.enum_value(
        "EARNED_PER_MEMBER_DAY", description="Points a member earned in a UTC day."
    )
    REDEMPTIONS_PER_MEMBER_DAY = strawberry.enum_value(
        "REDEMPTIONS_PER_MEMBER_DAY", description="Redemptions of a member in a UTC day."
    )
    FAST_LIQUID_REDEMPTION = strawberry.enum_value(
        "FAST_LIQUID_REDEMPTION",
        description="Points earned within 30 minutes and spent at once on a voucher.",
    )
    DAYS_JUST_UNDER_LIMIT = strawberry.enum_value(
        "DAYS_JUST_UNDER_LIMIT",
        description="Days of the last 7 on which a member's earning ended within 10 % under "
        "the EARNED_PER_MEMBER_DAY soft limit.",
    )
    PARTNER_ISSUANCE_SPIKE = strawberry.enum_value(
        "PARTNER_ISSUANCE_SPIKE",
        description="A partner's issuance today in percent of its daily average over the "
        "last 28 days (after a week of history).",
    )


@strawberry.enum
class AmlCaseStatus(Enum):
    OPEN = "OPEN"
    REVIEWED = "REVIEWED"
    CLOSED = "CLOSED"


@strawberry.type(description="An operation over a soft AML limit, for the operator to review.")
class AmlCase:
    id: strawberry.ID
    opened_at: datetime
    pattern: AmlPattern
    observed: int = strawberry.field(description="The pattern's figure that crossed the limit.")
    status: AmlCaseStatus
    note: str | None
    member_ref: strawberry.ID = strawberry.field(description="The member's global id.")
    evidence: list[strawberry.ID] = strawberry.field(description="The transfers involved.")
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.partner_id)

    @classmethod
    def from_view(cls, view: CaseView) -> AmlCase:
        return cls(
            id=strawberry.ID(str(relay.GlobalID("AmlCase", str(view.id)))),
            opened_at=view.opened_at,
            pattern=AmlPattern(view.pattern),
            observed=view.observed,
            status=AmlCaseStatus(view.status),
            note=view.note,
            member_ref=strawberry.ID(str(relay.GlobalID("Member", str(view.member_id)))),
            evidence=[strawberry.ID(str(transfer)) for transfer in view.evidence],
            partner_id=view.partner_id,
        )


async def aml_cases(
    info: Info[HubContext, Any],
    first: int | None = None,
    after: str | None = None,
    status: AmlCaseStatus | None = None,
) -> relay.Connection[AmlCase]:  # type: ignore[type-var]
    page = await resolve_aml.cases(
        info.context, first, after, None if status is None else status.value
    )
    edges = [(cursor, AmlCase.from_view(view)) for cursor, view in page.edges]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


aml_cases_field = strawberry.field(
    resolver=aml_cases,
    extensions=requires("operator:admin"),
    description="AML cases, newest first (CR-08).",
)


@strawberry.input
class SetAmlThresholdInput:
    pattern: AmlPattern
    soft: int = strawberry.field(description="Above this a case opens.")
    hard: int = strawberry.field(description="Above this the operation is refused.")


@strawberry.type
class AmlThreshold:
    pattern: AmlPattern
    soft: int
    hard: int


@strawberry.type
class SetAmlThresholdPayload:
    threshold: AmlThreshold | None
    user_errors: list[UserError]


async def set_aml_threshold(
    info: Info[HubContext, Any], input: SetAmlThresholdInput
) -> SetAmlThresholdPayload:
    outcome = await resolve_aml.threshold(info.context, input.pattern.name, input.soft, input.hard)
    found = outcome.value
    return SetAmlThresholdPayload(
        threshold=None
        if found is None
        else AmlThreshold(pattern=input.pattern, soft=found[0], hard=found[1]),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class ResolveAmlCaseInput:
    case_id: strawberry.ID
    status: AmlCaseStatus
    note: str | None = None


@strawberry.type
class ResolveAmlCasePayload:
    case: AmlCase | None
    user_errors: list[UserError]


async def resolve_aml_case(
    info: Info[HubContext, Any], input: ResolveAmlCaseInput
) -> ResolveAmlCasePayload:
    outcome = await resolve_aml.resolve(
        info.context, str(input.case_id), input.status.value, input.note
    )
    return ResolveAmlCasePayload(
        case=None if outcome.value is None else AmlCase.from_view(outcome.value),
        user_errors=user_errors(outcome),
    )


set_aml_threshold_field = scoped_mutation(
    set_aml_threshold, "operator:admin", "Set a CR-08 pattern's soft and hard limits."
)
resolve_aml_case_field = scoped_mutation(
    resolve_aml_case, "operator:admin", "Mark an AML case reviewed or closed, with a note."
)


@strawberry.type
class RefusalCount:
    rule: str
    partner_code: str | None
    count: int


@strawberry.type
class BudgetUse:
    partner_code: str
    period_start: datetime
    period_end: datetime
    amount_fen: int
    issued_points: int = strawberry.field(
        deprecation_reason="Use issued: a total across members can exceed 2^31."
    )
    used_fen: int = strawberry.field(
        description="Issued points x issue price, in fen rounded half-even."
    )
    remaining_fen: int
    issued_in_period_points: int | None = strawberry.field(
        default=None,
        description="For a period's report: the points issued in the period.",
        deprecation_reason="Use issuedInPeriod: a total across members can exceed 2^31.",
    )

    @strawberry.field(description="Points issued under this budget.")
    def issued(self) -> BigInt:
        return BigInt(self.issued_points)

    @strawberry.field(description="For a period's report: the points issued in the period.")
    def issued_in_period(self) -> BigInt | None:
        return (
            None if self.issued_in_period_points is None else BigInt(self.issued_in_period_points)
        )


@strawberry.type
class Liability:
    partner_code: str = strawberry.field(description="The issuing partner.")
    spendable_points: int = strawberry.field(
        deprecation_reason="Use spendable: a total across members can exceed 2^31."
    )
    held_points: int = strawberry.field(
        deprecation_reason="Use held: a total across members can exceed 2^31."
    )

    @strawberry.field(description="Points of this issuer members can spend: the liability.")
    def spendable(self) -> BigInt:
        return BigInt(self.spendable_points)

    @strawberry.field(description="Points of this issuer reserved by pending redemptions.")
    def held(self) -> BigInt:
        return BigInt(self.held_points)


@strawberry.type
class CaseCount:
    pattern: AmlPattern
    open: int


@strawberry.type(
    description="Refusals, budgets, liability and open AML cases, as of now or for a "
    "settlement period (refusals and cases of the period, budgets overlapping it; the "
    "liability is always as of now)."
)
class ComplianceReport:
    as_of: datetime
    period_start: datetime | None = strawberry.field(
        default=None, description="The settlement period's window, for a period's report."
    )
    period_end: datetime | None = None
    report: strawberry.Private[Any] = None

    @strawberry.field(description="Blocked attempts by rule and partner.")
    def refusals(
        self, first: int | None = None, after: str | None = None
    ) -> relay.Connection[RefusalCount]:  # type: ignore[type-var]
        rows = [
            RefusalCount(rule=r.rule, partner_code=r.partner_code, count=r.count)
            for r in self.report.refusals
        ]
        edges, has_next = position_page(rows, "report:refusals", first, after)
        return connection(edges, has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Each current budget against the points issued from it.")
    def budgets(
        self, first: int | None = None, after: str | None = None
    ) -> relay.Connection[BudgetUse]:  # type: ignore[type-var]
        rows = [
            BudgetUse(
                partner_code=b.partner_code,
                period_start=b.period_start,
                period_end=b.period_end,
                amount_fen=b.amount_fen,
                issued_points=b.issued_points,
                used_fen=b.used_fen,
                remaining_fen=b.remaining_fen,
                issued_in_period_points=b.issued_in_period_points,
            )
            for b in self.report.budgets
        ]
        edges, has_next = position_page(rows, "report:budgets", first, after)
        return connection(edges, has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Outstanding points by issuing partner.")
    def liability(
        self, first: int | None = None, after: str | None = None
    ) -> relay.Connection[Liability]:  # type: ignore[type-var]
        rows = [
            Liability(
                partner_code=li.partner_code,
                spendable_points=li.spendable_points,
                held_points=li.held_points,
            )
            for li in self.report.liability
        ]
        edges, has_next = position_page(rows, "report:liability", first, after)
        return connection(edges, has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Open AML cases by pattern (one row per pattern).")
    def open_cases(self) -> list[CaseCount]:
        return [
            CaseCount(pattern=AmlPattern(c.pattern), open=c.open) for c in self.report.open_cases
        ]


async def compliance_report(
    info: Info[HubContext, Any], period_id: strawberry.ID | None = None
) -> ComplianceReport | None:
    found = await resolve_report.report(info.context, None if period_id is None else str(period_id))
    if found is None:
        return None
    return ComplianceReport(
        as_of=found.as_of,
        period_start=found.period_start,
        period_end=found.period_end,
        report=found,
    )


compliance_report_field = strawberry.field(
    resolver=compliance_report,
    extensions=requires("operator:admin"),
    description="The operator's compliance report as of now, or for a settlement period; "
    "null for an unknown period.",
)
