"""The unified catalogue: CatalogItem, its filters and sorts, and publication."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
import strawberry.federation
from strawberry import relay
from strawberry.types import Info

from partners.catalog import CatalogQuery, ItemInput, ItemView
from resolvers import catalog as resolve
from resolvers import partners as resolve_partners
from resolvers.context import HubContext
from resolvers.ids import database_id
from schema.connections import connection, scoped_mutation
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


@strawberry.type(description="A time-limited redemption price.")
class Promotion:
    points: int
    starts_at: datetime
    ends_at: datetime


@strawberry.federation.type(keys=["id"], description="Something to redeem points for.")
class CatalogItem(relay.Node):
    id: relay.NodeID[int]
    sku: str
    title: str
    category: str
    kind: CatalogItemKind
    green: bool = strawberry.field(description="A green (sustainable) item.")
    base_points: int = strawberry.field(description="The price without any promotion.")
    points: int = strawberry.field(description="The price now: a running promotion's, else base.")
    available: bool
    partner: Partner = strawberry.field(description="The partner that honours this item.")
    partner_id: strawberry.Private[int]
    priced_at: strawberry.Private[datetime]

    @classmethod
    def from_view(cls, view: ItemView, priced_at: datetime, partner: Partner) -> CatalogItem:
        """``partner`` is loaded by the caller for the whole page at once, so it is a plain
        attribute: no per-item resolver, and the page executes without awaiting."""
        return cls(
            id=view.id,
            sku=view.sku,
            title=view.title,
            category=view.category,
            kind=CatalogItemKind(view.kind),
            green=view.green,
            base_points=view.base_points,
            points=view.points,
            available=view.available,
            partner=partner,
            partner_id=view.partner_id,
            priced_at=priced_at,
        )

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

    @strawberry.field(description="The promotion running now, if any.")
    async def promotion(self, info: Info[HubContext, Any]) -> Promotion | None:
        found = await resolve.promotion_of(info.context, self.id, self.priced_at)
        if found is None:
            return None
        return Promotion(points=found.points, starts_at=found.starts_at, ends_at=found.ends_at)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[HubContext, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[CatalogItem | None]:
        ids = [database_id(node_id) or -1 for node_id in node_ids]
        views = await resolve.items_by_id(info.context, ids)
        found = [view for view in views if view is not None]
        items = {item.id: item for item in await cls.page(info, found, info.context.started_at)}
        return [None if view is None else items.get(view.id) for view in views]

    @classmethod
    async def resolve_reference(
        cls, info: Info[HubContext, Any], id: strawberry.ID
    ) -> CatalogItem | None:
        try:
            node_id = relay.GlobalID.from_id(id).node_id
        except ValueError:
            return None
        return (await cls.resolve_nodes(info=info, node_ids=[node_id]))[0]


@strawberry.input(description="Narrow the catalogue; every given condition must hold.")
class CatalogFilter:
    partner_codes: list[str] | None = None
    categories: list[str] | None = None
    green: bool | None = None
    max_points: int | None = strawberry.field(
        default=None, description="At most this effective price."
    )
    search: str | None = strawberry.field(default=None, description="Words in the title.")


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
    items = await CatalogItem.page(info, [view for _, view in page.edges], page.as_of)
    edges = [(cursor, item) for (cursor, _), item in zip(page.edges, items, strict=True)]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


@strawberry.input
class CatalogItemInput:
    sku: str
    title: str
    category: str
    kind: CatalogItemKind
    green: bool
    base_points: int
    available: bool | None = True


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
            )
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
