"""The unified catalogue: CatalogItem, its filters and sorts, and publication."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
import strawberry.federation
from strawberry import relay
from strawberry.types import Info

from members.member_prices import PriceRowInput
from partners.catalog import CatalogQuery, ItemInput, ItemView, ItemWithPartner
from partners.catalog import ServiceTerms as ServiceTermsData
from partners.catalog_memory import CatalogueSnapshot
from resolvers import catalog as resolve
from resolvers import partners as resolve_partners
from resolvers.context import HubContext
from resolvers.entities import bad_representation, key_text, not_found
from resolvers.ids import database_id, decode_id
from schema.connections import connection, scoped_mutation
from schema.credit_level import CreditLevel
from schema.errors import UserError
from schema.partners import Partner


@strawberry.enum(description="What an item is. The last three are always refused (CR-04, CR-05).")
class CatalogItemKind(Enum):
    GOODS = "GOODS"
    SERVICE = "SERVICE"
    VOUCHER = "VOUCHER"
    CHARITY = "CHARITY"
    CASH_EQUIVALENT = "CASH_EQUIVALENT"
    EXTERNAL_POINTS = "EXTERNAL_POINTS"
    UNIVERSAL_VOUCHER = "UNIVERSAL_VOUCHER"


@strawberry.enum(description="Catalogue order; the points sorts use the effective price.")
class CatalogSort(Enum):
    POINTS_ASC = "POINTS_ASC"
    POINTS_DESC = "POINTS_DESC"
    NEWEST = "NEWEST"


@strawberry.enum(description="Which price a member pays now.")
class PriceSource(Enum):
    BASE = strawberry.enum_value("BASE", description="The base price.")
    PROMOTION = strawberry.enum_value(
        "PROMOTION", description="A running promotion, cheaper than the base price."
    )


@strawberry.type(description="A base price published to take effect later (CR-07).")
class ScheduledPrice:
    points: int
    effective_at: datetime


@strawberry.type(
    description="A member price published to take effect later (CR-07); `points` null when "
    "the row is withdrawn then."
)
class ScheduledMemberPrice:
    tier_code: str | None
    credit_level: CreditLevel | None
    points: int | None
    effective_at: datetime


@strawberry.type(
    description="A service's terms (CR-13): a points redemption is usable in the same time "
    "slots and dates as a paid one."
)
class ServiceTerms:
    valid_days: int = strawberry.field(description="Days a redemption stays valid.")


@strawberry.type(description="A time-limited redemption price.")
class Promotion:
    points: int
    starts_at: datetime
    ends_at: datetime


@strawberry.federation.type(
    keys=["id", "partnerCode sku"],
    description="Something to redeem points for. Keys: its global id, or its partner's code "
    "and its SKU (a key a partner's subgraph can compute).",
)
class CatalogItem(relay.Node):
    id: relay.NodeID[int]
    sku: str = strawberry.field(description="The partner's stock-keeping unit.")
    partner_code: str = strawberry.field(description="The code of the partner honouring it.")
    title: str
    category: str
    kind: CatalogItemKind
    green: bool = strawberry.field(description="A green (sustainable) item.")
    base_points: int = strawberry.field(description="The price without any promotion, now.")
    points: int = strawberry.field(
        description="The price now: the lower of the base price and a running promotion's."
    )
    price_source: PriceSource = strawberry.field(
        description="Whether `points` is the base price or a running promotion's."
    )
    available: bool
    service_terms: ServiceTerms | None = strawberry.field(
        description="A service's (or voucher's) terms; null for goods."
    )
    partner: Partner = strawberry.field(description="The partner that honours this item.")
    partner_id: strawberry.Private[int]
    # The instant its nested fields (promotion, scheduled and member prices) read at; None
    # for an object an in-memory snapshot keeps for every request: the reading request's
    # own instant (``HubContext.started_at``, a first page's pricing instant).
    priced_at: strawberry.Private[datetime | None]

    @classmethod
    def from_view(cls, view: ItemView, priced_at: datetime | None, partner: Partner) -> CatalogItem:
        """``partner`` is loaded by the caller for the whole page at once, so it is a plain
        attribute: no per-item resolver, and the page executes without awaiting."""
        return cls(
            id=view.id,
            sku=view.sku,
            partner_code=partner.code,
            title=view.title,
            category=view.category,
            kind=CatalogItemKind(view.kind),
            green=view.green,
            base_points=view.base_points,
            points=view.points,
            price_source=PriceSource.PROMOTION
            if view.points < view.base_points
            else PriceSource.BASE,
            available=view.available,
            service_terms=None
            if view.service_valid_days is None
            else ServiceTerms(valid_days=view.service_valid_days),
            partner=partner,
            partner_id=view.partner_id,
            priced_at=priced_at,
        )

    def priced(self, priced_at: datetime) -> CatalogItem:
        """This item read at another instant of the same prices: a shallow copy (cheaper
        than building it again) whose nested fields read at ``priced_at``."""
        copy = object.__new__(CatalogItem)
        copy.__dict__.update(self.__dict__)
        copy.priced_at = priced_at
        return copy

    def instant(self, info: Info[HubContext, Any]) -> datetime:
        return self.priced_at if self.priced_at is not None else info.context.started_at

    @classmethod
    async def page(
        cls, info: Info[HubContext, Any], views: list[ItemView], priced_at: datetime
    ) -> list[CatalogItem]:
        """Items with their partners, loaded in one batch for the page."""
        partners = await resolve_partners.partners_by_id(
            info.context, sorted({view.partner_id for view in views})
        )
        by_id = {p.id: Partner.from_view(p) for p in partners if p is not None}
        return [
            cls.from_view(view, priced_at, by_id[view.partner_id])
            for view in views
            if view.partner_id in by_id
        ]

    @strawberry.field(
        description="Base prices published to take effect later, soonest first: an increase "
        "waits the operator's notice period (CR-07). A reservation keeps the price it was "
        "made at."
    )
    async def scheduled_prices(self, info: Info[HubContext, Any]) -> list[ScheduledPrice]:
        found = await resolve.scheduled_prices_of(info.context, self.id, self.instant(info))
        return [ScheduledPrice(points=p.points, effective_at=p.effective_at) for p in found]

    @strawberry.field(
        description="Published lower prices for members of a tier (or above) and/or a credit "
        "level (or better, with the member's consent to credit-linked benefits): anyone may "
        "read them; a redemption charges the lowest one the member qualifies for."
    )
    async def member_prices(self, info: Info[HubContext, Any]) -> list[MemberPrice]:
        found = await resolve.member_prices_of(info.context, self.id, self.instant(info))
        return [
            MemberPrice(
                tier_code=row.tier_code,
                credit_level=None if row.credit_level is None else CreditLevel(row.credit_level),
                points=row.points,
            )
            for row in found
        ]

    @strawberry.field(
        description="Member prices published to take effect later, soonest first (CR-07): "
        "a higher or withdrawn member price waits the operator's notice period. Each row of "
        "the set coming into force, and each row it withdraws with `points` null. Publishing "
        "the member prices in force again cancels what is pending."
    )
    async def scheduled_member_prices(
        self, info: Info[HubContext, Any]
    ) -> list[ScheduledMemberPrice]:
        found = await resolve.scheduled_member_prices_of(info.context, self.id, self.instant(info))
        return [
            ScheduledMemberPrice(
                tier_code=row.tier_code,
                credit_level=None if row.credit_level is None else CreditLevel(row.credit_level),
                points=row.points,
                effective_at=row.effective_at,
            )
            for row in found
        ]

    @strawberry.field(description="The promotion running now, if any.")
    async def promotion(self, info: Info[HubContext, Any]) -> Promotion | None:
        found = await resolve.promotion_of(info.context, self.id, self.instant(info))
        if found is None:
            return None
        return Promotion(points=found.points, starts_at=found.starts_at, ends_at=found.ends_at)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[HubContext, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[CatalogItem | None]:
        ids = [database_id(node_id) or 0 for node_id in node_ids]
        found = await resolve.items_by_id(info.context, ids)
        return [cls._of(info, pair) for pair in found]

    @classmethod
    def _of(cls, info: Info[HubContext, Any], pair: ItemWithPartner | None) -> CatalogItem | None:
        if pair is None:
            return None
        view, partner = pair
        return cls.from_view(view, info.context.started_at, Partner.from_view(partner))

    @classmethod
    async def resolve_reference(
        cls, info: Info[HubContext, Any], key: Mapping[str, object]
    ) -> CatalogItem:
        """By ``id`` (a CatalogItem global id) or by ``partnerCode`` and ``sku``; both
        batched, and visible as through ``node``."""
        if "id" in key:
            found = await resolve.items_by_id(
                info.context, [decode_id(key["id"], "CatalogItem") or 0]
            )
        else:
            code, sku = key_text(key, "partnerCode"), key_text(key, "sku")
            if code is None or sku is None:
                raise bad_representation("a CatalogItem key is id, or partnerCode and sku")
            found = await resolve.items_by_sku(info.context, [(code, sku)])
        item = cls._of(info, found[0])
        if item is None:
            raise not_found("CatalogItem")
        return item


@strawberry.input(description="Narrow the catalogue; every given condition must hold.")
class CatalogFilter:
    partner_codes: list[str] | None = None
    categories: list[str] | None = None
    green: bool | None = None
    max_points: int | None = strawberry.field(
        default=None, description="At most this effective price."
    )
    search: str | None = strawberry.field(
        default=None, description="Text the title contains, anywhere and in any case."
    )


async def catalog(
    info: Info[HubContext, Any],
    filter: CatalogFilter | None = None,
    sort: CatalogSort = CatalogSort.POINTS_ASC,
    first: int | None = None,
    after: str | None = None,
) -> relay.Connection[CatalogItem]:
    given = filter or CatalogFilter()
    query = CatalogQuery(
        partner_codes=tuple(given.partner_codes) if given.partner_codes is not None else None,
        categories=tuple(given.categories) if given.categories is not None else None,
        green=given.green,
        max_points=given.max_points,
        search=given.search,
    )
    page = await resolve.list_catalog(info.context, query, sort.value, first, after)
    if page.snapshot is not None:
        edges = _held(page.snapshot, page.edges, page.as_of, info.context.started_at)
        return connection(edges, page.has_next, after)  # type: ignore[no-any-return]
    items = await CatalogItem.page(info, [view for _, view in page.edges], page.as_of)
    edges = [(cursor, item) for (cursor, _), item in zip(page.edges, items, strict=True)]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


def _held(
    snapshot: CatalogueSnapshot,
    edges: list[tuple[str, ItemView]],
    as_of: datetime,
    started_at: datetime,
) -> list[tuple[str, CatalogItem]]:
    """The page's items from an in-memory snapshot, priced at ``as_of`` (their nested
    fields, such as member prices, read at that instant). Each item's object is built once
    per snapshot, with its partner's, and priced at the instant of whichever request reads
    it; a page priced at another instant (one after a cursor) gets copies carrying it.
    Within the snapshot's window every other field is the same."""
    built: dict[int, CatalogItem] = snapshot.memo.setdefault(CatalogItem, {})
    partners: dict[int, Partner] = snapshot.memo.setdefault(Partner, {})
    own_instant = as_of == started_at
    held = []
    for cursor, view in edges:
        item = built.get(view.id)
        if item is None:
            partner = partners.get(view.partner_id)
            if partner is None:
                partner = partners[view.partner_id] = Partner.from_view(
                    snapshot.partners[view.partner_id]
                )
            item = built[view.id] = CatalogItem.from_view(view, None, partner)
        held.append((cursor, item if own_instant else item.priced(as_of)))
    return held


