"""The loyalty programme's published schedules and members' tiers: thin adapters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import ledger
from core.config import get_settings
from core.db import utcnow
from members.benefits import (
    CreditScheduleView,
    PublishedCredit,
    published_credit,
    set_credit_schedule,
)
from members.perks import (
    ClaimablePerk,
    PerkClaimResult,
    PerkView,
    claim_perk,
    claimable_perks,
    publish_perk,
)
from members.tiers import (
    Progress,
    PublishedTiers,
    ScheduleView,
    Standing,
    TierHistoryEntry,
    TierInput,
    published_tiers,
    set_tier_schedule,
    tier_history,
)
from resolvers.context import HubContext
from resolvers.errors import UserErrorData, from_exception
from resolvers.ids import decode_id
from resolvers.outcome import NotAPartner, Outcome, attempt, require_partner, write
from resolvers.pagination import position_page


async def tier_schedules(context: HubContext) -> PublishedTiers:
    """Anyone may read the schedule in force and those published to follow."""
    return await context.database.read(published_tiers, context.started_at)


async def upcoming_schedules(
    context: HubContext, first: int | None, after: str | None
) -> tuple[list[tuple[str, ScheduleView]], bool]:
    found = await tier_schedules(context)
    return position_page(found.upcoming, "upcoming-tier-schedules", first, after)


async def publish_tier_schedule(
    context: HubContext,
    effective_at: datetime,
    tiers: Sequence[TierInput],
    max_combined_factor: Decimal,
) -> Outcome[ScheduleView]:
    if effective_at.tzinfo is None:
        return Outcome(
            errors=[
                UserErrorData("BAD_USER_INPUT", "a DateTime needs a UTC offset", ["effectiveAt"])
            ]
        )
    return await write(
        context,
        "setTierSchedule",
        set_tier_schedule,
        effective_at=effective_at,
        tiers=list(tiers),
        now=utcnow(),
        notice=get_settings().price_notice,
        max_combined_factor=max_combined_factor,
    )


async def member_standing(context: HubContext, member_id: int) -> Standing:
    found: Standing | None = await context.loaders.tier_standing.load(
        (member_id, context.started_at)
    )
    assert found is not None, "a member resolved before always has a standing"
    return found


async def member_progress(context: HubContext, member_id: int) -> Progress:
    found: Progress | None = await context.loaders.tier_progress.load(
        (member_id, context.started_at)
    )
    assert found is not None, "a member resolved before always has a progress"
    return found


async def member_tier_history(
    context: HubContext, member_id: int, first: int | None, after: str | None
) -> tuple[list[tuple[str, TierHistoryEntry]], bool]:
    rows = await context.database.read(tier_history, member_id)
    return position_page(rows, f"tier-history:{member_id}", first, after)


async def credit_schedules(context: HubContext) -> PublishedCredit:
    """Anyone may read the credit schedule in force and those published to follow."""
    return await context.database.read(published_credit, context.started_at)


async def upcoming_credit_schedules(
    context: HubContext, first: int | None, after: str | None
) -> tuple[list[tuple[str, CreditScheduleView]], bool]:
    found = await credit_schedules(context)
    return position_page(found.upcoming, "upcoming-credit-schedules", first, after)


async def publish_credit_schedule(
    context: HubContext, effective_at: datetime, levels: Sequence[tuple[str, Decimal]]
) -> Outcome[CreditScheduleView]:
    if effective_at.tzinfo is None:
        return Outcome(
            errors=[
                UserErrorData("BAD_USER_INPUT", "a DateTime needs a UTC offset", ["effectiveAt"])
            ]
        )
    return await write(
        context,
        "setCreditSchedule",
        set_credit_schedule,
        effective_at=effective_at,
        levels=list(levels),
        now=utcnow(),
        notice=get_settings().price_notice,
    )


async def publish_partner_perk(
    context: HubContext,
    code: str,
    name: str,
    tier_codes: list[str],
    limit_per_period: int,
    period: str,
) -> Outcome[PerkView]:
    if context.principal.partner_id is None:
        return Outcome(errors=[from_exception(NotAPartner())])
    return await write(
        context,
        "publishPerk",
        publish_perk,
        partner_id=context.principal.partner_id,
        code=code,
        name=name,
        tier_codes=tier_codes,
        limit_per_period=limit_per_period,
        period=period,
        now=utcnow(),
    )


async def claim_member_perk(
    context: HubContext, key: str, member_gid: str, perk_code: str
) -> Outcome[PerkClaimResult]:
    async def call() -> PerkClaimResult:
        return await context.database.write(
            claim_perk,
            ledger.IdempotencyKey(context.principal.client_id or "", key),
            partner_id=require_partner(context),
            member_id=decode_id(member_gid, "Member") or -1,
            perk_code=perk_code,
            now=utcnow(),
            client_id=context.principal.client_id,
        )

    return await attempt(context, "claimPerk", call)


async def member_perks(
    context: HubContext, member_id: int, first: int | None, after: str | None
) -> tuple[list[tuple[str, ClaimablePerk]], bool]:
    """A partner sees only its own perks for the member (CR-10 minimisation)."""
    rows = await context.database.read(
        claimable_perks, member_id, context.principal.partner_id, context.started_at
    )
    return position_page(rows, f"perks:{member_id}", first, after)
