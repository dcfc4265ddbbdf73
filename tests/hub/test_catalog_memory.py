"""The worker's in-memory catalogue answers exactly as the database does, and is never
behind it (partners.catalog_memory, resolvers.catalog.CatalogueMemory)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db import utcnow
from partners.catalog import ItemInput, upsert_items
from partners.models import Promotion, ScheduledPrice
from partners.registry import add_partner, find_partner, suspend_partner
from tests.hub.conftest import Hub

pytestmark = pytest.mark.anyio

WALK = """query($filter: CatalogFilter, $sort: CatalogSort, $first: Int, $after: String) {
  catalog(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { node { sku points basePoints priceSource green category partner { code } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _alliance(hub: Hub) -> None:
    now = utcnow()
    for index, code in enumerate(("cinema", "teashop", "optician", "closed")):
        await hub.database.write(
            add_partner, code=code, name=code.title(), legal_entity=f"{code} Ltd", now=now
        )
        partner = await hub.database.read(find_partner, code)
        await hub.database.write(
            upsert_items,
            partner.id,
            [
                ItemInput(
                    f"{code}-{n}",
                    f"Item {n}",
                    ("gifts", "Food", "film")[n % 3],
                    "GOODS",
                    False,
                    100 + (n * 37 + index * 11) % 90,  # ties in price across partners
                )
                for n in range(25)
            ],
            now - timedelta(minutes=index),
        )
    await hub.database.write(suspend_partner, "closed", now)

    def prices(session: Session) -> None:
        ids = [row[0] for row in session.execute(text("SELECT id FROM catalog_items"))]
        for n, item_id in enumerate(ids[:30]):
            if n % 3 == 0:  # running promotions, some cheaper than the base, some ended
                session.add(
                    Promotion(
                        item_id=item_id,
                        points=60 + n,
                        starts_at=now - timedelta(days=1),
                        ends_at=now + timedelta(days=1 if n % 2 else -0.5),
                        created_at=now,
                    )
                )
            if n % 4 == 1:  # base prices past and to come
                session.add(
                    ScheduledPrice(
                        item_id=item_id,
                        points=150 + n,
                        effective_at=now + timedelta(days=-2 if n % 8 == 1 else 3),
                        created_at=now,
                    )
                )
        session.execute(
            text("UPDATE catalog_items SET available = :no WHERE sku = 'cinema-3'"), {"no": False}
        )

    await hub.database.write(prices)


async def _walk(hub: Hub, variables: dict[str, Any]) -> list[list[dict[str, Any]]]:
    pages, after = [], None
    while True:
        reply = await hub.http.post(
            "/graphql",
            json={"query": WALK, "variables": {**variables, "first": 7, "after": after}},
        )
        body = reply.json()
        assert "errors" not in body, body
        found = body["data"]["catalog"]
        pages.append([edge["node"] for edge in found["edges"]])
        if not found["pageInfo"]["hasNextPage"]:
            return pages
        after = found["pageInfo"]["endCursor"]


QUERIES = [
    {"sort": "POINTS_ASC"},
    {"sort": "POINTS_DESC"},
    {"sort": "NEWEST"},
    {"sort": "POINTS_ASC", "filter": {"maxPoints": 130}},
    {"sort": "POINTS_DESC", "filter": {"maxPoints": 130, "categories": ["food"]}},
    {"sort": "NEWEST", "filter": {"partnerCodes": ["teashop", "optician", "closed"]}},
    {"sort": "POINTS_ASC", "filter": {"green": False, "categories": ["FILM", "gifts"]}},
    {"sort": "POINTS_ASC", "filter": {"search": "item 1"}},
]


async def test_every_walk_through_pages_is_the_same_from_memory_and_from_the_database(
    hub: Hub,
) -> None:
    await _alliance(hub)
    memory = hub.app.state.catalogue
    await _walk(hub, {})
    await memory.settled()
    assert memory.snapshot is not None
    # Every page below is public and anonymous: keep the response cache out of the way.
    hub_cache = hub.app.state.public_cache
    hub_cache.enabled = False

    from_memory = [await _walk(hub, variables) for variables in QUERIES]
    memory.snapshot, memory.max_items = None, 0
    from_database = [await _walk(hub, variables) for variables in QUERIES]

    assert from_memory == from_database
    assert sum(len(page) for page in from_memory[0]) == 74  # 3 partners x 25, one withdrawn


CURSORS = """query($sort: CatalogSort, $after: String) {
  catalog(sort: $sort, first: 30, after: $after) {
    edges { cursor node { sku points promotion { points } scheduledPrices { points } } }
  }
}"""


async def test_pages_from_memory_carry_the_databases_cursors_and_nested_prices(
    hub: Hub,
) -> None:
    """Cursors built from the tails a snapshot keeps, and items copied from the objects it
    keeps, priced at each request's own instant: the same as the database's answer for the
    same ``after`` (which fixes the instant), on first use and when reused."""
    await _alliance(hub)
    memory = hub.app.state.catalogue
    await _walk(hub, {})
    await memory.settled()
    snapshot = memory.snapshot
    assert snapshot is not None
    hub.app.state.public_cache.enabled = False

    async def pages(afters: dict[str, str | None]) -> list[Any]:
        found = []
        for sort in ("POINTS_ASC", "POINTS_DESC", "NEWEST"):
            variables = {"sort": sort, "after": afters[sort]}
            body = (
                await hub.http.post("/graphql", json={"query": CURSORS, "variables": variables})
            ).json()
            assert "errors" not in body, body
            found.append(body["data"]["catalog"]["edges"])
        return found

    def nodes(pages: list[Any]) -> list[Any]:  # a first page's cursors hold its own instant
        return [[edge["node"] for edge in page] for page in pages]

    firsts = await pages(dict.fromkeys(("POINTS_ASC", "POINTS_DESC", "NEWEST")))
    afters = {
        sort: page[0]["cursor"]
        for sort, page in zip(("POINTS_ASC", "POINTS_DESC", "NEWEST"), firsts, strict=True)
    }
    from_memory = [await pages(afters), await pages(afters)]
    assert memory.snapshot is snapshot  # every page above came from this snapshot
    memory.snapshot, memory.max_items = None, 0
    from_database = await pages(afters)

    assert from_memory == [from_database, from_database]
    assert nodes(firsts) == nodes(await pages(dict.fromkeys(afters)))
    assert [len(page) for page in from_database] == [30, 30, 30]
    # The objects a snapshot keeps read at each request's instant; a page after a cursor
    # gets copies priced at the cursor's: none is ever priced in place.
    from schema.catalog import CatalogItem

    assert {item.priced_at for item in snapshot.memo[CatalogItem].values()} == {None}


async def test_a_change_is_seen_at_once_by_authenticated_and_anonymous_readers(
    hub: Hub,
) -> None:
    await _alliance(hub)
    memory = hub.app.state.catalogue
    await hub.partner("reader")
    token = await hub.access_token(await hub.client(partner="reader", scopes=("points:redeem",)))
    query = (
        '{ catalog(first: 1, filter: {partnerCodes: ["teashop"]}) '
        "{ edges { node { sku points } } } }"
    )

    async def cheapest(authorization: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {authorization}"} if authorization else {}
        reply = await hub.http.post("/graphql", json={"query": query}, headers=headers)
        return dict(reply.json()["data"]["catalog"]["edges"][0]["node"])

    await cheapest(None)
    await memory.settled()
    assert memory.snapshot is not None
    partner = await hub.database.read(find_partner, "teashop")
    await hub.database.write(
        upsert_items,
        partner.id,
        [ItemInput("teashop-7", "Item 7", "gifts", "GOODS", False, 1)],
        utcnow(),
    )

    assert await cheapest(token) == {"sku": "teashop-7", "points": 1}
    assert await cheapest(None) == {"sku": "teashop-7", "points": 1}
    await memory.settled()
    assert await cheapest(token) == {"sku": "teashop-7", "points": 1}


async def test_a_catalogue_larger_than_the_bound_is_never_held(hub: Hub) -> None:
    await _alliance(hub)
    memory = hub.app.state.catalogue
    memory.max_items = 50

    await _walk(hub, {})
    await memory.settled()

    assert memory.snapshot is None
