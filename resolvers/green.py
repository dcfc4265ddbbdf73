"""The green register: partners register green products, the operator decides."""

from __future__ import annotations

from dataclasses import dataclass

from core.db import utcnow
from partners.green import (
    GreenProductNotFound,
    GreenView,
    decide_green_product,
    green_products_page,
    register_green_product,
)
from resolvers.context import HubContext
from resolvers.ids import decode_id
from resolvers.outcome import Outcome, attempt, require_partner
from resolvers.pagination import encode_cursor, page_request

KIND = "green"


@dataclass(frozen=True, slots=True)
class GreenPage:
    edges: list[tuple[str, GreenView]]
    has_next: bool


async def products(
    context: HubContext, first: int | None, after: str | None, status: str | None
) -> GreenPage:
    """The operator sees every partner's register; a partner its own."""
    page = page_request(first, after, KIND)
    principal = context.principal
    partner_id = None if principal.kind == "operator" else (principal.partner_id or -1)
    rows = await context.database.read(
        green_products_page,
        partner_id=partner_id,
        status=status,
        limit=page.limit,
        after_id=int(page.after[0]) if page.after else None,
    )
    shown = rows[: page.limit]
    return GreenPage([(encode_cursor(KIND, [r.id]), r) for r in shown], len(rows) > page.limit)


async def register(
    context: HubContext, sku: str, name: str, certificate_ref: str
) -> Outcome[GreenView]:
    async def call() -> GreenView:
        return await context.database.write(
            register_green_product,
            partner_id=require_partner(context),
            sku=sku,
            name=name,
            certificate_ref=certificate_ref,
            client_id=context.principal.client_id or "",
            now=utcnow(),
        )

    return await attempt(context, "registerGreenProduct", call)


async def decide(
    context: HubContext, product_gid: str, verified: bool, note: str | None
) -> Outcome[GreenView]:
    product_id = decode_id(product_gid, "GreenProduct")

    async def call() -> GreenView:
        if product_id is None:
            raise GreenProductNotFound()
        return await context.database.write(
            decide_green_product,
            product_id=product_id,
            verified=verified,
            note=note,
            client_id=context.principal.client_id or "",
            now=utcnow(),
        )

    return await attempt(context, "decideGreenProduct", call)
