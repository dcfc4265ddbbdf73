"""The loyalty programme as published: the tier schedule (anyone reads it, the operator
publishes it ahead), and members' tiers with the path to the next one (docs/programme.md)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from members.benefits import CreditScheduleView
from members.perks import PerkView
from members.tiers import (
    DEFAULT_MAX_FACTOR,
    Progress,
    ScheduleView,
    Standing,
    TierHistoryEntry,
    TierInput,
    TierView,
)
from resolvers import programme as resolve
from resolvers.context import HubContext
from schema.connections import connection, scoped_mutation
from schema.credit_level import CreditLevel
from schema.errors import UserError, user_errors


@strawberry.type(description="One tier of the alliance's published tier schedule.")
class Tier:
    code: str
    name: str
    rank: int = strawberry.field(description="0 for the base tier, then upwards.")
    qualifying_points: int = strawberry.field(
        description="Points EARNED (not the balance) over the rolling 365 days that reach "
        "this tier, net of refunded orders."
    )
    qualifying_orders: int = strawberry.field(
        description="Orders that earned points in those 365 days, also needed (0: none)."
    )
    earn_multiplier: str = strawberry.field(
        description="Multiplies every line a member of this tier earns (an exact decimal)."
    )
    perks: list[str] = strawberry.field(
        description="What the tier offers, in words; partners publish the claimable perks."
    )

    @classmethod
    def from_view(cls, view: TierView) -> Tier:
        return cls(
            code=view.code,
            name=view.name,
            rank=view.rank,
            qualifying_points=view.qualifying_points,
            qualifying_orders=view.qualifying_orders,
            earn_multiplier=str(view.earn_multiplier),
            perks=list(view.perks),
        )


@strawberry.type(
    description="A version of the tier schedule: in force from effectiveAt until the next "
    "version's. Version 0 is the alliance's default (one tier) until one is published."
)
class TierSchedule:
    version: int
    effective_at: datetime
    max_combined_factor: str = strawberry.field(
        description="The most the programme's multipliers together (tier x member benefits "
        "x basket) multiply a line by: the operator's cap."
    )
    tiers: list[Tier] = strawberry.field(description="Base tier first (at most 10).")

    @classmethod
    def from_view(cls, view: ScheduleView) -> TierSchedule:
        return cls(
            version=view.version,
            effective_at=view.effective_at,
            max_combined_factor=str(view.max_combined_factor),
            tiers=[Tier.from_view(tier) for tier in view.tiers],
        )


@strawberry.type(description="The tier schedule in force and the versions published to follow.")
class TierSchedules:
    in_force: TierSchedule

    @strawberry.field(description="Versions taking effect later, soonest first (CR-07).")
    async def upcoming(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[TierSchedule]:  # type: ignore[type-var]
        edges, has_next = await resolve.upcoming_schedules(info.context, first, after)
        return connection(  # type: ignore[no-any-return]
            [(cursor, TierSchedule.from_view(view)) for cursor, view in edges], has_next, after
        )


async def tier_schedule(info: Info[HubContext, Any]) -> TierSchedules:
    found = await resolve.tier_schedules(info.context)
    return TierSchedules(in_force=TierSchedule.from_view(found.in_force))


tier_schedule_field = strawberry.field(
    resolver=tier_schedule,
    description="The alliance's tier schedule: in force now, and what follows. Anyone may read it.",
)


@strawberry.type(description="The tier a member holds under the schedule in force.")
class MemberTier:
    code: str
    name: str
    rank: int
    earn_multiplier: str
    since: datetime = strawberry.field(
        description="When the member reached it (for the base tier: when they joined)."
    )
    schedule_version: int

    @classmethod
    def from_standing(cls, found: Standing) -> MemberTier:
        return cls(
            code=found.tier.code,
            name=found.tier.name,
            rank=found.tier.rank,
            earn_multiplier=str(found.tier.earn_multiplier),
            since=found.since,
            schedule_version=found.schedule.version,
        )


def _explain(found: Progress) -> str:
    held = found.standing.tier
    text = (
        f"You hold {held.name} ({held.code}). In the 365 days to "
        f"{found.window_end.date().isoformat()} you earned {found.qualifying_points} points "
        f"in {found.qualifying_orders} orders."
    )
    following = found.next_tier
    if following is None:
        text += " This is the highest tier."
    else:
        needs = [f"{found.points_to_next} more points"] if found.points_to_next else []
        if found.orders_to_next:
            needs.append(f"{found.orders_to_next} more orders")
        text += (
            f" {following.name} ({following.code}) needs {following.qualifying_points} points"
            + (f" and {following.qualifying_orders} orders" if following.qualifying_orders else "")
            + " earned in 365 days: "
            + (" and ".join(needs) if needs else "reached with your next award")
            + f"; it earns x{following.earn_multiplier}."
        )
    if found.held_until is not None:
        text += (
            f" You keep {held.code} at least until {found.held_until.date().isoformat()} "
            "(your qualifying year and one year of grace)."
        )
    return text


@strawberry.type(description="Where a member stands and what the next tier takes.")
class TierProgress:
    tier: MemberTier
    next_tier: Tier | None = strawberry.field(description="Null at the highest tier.")
    points_to_next: int = strawberry.field(description="Points still to earn; 0 when met.")
    orders_to_next: int
    qualifying_points: int = strawberry.field(
        description="Points earned in the window, net of refunded orders."
    )
    qualifying_orders: int
    window_start: datetime
    window_end: datetime = strawberry.field(description="Now: the window rolls.")
    held_until: datetime | None = strawberry.field(
        description="The earliest the tier can be lowered: the end of the qualifying year "
        "the member last met it in, plus one year of grace. Null for the base tier."
    )
    explanation: str = strawberry.field(description="All of the above, in words.")

    @classmethod
    def from_progress(cls, found: Progress) -> TierProgress:
        return cls(
            tier=MemberTier.from_standing(found.standing),
            next_tier=None if found.next_tier is None else Tier.from_view(found.next_tier),
            points_to_next=found.points_to_next,
            orders_to_next=found.orders_to_next,
            qualifying_points=found.qualifying_points,
            qualifying_orders=found.qualifying_orders,
            window_start=found.window_start,
            window_end=found.window_end,
            held_until=found.held_until,
            explanation=_explain(found),
        )


@strawberry.type(description="A change of a member's tier, with its reason.")
class TierChange:
    from_tier: str
    to_tier: str
    reason: str = strawberry.field(
        description="UPGRADE (an award crossed the threshold), DOWNGRADE (the yearly "
        "evaluation, after the year of grace) or REVERSAL (the order that carried the "
        "member up was refunded)."
    )
    schedule_version: int
    qualifying_points: int
    at: datetime

    @classmethod
    def from_entry(cls, entry: TierHistoryEntry) -> TierChange:
        return cls(
            from_tier=entry.from_code,
            to_tier=entry.to_code,
            reason=entry.reason,
            schedule_version=entry.schedule_version,
            qualifying_points=entry.qualifying_points,
            at=entry.at,
        )


async def member_tier(info: Info[HubContext, Any], member_id: int) -> MemberTier:
    return MemberTier.from_standing(await resolve.member_standing(info.context, member_id))


async def member_tier_progress(info: Info[HubContext, Any], member_id: int) -> TierProgress:
    return TierProgress.from_progress(await resolve.member_progress(info.context, member_id))


async def member_tier_history(
    info: Info[HubContext, Any], member_id: int, first: int | None, after: str | None
) -> Any:
    edges, has_next = await resolve.member_tier_history(info.context, member_id, first, after)
    return connection(
        [(cursor, TierChange.from_entry(entry)) for cursor, entry in edges], has_next, after
    )


@strawberry.input(name="TierInput", description="One tier of a schedule to publish.")
class TierInputType:
    code: str = strawberry.field(description="Capital letters, digits, _: e.g. GOLD.")
    name: str = strawberry.field(description="Shown to members, e.g. 金卡.")
    qualifying_points: int = strawberry.field(description="0 for the first (base) tier.")
    qualifying_orders: int = 0
    earn_multiplier: Decimal = Decimal(1)
    perks: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class SetTierScheduleInput:
    effective_at: datetime = strawberry.field(
        description="At least the operator's notice period ahead (CR-07; 7 days by default)."
    )
    tiers: list[TierInputType] = strawberry.field(
        description="Base tier first; each next tier needs more points and earns no less."
    )
    max_combined_factor: Decimal = strawberry.field(
        default=DEFAULT_MAX_FACTOR,
        description="The most tier x member benefits x basket may multiply a line by.",
    )


@strawberry.type
class SetTierSchedulePayload:
    schedule: TierSchedule | None
    user_errors: list[UserError]


async def set_tier_schedule(
    info: Info[HubContext, Any], input: SetTierScheduleInput
) -> SetTierSchedulePayload:
    outcome = await resolve.publish_tier_schedule(
        info.context,
        input.effective_at,
        [
            TierInput(
                tier.code,
                tier.name,
                tier.qualifying_points,
                tier.qualifying_orders,
                tier.earn_multiplier,
                list(tier.perks),
            )
            for tier in input.tiers
        ],
        input.max_combined_factor,
    )
    return SetTierSchedulePayload(
        schedule=None if outcome.value is None else TierSchedule.from_view(outcome.value),
        user_errors=user_errors(outcome),
    )


set_tier_schedule_field = scoped_mutation(
    set_tier_schedule,
    "operator:admin",
    "Publish the next version of the tier schedule, effective at a future time (CR-07).",
)


@strawberry.type(description="One credit level's accrual multiplier; a level not listed: x1.")
class CreditLevelMultiplier:
    level: CreditLevel
    earn_multiplier: str


@strawberry.type(
    description="A version of the credit schedule (信用+积分): accrual multipliers by credit "
    "level, applied only to members who consented to credit-linked benefits. Version 0 "
    "(no multipliers) is in force until one is published."
)
class CreditSchedule:
    version: int
    effective_at: datetime
    levels: list[CreditLevelMultiplier]

    @classmethod
    def from_view(cls, view: CreditScheduleView) -> CreditSchedule:
        return cls(
            version=view.version,
            effective_at=view.effective_at,
            levels=[
                CreditLevelMultiplier(level=CreditLevel(level), earn_multiplier=str(multiplier))
                for level, multiplier in sorted(view.levels.items())
            ],
        )


@strawberry.type(description="The credit schedule in force and the versions to follow.")
class CreditSchedules:
    in_force: CreditSchedule

    @strawberry.field(description="Versions taking effect later, soonest first (CR-07).")
    async def upcoming(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[CreditSchedule]:  # type: ignore[type-var]
        edges, has_next = await resolve.upcoming_credit_schedules(info.context, first, after)
        return connection(  # type: ignore[no-any-return]
            [(cursor, CreditSchedule.from_view(view)) for cursor, view in edges], has_next, after
        )


async def credit_schedule(info: Info[HubContext, Any]) -> CreditSchedules:
    found = await resolve.credit_schedules(info.context)
    return CreditSchedules(in_force=CreditSchedule.from_view(found.in_force))


credit_schedule_field = strawberry.field(
    resolver=credit_schedule,
    description="The alliance's credit schedule: in force now, and what follows. Anyone may "
    "read it; it names levels, never members.",
)


@strawberry.input(description="One credit level's multiplier in a schedule to publish.")
class CreditLevelInput:
    level: CreditLevel
    earn_multiplier: Decimal = strawberry.field(description="From 1 to 10: a benefit only.")


@strawberry.input
class SetCreditScheduleInput:
    effective_at: datetime = strawberry.field(
        description="At least the operator's notice period ahead (CR-07; 7 days by default)."
    )
    levels: list[CreditLevelInput] = strawberry.field(description="Levels not listed: x1.")


@strawberry.type
class SetCreditSchedulePayload:
    schedule: CreditSchedule | None
    user_errors: list[UserError]


async def set_credit_schedule(
    info: Info[HubContext, Any], input: SetCreditScheduleInput
) -> SetCreditSchedulePayload:
    outcome = await resolve.publish_credit_schedule(
        info.context,
        input.effective_at,
        [(entry.level.value, entry.earn_multiplier) for entry in input.levels],
    )
    return SetCreditSchedulePayload(
        schedule=None if outcome.value is None else CreditSchedule.from_view(outcome.value),
        user_errors=user_errors(outcome),
    )


set_credit_schedule_field = scoped_mutation(
    set_credit_schedule,
    "operator:admin",
    "Publish the next version of the credit schedule, effective at a future time (CR-07).",
)


@strawberry.enum(description="The period a perk's limit counts in (calendar, UTC).")
class PerkPeriod(Enum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


@strawberry.type(
    description="An entitlement a partner honours for members of some tiers: never points, "
    "never money (CR-05)."
)
class Perk:
    code: str
    name: str
    tier_codes: list[str]
    limit_per_period: int
    period: PerkPeriod

    @classmethod
    def from_view(cls, view: PerkView) -> Perk:
        return cls(
            code=view.code,
            name=view.name,
            tier_codes=list(view.tier_codes),
            limit_per_period=view.limit_per_period,
            period=PerkPeriod(view.period),
        )


@strawberry.type(description="A perk the member may claim now, and how many claims are left.")
class MemberPerk:
    perk: Perk
    partner_code: str
    remaining: int = strawberry.field(description="Claims left in this period.")
    period_start: date


async def member_perks(
    info: Info[HubContext, Any], member_id: int, first: int | None, after: str | None
) -> Any:
    edges, has_next = await resolve.member_perks(info.context, member_id, first, after)
    return connection(
        [
            (
                cursor,
                MemberPerk(
                    perk=Perk.from_view(found.perk),
                    partner_code=found.partner_code,
                    remaining=found.remaining,
                    period_start=found.period_start,
                ),
            )
            for cursor, found in edges
        ],
        has_next,
        after,
    )


@strawberry.input
class PublishPerkInput:
    code: str = strawberry.field(description="Capital letters, digits, _: e.g. FREE_PARKING.")
    name: str = strawberry.field(description="e.g. 2 小时免费停车 (2 hours free parking).")
    tier_codes: list[str] = strawberry.field(description="The tiers it is for (1 to 10).")
    limit_per_period: int = strawberry.field(description="Claims per member per period.")
    period: PerkPeriod


@strawberry.type
class PublishPerkPayload:
    perk: Perk | None
    user_errors: list[UserError]


async def publish_perk(info: Info[HubContext, Any], input: PublishPerkInput) -> PublishPerkPayload:
    outcome = await resolve.publish_partner_perk(
        info.context,
        input.code,
        input.name,
        list(input.tier_codes),
        input.limit_per_period,
        input.period.value,
    )
    return PublishPerkPayload(
        perk=None if outcome.value is None else Perk.from_view(outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class ClaimPerkInput:
    idempotency_key: str
    member_id: strawberry.ID
    perk_code: str


@strawberry.type(description="A perk honoured for a member: recorded, no points moved.")
class PerkClaim:
    perk_code: str
    used: int = strawberry.field(description="Claims in this period, this one included.")
    limit_per_period: int
    period: PerkPeriod
    period_start: date


@strawberry.type
class ClaimPerkPayload:
    claim: PerkClaim | None
    user_errors: list[UserError]


async def claim_perk(info: Info[HubContext, Any], input: ClaimPerkInput) -> ClaimPerkPayload:
    outcome = await resolve.claim_member_perk(
        info.context, input.idempotency_key, str(input.member_id), input.perk_code
    )
    found = outcome.value
    return ClaimPerkPayload(
        claim=None
        if found is None
        else PerkClaim(
            perk_code=found.perk_code,
            used=found.used,
            limit_per_period=found.limit_per_period,
            period=PerkPeriod(found.period),
            period_start=date.fromisoformat(found.period_start),
        ),
        user_errors=user_errors(outcome),
    )


publish_perk_field = scoped_mutation(
    publish_perk, "catalog:write", "Publish (or change) a perk you honour for some tiers."
)
claim_perk_field = scoped_mutation(
    claim_perk,
    "points:redeem",
    "Honour your perk for a consenting member of a listed tier: idempotent, recorded, "
    "limited per period as published; no points move.",
)
