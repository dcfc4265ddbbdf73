"""The operator's onboarding and money settings, and a partner's pricing."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from core.config import get_settings
from core.db import utcnow
from members.baskets import BasketRule, set_basket_bonus
from members.earning import RuleSet, set_earning_rule
from partners.promotions import PromotionSet, set_promotion
from partners.registry import (
    PartnerView,
    add_partner,
    set_compensation_cap,
    suspend_partner,
)
from partners.terms import BudgetView, TermsView, set_marketing_budget, set_settlement_terms
from resolvers.context import HubContext
from resolvers.errors import UserErrorData, from_exception
from resolvers.ids import decode_id
from resolvers.outcome import NotAPartner, Outcome, write

DEFAULT_BUDGET_PERIOD = timedelta(days=30)


def _aware(value: datetime | None, field: str) -> UserErrorData | None:
    if value is not None and value.tzinfo is None:
        return UserErrorData("BAD_USER_INPUT", "a DateTime needs a UTC offset", [field])
    return None


async def create_partner(
    context: HubContext, code: str, name: str, legal_entity: str, kind: str = "MERCHANT"
) -> Outcome[PartnerView]:
    return await write(
        context,
        "createPartner",
        add_partner,
        code=code,
        name=name,
        legal_entity=legal_entity,
        now=utcnow(),
        kind=kind,
    )


async def compensation_cap(
    context: HubContext, code: str, cap_percent: int
) -> Outcome[PartnerView]:
    return await write(context, "setCompensationPolicy", set_compensation_cap, code, cap_percent)


async def suspend(context: HubContext, code: str) -> Outcome[PartnerView]:
    return await write(context, "suspendPartner", suspend_partner, code, utcnow())


async def settlement_terms(
    context: HubContext,
    partner_code: str,
    issue_price: Decimal,
    reimbursement: Decimal,
    fee_rate: Decimal,
    cycle: str,
    effective_at: datetime | None,
) -> Outcome[TermsView]:
    if problem := _aware(effective_at, "effectiveAt"):
        return Outcome(errors=[problem])
    return await write(
        context,
        "setSettlementTerms",
        set_settlement_terms,
        partner_code=partner_code,
        issue_price_per_point_fen=issue_price,
        reimbursement_per_point_fen=reimbursement,
        operator_fee_rate=fee_rate,
        cycle=cycle,
        now=utcnow(),
        effective_at=effective_at,
    )


async def marketing_budget(
    context: HubContext,
    partner_code: str,
    amount_fen: int,
    period_start: datetime | None,
    period_end: datetime | None,
) -> Outcome[BudgetView]:
    for value, field in ((period_start, "periodStart"), (period_end, "periodEnd")):
        if problem := _aware(value, field):
            return Outcome(errors=[problem])
    now = utcnow()
    start = period_start or now
    return await write(
        context,
        "setMarketingBudget",
        set_marketing_budget,
        partner_code=partner_code,
        amount_fen=amount_fen,
        period_start=start,
        period_end=period_end or start + DEFAULT_BUDGET_PERIOD,
        now=now,
    )


async def earning_rule(
    context: HubContext,
    points_per_yuan: Decimal,
    category_multipliers: dict[str, Decimal],
    green_bonus_multiplier: Decimal,
    effective_at: datetime,
) -> Outcome[RuleSet]:
    if context.principal.partner_id is None:
        return Outcome(errors=[from_exception(NotAPartner())])
    if problem := _aware(effective_at, "effectiveAt"):
        return Outcome(errors=[problem])
    return await write(
        context,
        "setEarningRule",
        set_earning_rule,
        partner_id=context.principal.partner_id,
        points_per_yuan=points_per_yuan,
        category_multipliers=dict(category_multipliers),
        green_bonus_multiplier=green_bonus_multiplier,
        effective_at=effective_at,
        now=utcnow(),
        notice=get_settings().price_notice,
    )


async def basket_bonus(
    context: HubContext,
    code: str,
    categories: list[str],
    min_line_amount_fen: int,
    bonus_points: int,
    multiplier: Decimal,
    effective_at: datetime,
) -> Outcome[BasketRule]:
    if context.principal.partner_id is None:
        return Outcome(errors=[from_exception(NotAPartner())])
    if problem := _aware(effective_at, "effectiveAt"):
        return Outcome(errors=[problem])
    return await write(
        context,
        "setBasketBonus",
        set_basket_bonus,
        partner_id=context.principal.partner_id,
        code=code,
        categories=categories,
        min_line_amount_fen=min_line_amount_fen,
        bonus_points=bonus_points,
        multiplier=multiplier,
        effective_at=effective_at,
        now=utcnow(),
        notice=get_settings().price_notice,
    )


async def promotion(
    context: HubContext,
    item_gid: str,
    points: int,
    starts_at: datetime,
    ends_at: datetime | None,
) -> Outcome[PromotionSet]:
    if context.principal.partner_id is None:
        return Outcome(errors=[from_exception(NotAPartner())])
    for value, field in ((starts_at, "startsAt"), (ends_at, "endsAt")):
        if problem := _aware(value, field):
            return Outcome(errors=[problem])
    return await write(
        context,
        "setPromotion",
        set_promotion,
        partner_id=context.principal.partner_id,
        item_id=decode_id(item_gid, "CatalogItem") or -1,
        points=points,
        starts_at=starts_at,
        ends_at=ends_at,
        now=utcnow(),
    )
