"""Partner queries: the directory operators and frontends page through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from members.baskets import BasketRule, PublishedBaskets
from members.earning import PublishedRules, Rule
from partners.errors import PartnerNotFound
from partners.registry import PartnerView, find_partner, partners_page
from resolvers.context import HubContext
from resolvers.pagination import encode_cursor, page_request, position_page

KIND = "partners"


@dataclass(frozen=True, slots=True)
class PartnerPage:
    edges: list[tuple[str, PartnerView]]
    has_next: bool


async def list_partners(context: HubContext, first: int | None, after: str | None) -> PartnerPage:
    """Active partners by code; the operator also sees suspended ones."""
    page = page_request(first, after, KIND)
    after_code = str(page.after[0]) if page.after else None
    rows = await context.database.read(
        partners_page,
        limit=page.limit,
        after_code=after_code,
        include_suspended=context.principal.kind == "operator",
    )
    shown = rows[: page.limit]
    return PartnerPage(
        [(encode_cursor(KIND, [row.code]), row) for row in shown], len(rows) > page.limit
    )


async def partner_by_code(context: HubContext, code: str) -> PartnerView | None:
    try:
        found = await context.database.read(find_partner, code)
    except PartnerNotFound:
        return None
    if found.status != "ACTIVE" and context.principal.kind != "operator":
        return None
    return found


def _shown(context: HubContext, found: list[PartnerView | None]) -> list[PartnerView | None]:
    """Active partners, and for the operator suspended ones too."""
    return [
        view
        if view is None or view.status == "ACTIVE" or context.principal.kind == "operator"
        else None
        for view in found
    ]


async def published_rules(context: HubContext, partner_id: int) -> PublishedRules:
    """A partner's earning terms as published, for anyone (anonymous included): the rule in
    force when the request started and those to come."""
    found: PublishedRules = await context.loaders.earning_rules.load(
        (partner_id, context.started_at)
    )
    return found


async def published_baskets(context: HubContext, partner_id: int, at: datetime) -> PublishedBaskets:
    """A partner's basket bonuses in force at ``at`` and those to come, for anyone."""
    found: PublishedBaskets | None = await context.loaders.baskets.load((partner_id, at))
    return found or PublishedBaskets([], [])


async def upcoming_baskets(
    context: HubContext, partner_id: int, first: int | None, after: str | None
) -> tuple[list[tuple[str, BasketRule]], bool]:
    found = await published_baskets(context, partner_id, context.started_at)
    return position_page(found.upcoming, "upcoming-basket-bonuses", first, after)


async def upcoming_rules(
    context: HubContext, partner_id: int, first: int | None, after: str | None
) -> tuple[list[tuple[str, Rule]], bool]:
    rules = (await published_rules(context, partner_id)).upcoming
    return position_page(rules, "upcoming-earning-rules", first, after)


async def partners_by_id(context: HubContext, ids: list[int]) -> list[PartnerView | None]:
    found: list[PartnerView | None] = await context.loaders.partner.load_many(ids)
    return _shown(context, found)


async def partners_by_code(context: HubContext, codes: list[str]) -> list[PartnerView | None]:
    found: list[PartnerView | None] = await context.loaders.partner_by_code.load_many(codes)
    return _shown(context, found)