@strawberry.input(description="A service's terms (CR-13).")
class ServiceTermsInput:
    valid_days: int = strawberry.field(description="Days a redemption stays valid, 1-3650.")
    same_slots_as_paid: bool = strawberry.field(
        default=True,
        description="Usable in every time slot and date a paid one is. A points redemption "
        "restricted beyond paying customers is refused (CR-13 EQUAL_SERVICE).",
    )


@strawberry.type(description="A published lower price for members of a tier or credit level.")
class MemberPrice:
    tier_code: str | None
    credit_level: CreditLevel | None
    points: int


@strawberry.input
class CatalogItemInput:
    sku: str
    title: str
    category: str
    kind: CatalogItemKind
    green: bool
    base_points: int = strawberry.field(
        description="For a published item, a decrease applies at once and an increase only "
        "after the operator's notice period (7 days unless set; see scheduledPrices)."
    )
    available: bool | None = True
    service_terms: ServiceTermsInput | None = strawberry.field(
        default=None,
        description="Required for a SERVICE, allowed for a VOUCHER (CR-13).",
    )
    member_prices: list[MemberPriceInput] | None = strawberry.field(
        default=None,
        description="Lower redemption thresholds by tier or credit level (at most 10); null "
        "keeps those published, [] removes them. A lower price applies at once, a higher or "
        "removed one after the operator's notice period (CR-07).",
    )


