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
from resolvers.context import HubContext
from resolvers.permissions import authenticated, requires
from schema.connections import connection, scoped_mutation
from schema.errors import UserError
from schema.partners import Partner, partner_by_id, partner_of


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
    EARNED_PER_MEMBER_DAY = "EARNED_PER_MEMBER_DAY"
    REDEMPTIONS_PER_MEMBER_DAY = "REDEMPTIONS_PER_MEMBER_DAY"


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
    outcome = await resolve_aml.threshold(info.context, input.pattern.value, input.soft, input.hard)
    found = outcome.value
    return SetAmlThresholdPayload(
        threshold=None
        if found is None
        else AmlThreshold(pattern=input.pattern, soft=found[0], hard=found[1]),
        user_errors=[UserError.from_data(e) for e in outcome.errors],
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
        user_errors=[UserError.from_data(e) for e in outcome.errors],
    )


set_aml_threshold_field = scoped_mutation(
    set_aml_threshold, "operator:admin", "Set a CR-08 pattern's soft and hard limits."
)
resolve_aml_case_field = scoped_mutation(
    resolve_aml_case, "operator:admin", "Mark an AML case reviewed or closed, with a note."
)
