"""The Partner entity: a brand in the alliance."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
from resolvers.entities import bad_representation, key_text, not_found
from resolvers.ids import database_id, decode_id
from schema.connections import connection

if TYPE_CHECKING:
    from schema.catalog import CatalogItem


@strawberry.enum(description="Whether a partner takes part in the alliance now.")
class PartnerStatus(Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


@strawberry.federation.type(
    keys=["id", "code"], description="A brand in the alliance. Keys: its global id, or its code."
)
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