@strawberry.input(description="A lower price for members of a tier and/or credit level.")
class MemberPriceInput:
    tier_code: str | None = strawberry.field(
        default=None, description="A tier's code: for its members and those above."
    )
    credit_level: CreditLevel | None = strawberry.field(
        default=None,
        description="For members of this level or better who consented to credit benefits.",
    )
    points: int = strawberry.field(description="Below the item's base price.")


@strawberry.input
class UpsertCatalogItemsInput:
    items: list[CatalogItemInput]


@strawberry.type
class PublishedItem:
    id: strawberry.ID
    sku: str


@strawberry.type
class UpsertCatalogItemsPayload:
    items: list[PublishedItem]
    user_errors: list[UserError]


async def upsert_catalog_items(
    info: Info[HubContext, Any], input: UpsertCatalogItemsInput
) -> UpsertCatalogItemsPayload:
    outcome = await resolve.upsert_catalog_items(
        info.context,
        [
            ItemInput(
                sku=item.sku,
                title=item.title,
                category=item.category,
                kind=item.kind.value,
                green=item.green,
                base_points=item.base_points,
                available=item.available is not False,
                service_terms=None
                if item.service_terms is None
                else ServiceTermsData(
                    item.service_terms.valid_days, item.service_terms.same_slots_as_paid
                ),
            )
            for item in input.items
        ],
        [
            None
            if item.member_prices is None
            else [
                PriceRowInput(
                    row.tier_code,
                    None if row.credit_level is None else row.credit_level.value,
                    row.points,
                )
                for row in item.member_prices
            ]
            for item in input.items
        ],
    )
    return UpsertCatalogItemsPayload(
        items=[
            PublishedItem(id=strawberry.ID(str(relay.GlobalID("CatalogItem", str(i)))), sku=sku)
            for i, sku in outcome.value or []
        ],
        user_errors=[UserError.from_data(error) for error in outcome.errors],
    )


upsert_catalog_items_field = scoped_mutation(
    upsert_catalog_items,
    "catalog:write",
    "Publish or update the calling partner's items by SKU; all or nothing.",
)
