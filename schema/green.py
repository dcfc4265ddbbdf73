"""The green register through GraphQL."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from partners.green import GreenView
from resolvers import green as resolve
from resolvers.context import HubContext
from resolvers.permissions import authenticated
from schema.connections import connection, scoped_mutation
from schema.errors import UserError, user_errors
from schema.partners import Partner, partner_by_id


@strawberry.enum(description="Where a registered green product stands.")
class GreenStatus(Enum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"


@strawberry.type(
    description="A product a partner registered as green. Only VERIFIED ones earn the green "
    "bonus or show green in the catalogue."
)
class GreenProduct:
    id: strawberry.ID
    sku: str
    name: str
    certificate_ref: str = strawberry.field(
        description="The eco-certificate, e.g. a China Environmental Labelling number."
    )
    status: GreenStatus
    registered_at: datetime
    decided_at: datetime | None
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.partner_id)

    @classmethod
    def from_view(cls, view: GreenView) -> GreenProduct:
        return cls(
            id=strawberry.ID(str(relay.GlobalID("GreenProduct", str(view.id)))),
            sku=view.sku,
            name=view.name,
            certificate_ref=view.certificate_ref,
            status=GreenStatus(view.status),
            registered_at=view.registered_at,
            decided_at=view.decided_at,
            partner_id=view.partner_id,
        )


async def green_products(
    info: Info[HubContext, Any],
    first: int | None = None,
    after: str | None = None,
    status: GreenStatus | None = None,
) -> relay.Connection[GreenProduct]:  # type: ignore[type-var]
    page = await resolve.products(
        info.context, first, after, None if status is None else status.value
    )
    edges = [(cursor, GreenProduct.from_view(view)) for cursor, view in page.edges]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


green_products_field = strawberry.field(
    resolver=green_products,
    extensions=authenticated(),
    description="The green register, by id: every partner's for the operator, your own else.",
)


@strawberry.input
class RegisterGreenProductInput:
    sku: str
    name: str
    certificate_ref: str


@strawberry.input
class DecideGreenProductInput:
    green_product_id: strawberry.ID
    verified: bool
    note: str | None = None


@strawberry.type
class GreenProductPayload:
    green_product: GreenProduct | None
    user_errors: list[UserError]


async def register_green_product(
    info: Info[HubContext, Any], input: RegisterGreenProductInput
) -> GreenProductPayload:
    outcome = await resolve.register(info.context, input.sku, input.name, input.certificate_ref)
    found = outcome.value
    return GreenProductPayload(
        green_product=None if found is None else GreenProduct.from_view(found),
        user_errors=user_errors(outcome),
    )


async def decide_green_product(
    info: Info[HubContext, Any], input: DecideGreenProductInput
) -> GreenProductPayload:
    outcome = await resolve.decide(
        info.context, str(input.green_product_id), input.verified, input.note
    )
    found = outcome.value
    return GreenProductPayload(
        green_product=None if found is None else GreenProduct.from_view(found),
        user_errors=user_errors(outcome),
    )


register_green_product_field = scoped_mutation(
    register_green_product,
    "catalog:write",
    "Register a product as green with its eco-certificate; PENDING until the operator decides.",
)
decide_green_product_field = scoped_mutation(
    decide_green_product,
    "operator:admin",
    "Verify or reject a registered green product (audited).",
)
