"""The Partner entity: a brand in the alliance."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
import strawberry.federation
from strawberry import relay
from strawberry.types import Info

from partners.registry import PartnerView
from resolvers import catalog as resolve_catalog
from resolvers import partners as resolve
from resolvers.context import HubContext
from resolvers.ids import database_id
from schema.connections import connection

if TYPE_CHECKING:
    from schema.catalog import CatalogItem


@strawberry.enum(description="Whether a partner takes part in the alliance now.")
class PartnerStatus(Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


@strawberry.federation.type(keys=["id"], description="A brand in the alliance.")
class Partner(relay.Node):
    id: relay.NodeID[int]
    code: str = strawberry.field(description="The partner's stable short code, e.g. `cinema`.")
    name: str
    status: PartnerStatus

    @strawberry.field(description="This partner's available items, by SKU.")
    async def catalog(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Annotated[CatalogItem, strawberry.lazy("schema.catalog")]]:
        from schema.catalog import CatalogItem

        page = await resolve_catalog.partner_catalog(info.context, self.id, first, after)
        edges = [(c, CatalogItem.from_view(view, page.as_of, self)) for c, view in page.edges]
        return connection(edges, page.has_next, after)  # type: ignore[no-any-return]

    @classmethod
    def from_view(cls, view: PartnerView) -> Partner:
        return cls(id=view.id, code=view.code, name=view.name, status=PartnerStatus(view.status))

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls,
        *,
        info: Info[HubContext, Any],
        node_ids: Iterable[str],
        required: bool = False,
    ) -> list[Partner | None]:
        ids = [database_id(node_id) or -1 for node_id in node_ids]
        views = await resolve.partners_by_id(info.context, ids)
        return [None if view is None else cls.from_view(view) for view in views]

    @classmethod
    async def resolve_reference(
        cls, info: Info[HubContext, Any], id: strawberry.ID
    ) -> Partner | None:
        try:
            node_id = relay.GlobalID.from_id(id).node_id
        except ValueError:
            return None
        found = await cls.resolve_nodes(info=info, node_ids=[node_id])
        return found[0]


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
