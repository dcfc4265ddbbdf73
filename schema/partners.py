"""The Partner entity: a brand in the alliance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
import strawberry.federation
from strawberry import relay
from strawberry.types import Info

from members.baskets import BasketRule
from members.earning import Rule
from partners.registry import PartnerView
from resolvers import catalog as resolve_catalog
from resolvers import partners as resolve
from resolvers.context import HubContext
from resolvers.entities import bad_representation, key_text, not_found
from resolvers.ids import database_id, decode_id
from schema.connections import connection

if TYPE_CHECKING:
    from schema.catalog import CatalogItem


@strawberry.enum(description="Whether a partner takes part in the alliance now.")
class PartnerStatus(Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


@strawberry.enum(description="What a partner is, as the operator registered it.")
class PartnerKind(Enum):
    MERCHANT = "MERCHANT"
    CHARITY = "CHARITY"


@strawberry.type(description="One category's multiplier in an earning rule.")
class CategoryMultiplier:
    category: str = strawberry.field(description="The category, normalised as rules read it.")
    multiplier: str = strawberry.field(description="An exact decimal, e.g. `2` or `1.5`.")


@strawberry.type(
    description="A partner's published basket bonus (积分联动消费): an order with a line of at "
    "least minLineAmountFen in every one of the categories earns bonusPoints more, or its "
    "matched lines x multiplier. Each pays a member at most once a day."
)
class BasketBonus:
    code: str
    categories: list[str] = strawberry.field(description="Normalised, sorted.")
    min_line_amount_fen: int
    bonus_points: int = strawberry.field(description="Added to the order's points (0: none).")
    multiplier: str = strawberry.field(description="For the matched lines (1: none).")
    effective_at: datetime

    @classmethod
    def from_rule(cls, rule: BasketRule) -> BasketBonus:
        return cls(
            code=rule.code,
            categories=list(rule.categories),
            min_line_amount_fen=rule.min_line_amount_fen,
            bonus_points=rule.bonus_points,
            multiplier=str(rule.multiplier),
            effective_at=rule.effective_at,
        )


@strawberry.type(
    description="How purchases earn points at a partner: published, readable by anyone "
    "(CR-07). Points = yuan x pointsPerYuan x the line's category multiplier x the green "
    "bonus (verified green SKUs only), exactly per line, summed and floored once per order."
)
class EarningRule:
    points_per_yuan: str
    category_multipliers: list[CategoryMultiplier] = strawberry.field(
        description="Categories not listed earn at 1."
    )
    green_bonus_multiplier: str
    effective_at: datetime = strawberry.field(
        description="When the rule takes effect; for the alliance's default rule (1 point per "
        "yuan), when the partner joined."
    )

    partner_id: strawberry.Private[int | None] = None
    as_of: strawberry.Private[datetime | None] = None

    @strawberry.field(
        description="The basket bonuses in force with this rule (at its effectiveAt, or now "
        "for the rule in force), evaluated in code order (docs/programme.md)."
    )
    async def basket_bonuses(self, info: Info[HubContext, Any]) -> list[BasketBonus]:
        if self.partner_id is None or self.as_of is None:
            return []
        found = await resolve.published_baskets(info.context, self.partner_id, self.as_of)
        return [BasketBonus.from_rule(rule) for rule in found.in_force]

    @classmethod
    def from_rule(
        cls,
        rule: Rule,
        effective_at: datetime,
        partner_id: int | None = None,
        as_of: datetime | None = None,
    ) -> EarningRule:
        return cls(
            partner_id=partner_id,
            as_of=as_of,
            points_per_yuan=str(rule.points_per_yuan),
            category_multipliers=[
                CategoryMultiplier(category=category, multiplier=str(multiplier))
                for category, multiplier in sorted(rule.category_multipliers.items())
            ],
            green_bonus_multiplier=str(rule.green_bonus_multiplier),
            effective_at=rule.effective_at or effective_at,
        )


@strawberry.federation.type(
    keys=["id", "code"], description="A brand in the alliance. Keys: its global id, or its code."
)
class Partner(relay.Node):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="The partner's stable short code, e.g. `cinema`.")
    name: str
    status: PartnerStatus
    kind: PartnerKind = strawberry.field(
        description="CHARITY: a registered charity, the only kind that receives donations."
    )
    cap_percent: strawberry.Private[int]

    @strawberry.field(
        description="The operator's cap on the compensation points this partner may issue with "
        "a refund, in percent of the points refunded (CR-12). Shown to the partner itself "
        "and the operator; null for anyone else."
    )
    def compensation_cap_percent(self, info: Info[HubContext, Any]) -> int | None:
        principal = info.context.principal
        if principal.kind == "operator" or principal.partner_id == self.id:
            return self.cap_percent
        return None

    @strawberry.field(description="This partner's available items, by SKU.")
    async def catalog(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Annotated[CatalogItem, strawberry.lazy("schema.catalog")]]:
        from schema.catalog import CatalogItem

        page = await resolve_catalog.partner_catalog(info.context, self.id, first, after)
        edges = [(c, CatalogItem.from_view(view, page.as_of, self)) for c, view in page.edges]
        return connection(edges, page.has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(
        description="The earning rule in force now, as published: anyone may read it."
    )
    async def earning_rule(self, info: Info[HubContext, Any]) -> EarningRule:
        published = await resolve.published_rules(info.context, self.id)
        now = info.context.started_at
        return EarningRule.from_rule(published.in_force, now, self.id, now)

    @strawberry.field(
        description="Earning rules published to take effect later, soonest first: what "
        "members will earn, known ahead (CR-07)."
    )
    async def upcoming_earning_rules(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[EarningRule]:  # type: ignore[type-var]
        edges, has_next = await resolve.upcoming_rules(info.context, self.id, first, after)
        now = info.context.started_at
        return connection(  # type: ignore[no-any-return]
            [
                (cursor, EarningRule.from_rule(rule, now, self.id, rule.effective_at or now))
                for cursor, rule in edges
            ],
            has_next,
            after,
        )

    @strawberry.field(
        description="Basket bonuses published to take effect later (new codes, changes and "
        "withdrawals: neither bonus nor multiplier), soonest first (CR-07)."
    )
    async def upcoming_basket_bonuses(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[BasketBonus]:  # type: ignore[type-var]
        edges, has_next = await resolve.upcoming_baskets(info.context, self.id, first, after)
        return connection(  # type: ignore[no-any-return]
            [(cursor, BasketBonus.from_rule(rule)) for cursor, rule in edges], has_next, after
        )

    @classmethod
    def from_view(cls, view: PartnerView) -> Partner:
        return cls(
            id=view.id,
            code=view.code,
            name=view.name,
            status=PartnerStatus(view.status),
            kind=PartnerKind(view.kind),
            cap_percent=view.compensation_cap_percent,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls,
        *,
        info: Info[HubContext, Any],
        node_ids: Iterable[str],
        required: bool = False,
    ) -> list[Partner | None]:
        ids = [database_id(node_id) or 0 for node_id in node_ids]
        views = await resolve.partners_by_id(info.context, ids)
        return [None if view is None else cls.from_view(view) for view in views]

    @classmethod
    async def resolve_reference(
        cls, info: Info[HubContext, Any], key: Mapping[str, object]
    ) -> Partner:
        """By ``id`` (a Partner global id) or by ``code``; both batched."""
        if "id" in key:
            found = await resolve.partners_by_id(
                info.context, [decode_id(key["id"], "Partner") or 0]
            )
        else:
            code = key_text(key, "code")
            if code is None:
                raise bad_representation("a Partner key is id, or code")
            found = await resolve.partners_by_code(info.context, [code])
        if found[0] is None:
            raise not_found("Partner")
        return cls.from_view(found[0])


PartnerConnection = relay.Connection[Partner]


async def partners(
    info: Info[HubContext, Any],
    first: int | None = None,
    after: str | None = None,
) -> relay.Connection[Partner]:
    page = await resolve.list_partners(info.context, first, after)
    edges = [(cursor, Partner.from_view(view)) for cursor, view in page.edges]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


async def partner(info: Info[HubContext, Any], code: str) -> Partner | None:
    view = await resolve.partner_by_code(info.context, code)
    return None if view is None else Partner.from_view(view)


async def partner_by_id(info: Info[HubContext, Any], partner_id: int) -> Partner:
    """The partner behind an id another object holds (a foreign key), via the loader."""
    return Partner.from_view(await info.context.loaders.partner.load(partner_id))


async def partner_of(info: Info[HubContext, Any], partner_id: int | None) -> Partner | None:
    return None if partner_id is None else await partner_by_id(info, partner_id)
