"""Onboarding and money settings (operator:admin), and partners' pricing (catalog:write)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import operator as resolve
from resolvers.context import HubContext
from schema.connections import scoped_mutation
from schema.errors import UserError, user_errors
from schema.partners import (
    BasketBonus,
    CategoryMultiplier,
    EarningRule,
    Partner,
    PartnerKind,
)


@strawberry.enum
class SettlementCycle(Enum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


@strawberry.input
class CreatePartnerInput:
    code: str
    name: str
    legal_entity: str
    kind: PartnerKind = strawberry.field(
        default=PartnerKind.MERCHANT,
        description="A CHARITY partner (a registered charity, the operator's word) is the only "
        "kind that publishes CHARITY items and receives donations (CR-06).",
    )


@strawberry.type
class CreatePartnerPayload:
    partner: Partner | None
    user_errors: list[UserError]


async def create_partner(
    info: Info[HubContext, Any], input: CreatePartnerInput
) -> CreatePartnerPayload:
    outcome = await resolve.create_partner(
        info.context, input.code, input.name, input.legal_entity, input.kind.value
    )
    partner = None if outcome.value is None else Partner.from_view(outcome.value)
    return CreatePartnerPayload(partner=partner, user_errors=user_errors(outcome))


@strawberry.input
class SetCompensationPolicyInput:
    partner_code: str
    cap_percent: int = strawberry.field(
        description="Compensation a refund may carry, in percent of the points it restores: "
        "0 to 1000; 100 (at most the points refunded) until set (CR-12)."
    )


@strawberry.type
class SetCompensationPolicyPayload:
    partner: Partner | None
    user_errors: list[UserError]


async def set_compensation_policy(
    info: Info[HubContext, Any], input: SetCompensationPolicyInput
) -> SetCompensationPolicyPayload:
    outcome = await resolve.compensation_cap(info.context, input.partner_code, input.cap_percent)
    partner = None if outcome.value is None else Partner.from_view(outcome.value)
    return SetCompensationPolicyPayload(partner=partner, user_errors=user_errors(outcome))


@strawberry.input
class SuspendPartnerInput:
    code: str


@strawberry.type
class SuspendPartnerPayload:
    partner: Partner | None
    user_errors: list[UserError]


async def suspend_partner(
    info: Info[HubContext, Any], input: SuspendPartnerInput
) -> SuspendPartnerPayload:
    outcome = await resolve.suspend(info.context, input.code)
    partner = None if outcome.value is None else Partner.from_view(outcome.value)
    return SuspendPartnerPayload(partner=partner, user_errors=user_errors(outcome))


@strawberry.input
class SetSettlementTermsInput:
    partner_code: str
    issue_price_per_point_fen: Decimal
    reimbursement_per_point_fen: Decimal
    operator_fee_rate: Decimal
    cycle: SettlementCycle
    effective_at: datetime | None = strawberry.field(
        default=None,
        description="Default now for a partner's first terms; later changes must be in the future.",
    )


@strawberry.type
class SettlementTerms:
    issue_price_per_point_fen: Decimal
    reimbursement_per_point_fen: Decimal
    operator_fee_rate: Decimal
    cycle: SettlementCycle
    effective_at: datetime


@strawberry.type
class SetSettlementTermsPayload:
    terms: SettlementTerms | None
    user_errors: list[UserError]


async def set_settlement_terms(
    info: Info[HubContext, Any], input: SetSettlementTermsInput
) -> SetSettlementTermsPayload:
    outcome = await resolve.settlement_terms(
        info.context,
        input.partner_code,
        input.issue_price_per_point_fen,
        input.reimbursement_per_point_fen,
        input.operator_fee_rate,
        input.cycle.value,
        input.effective_at,
    )
    found = outcome.value
    terms = (
        None
        if found is None
        else SettlementTerms(
            issue_price_per_point_fen=found.issue_price_per_point_fen,
            reimbursement_per_point_fen=found.reimbursement_per_point_fen,
            operator_fee_rate=found.operator_fee_rate,
            cycle=SettlementCycle(found.cycle),
            effective_at=found.effective_at,
        )
    )
    return SetSettlementTermsPayload(terms=terms, user_errors=user_errors(outcome))


@strawberry.input
class SetMarketingBudgetInput:
    partner_code: str
    amount_fen: int
    period_start: datetime | None = None
    period_end: datetime | None = strawberry.field(
        default=None, description="Default: 30 days after the start."
    )


@strawberry.type
class MarketingBudget:
    amount_fen: int
    period_start: datetime
    period_end: datetime


@strawberry.type
class SetMarketingBudgetPayload:
    budget: MarketingBudget | None
    user_errors: list[UserError]


async def set_marketing_budget(
    info: Info[HubContext, Any], input: SetMarketingBudgetInput
) -> SetMarketingBudgetPayload:
    outcome = await resolve.marketing_budget(
        info.context, input.partner_code, input.amount_fen, input.period_start, input.period_end
    )
    found = outcome.value
    budget = (
        None
        if found is None
        else MarketingBudget(
            amount_fen=found.amount_fen,
            period_start=found.period_start,
            period_end=found.period_end,
        )
    )
    return SetMarketingBudgetPayload(budget=budget, user_errors=user_errors(outcome))


@strawberry.input
class CategoryMultiplierInput:
    category: str
    multiplier: Decimal


@strawberry.input
class SetEarningRuleInput:
    points_per_yuan: Decimal
    category_multipliers: list[CategoryMultiplierInput] = strawberry.field(default_factory=list)
    green_bonus_multiplier: Decimal = Decimal(1)
    effective_at: datetime = strawberry.field(
        description="In the future (CR-07); at least the operator's notice period ahead (7 "
        "days by default) when the change lowers what members earn on some purchase."
    )


@strawberry.type
class SetEarningRulePayload:
    rule: EarningRule | None
    user_errors: list[UserError]


async def set_earning_rule(
    info: Info[HubContext, Any], input: SetEarningRuleInput
) -> SetEarningRulePayload:
    outcome = await resolve.earning_rule(
        info.context,
        input.points_per_yuan,
        {m.category: m.multiplier for m in input.category_multipliers},
        input.green_bonus_multiplier,
        input.effective_at,
    )
    found = outcome.value
    rule = (
        None
        if found is None
        else EarningRule(
            points_per_yuan=found.points_per_yuan,
            category_multipliers=[
                CategoryMultiplier(category=category, multiplier=multiplier)
                for category, multiplier in sorted(found.category_multipliers.items())
            ],
            green_bonus_multiplier=found.green_bonus_multiplier,
            effective_at=found.effective_at,
        )
    )
    return SetEarningRulePayload(rule=rule, user_errors=user_errors(outcome))


@strawberry.input
class SetBasketBonusInput:
    code: str = strawberry.field(description="Capital letters, digits, _: e.g. SNACK_DRINK.")
    categories: list[str] = strawberry.field(description="2 to 5 different categories.")
    min_line_amount_fen: int = strawberry.field(
        default=0, description="Each category needs one line of at least this amount."
    )
    bonus_points: int = strawberry.field(default=0, description="Added to the order.")
    multiplier: Decimal = strawberry.field(
        default=Decimal(1), description="For the matched lines, instead of bonusPoints."
    )
    effective_at: datetime = strawberry.field(
        description="In the future (CR-07); at least the operator's notice period ahead (7 "
        "days by default) when the change lowers what members earn on some purchase."
    )


@strawberry.type
class SetBasketBonusPayload:
    basket_bonus: BasketBonus | None
    user_errors: list[UserError]


async def set_basket_bonus(
    info: Info[HubContext, Any], input: SetBasketBonusInput
) -> SetBasketBonusPayload:
    outcome = await resolve.basket_bonus(
        info.context,
        input.code,
        list(input.categories),
        input.min_line_amount_fen,
        input.bonus_points,
        input.multiplier,
        input.effective_at,
    )
    return SetBasketBonusPayload(
        basket_bonus=None if outcome.value is None else BasketBonus.from_rule(outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class SetPromotionInput:
    catalog_item_id: strawberry.ID
    points: int
    starts_at: datetime
    ends_at: datetime | None = strawberry.field(
        default=None, description="Required: a promotion without an end is refused (CR-09)."
    )


@strawberry.type
class PromotionSet:
    points: int
    starts_at: datetime
    ends_at: datetime


@strawberry.type
class SetPromotionPayload:
    promotion: PromotionSet | None
    user_errors: list[UserError]


async def set_promotion(
    info: Info[HubContext, Any], input: SetPromotionInput
) -> SetPromotionPayload:
    outcome = await resolve.promotion(
        info.context, str(input.catalog_item_id), input.points, input.starts_at, input.ends_at
    )
    found = outcome.value
    promotion = (
        None
        if found is None
        else PromotionSet(points=found.points, starts_at=found.starts_at, ends_at=found.ends_at)
    )
    return SetPromotionPayload(promotion=promotion, user_errors=user_errors(outcome))


create_partner_field = scoped_mutation(
    create_partner, "operator:admin", "Onboard a partner; it starts with a budget of 0."
)
set_compensation_policy_field = scoped_mutation(
    set_compensation_policy,
    "operator:admin",
    "Cap the compensation a partner may issue with a refund (CR-12).",
)
suspend_partner_field = scoped_mutation(
    suspend_partner, "operator:admin", "Suspend a partner; its live tokens stop at once."
)
set_settlement_terms_field = scoped_mutation(
    set_settlement_terms, "operator:admin", "Set a partner's prices per point."
)
set_marketing_budget_field = scoped_mutation(
    set_marketing_budget, "operator:admin", "Fund a partner's issuance (CR-02)."
)
set_earning_rule_field = scoped_mutation(
    set_earning_rule,
    "catalog:write",
    "Publish how your purchases earn points, from a future time (CR-07).",
)
set_promotion_field = scoped_mutation(
    set_promotion, "catalog:write", "A time-limited price for one of your items (CR-09)."
)
set_basket_bonus_field = scoped_mutation(
    set_basket_bonus,
    "catalog:write",
    "Publish a basket bonus over several categories in one order, from a future time "
    "(CR-07); neither bonusPoints nor multiplier withdraws the code from then.",
)
