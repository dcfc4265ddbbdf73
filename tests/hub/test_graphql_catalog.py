"""The unified catalogue through GraphQL: publication, filters, sorts, paging, batching."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session
from strawberry.relay import GlobalID

from core.db import utcnow
from partners.green import decide_green_product
from partners.models import Promotion
from partners.registry import suspend_partner
from tests.hub.conftest import Hub
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio

UPSERT = """mutation($items: [CatalogItemInput!]!) {
  upsertCatalogItems(input: {items: $items}) {
    items { id sku }
    userErrors { code message field rule }
  }
}"""

CATALOG = """query($filter: CatalogFilter, $sort: CatalogSort, $first: Int, $after: String) {
  catalog(filter: $filter, sort: $sort, first: $first, after: $after) {
    edges { node { sku title points basePoints green partner { code } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def item(
    sku: str, points: int, *, green: bool = False, kind: str = "GOODS", category: str = "gifts"
) -> dict:
    return {
        "sku": sku,
        "title": f"Item {sku}",
        "category": category,
        "kind": kind,
        "green": green,
        "basePoints": points,
    }


async def _graphql(hub: Hub, query: str, token: str | None = None, **variables: Any) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await hub.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return dict(response.json())


async def _publisher(hub: Hub, code: str) -> str:
    await hub.partner(code)
    client = await hub.client(partner=code, scopes=("catalog:write",))
    return await hub.access_token(client)


REGISTER_GREEN = """mutation($sku: String!) { registerGreenProduct(input: {sku: $sku,
  name: $sku, certificateRef: "CEL-1"}) { greenProduct { id } } }"""


async def _publish(hub: Hub, token: str, *items: dict) -> dict:
    """Publish ``items``; a green one is first registered and verified green, as only the
    operator's verification makes an item green."""
    for green in (i for i in items if i["green"]):
        body = await _graphql(hub, REGISTER_GREEN, token, sku=green["sku"])
        product = body["data"]["registerGreenProduct"]["greenProduct"]["id"]
        await hub.database.write(
            decide_green_product,
            product_id=int(GlobalID.from_id(product).node_id),
            verified=True,
            note=None,
            client_id="operator",
            now=utcnow(),
        )
    body = await _graphql(hub, UPSERT, token, items=list(items))
    return dict(body["data"]["upsertCatalogItems"])


async def test_a_partner_publishes_items_and_the_catalogue_shows_them(hub: Hub) -> None:
    token = await _publisher(hub, "optician")

    payload = await _publish(hub, token, item("lens", 2000, green=True), item("exam", 1000))
    catalog = await _graphql(hub, CATALOG)

    assert [published["sku"] for published in payload["items"]] == ["lens", "exam"]
    assert payload["userErrors"] == []
    assert [edge["node"] for edge in catalog["data"]["catalog"]["edges"]] == [
        {
            "sku": "exam",
            "title": "Item exam",
            "points": 1000,
            "basePoints": 1000,
            "green": False,
            "partner": {"code": "optician"},
        },
        {
            "sku": "lens",
            "title": "Item lens",
            "points": 2000,
            "basePoints": 2000,
            "green": True,
            "partner": {"code": "optician"},
        },
    ]


async def test_publishing_again_updates_by_sku(hub: Hub) -> None:
    token = await _publisher(hub, "optician")
    first = await _publish(hub, token, item("lens", 2000))

    again = await _publish(hub, token, {**item("lens", 1800), "title": "Blue-light lens"})
    catalog = await _graphql(hub, CATALOG)

    assert again["items"] == first["items"]
    assert catalog["data"]["catalog"]["edges"][0]["node"]["title"] == "Blue-light lens"
    assert catalog["data"]["catalog"]["edges"][0]["node"]["points"] == 1800


@pytest.mark.parametrize(
    ("kind", "rule"),
    [("CASH_EQUIVALENT", "CR-05"), ("EXTERNAL_POINTS", "CR-04"), ("UNIVERSAL_VOUCHER", "CR-04")],
)
async def test_a_refused_kind_refuses_the_whole_batch(hub: Hub, kind: str, rule: str) -> None:
    token = await _publisher(hub, "store")

    payload = await _publish(hub, token, item("water", 50), item("red-packet", 100, kind=kind))
    catalog = await _graphql(hub, CATALOG)

    assert payload["items"] == []
    assert [(e["code"], e["rule"], e["field"]) for e in payload["userErrors"]] == [
        ("COMPLIANCE_VIOLATION", rule, ["items", "1", "kind"])
    ]
    assert catalog["data"]["catalog"]["edges"] == []


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"basePoints": 0}, "basePoints"),
        ({"basePoints": -5}, "basePoints"),
        ({"sku": ""}, "sku"),
        ({"title": "x" * 201}, "title"),
    ],
)
async def test_bad_items_are_bad_user_input_with_the_field(hub: Hub, bad: dict, field: str) -> None:
    token = await _publisher(hub, "store")

    payload = await _publish(hub, token, {**item("water", 50), **bad})

    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [
        ("BAD_USER_INPUT", ["items", "0", field])
    ]


async def test_publishing_needs_the_catalog_write_scope(hub: Hub) -> None:
    await hub.partner("store")
    reader = await hub.client(partner="store", scopes=("catalog:read",))

    denied = await _graphql(hub, UPSERT, await hub.access_token(reader), items=[item("a", 1)])
    anonymous = await _graphql(hub, UPSERT, items=[item("a", 1)])

    assert denied["errors"][0]["extensions"] == {"code": "FORBIDDEN", "scope": "catalog:write"}
    assert anonymous["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_another_partner_cannot_change_my_items(hub: Hub) -> None:
    mine = await _publisher(hub, "optician")
    theirs = await _publisher(hub, "cinema")
    await _publish(hub, mine, item("lens", 2000))

    await _publish(hub, theirs, {**item("lens", 1), "title": "hijacked"})
    catalog = await _graphql(hub, CATALOG, filter={"partnerCodes": ["optician"]})

    assert [e["node"]["title"] for e in catalog["data"]["catalog"]["edges"]] == ["Item lens"]


async def test_a_running_promotion_sets_the_effective_price_and_the_order(hub: Hub) -> None:
    token = await _publisher(hub, "optician")
    payload = await _publish(hub, token, item("lens", 2000), item("frame", 1800))
    lens_id = int(
        __import__("strawberry").relay.GlobalID.from_id(payload["items"][0]["id"]).node_id
    )
    now = utcnow()

    def eye_care_day(session: Session) -> None:
        session.add(
            Promotion(
                item_id=lens_id,
                points=1500,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=1),
                created_at=now,
            )
        )

    await hub.database.write(eye_care_day)
    body = await _graphql(
        hub, "{ catalog { edges { node { sku points basePoints promotion { points } } } } }"
    )

    assert [edge["node"] for edge in body["data"]["catalog"]["edges"]] == [
        {"sku": "lens", "points": 1500, "basePoints": 2000, "promotion": {"points": 1500}},
        {"sku": "frame", "points": 1800, "basePoints": 1800, "promotion": None},
    ]


async def test_anonymous_pages_green_items_of_two_partners_by_effective_points(hub: Hub) -> None:
    """Issue 4's first acceptance point, at small scale."""
    for code, offset in (("cinema", 0), ("teashop", 1), ("bookshop", 2)):
        token = await _publisher(hub, code)
        await _publish(
            hub,
            token,
            *(item(f"{code}-{n}", 100 + 10 * n + offset, green=n % 2 == 0) for n in range(7)),
        )
    wanted = {"partnerCodes": ["cinema", "teashop"], "green": True}

    seen: list[int] = []
    after = None
    while True:
        page = (await _graphql(hub, CATALOG, filter=wanted, first=3, after=after))["data"][
            "catalog"
        ]
        seen += [edge["node"]["points"] for edge in page["edges"]]
        assert all(edge["node"]["green"] for edge in page["edges"])
        assert {edge["node"]["partner"]["code"] for edge in page["edges"]} <= {"cinema", "teashop"}
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert seen == sorted(seen)
    assert len(seen) == 8  # four green items (n = 0, 2, 4, 6) at each of the two partners


@pytest.mark.parametrize(
    ("variables", "skus"),
    [
        ({"filter": {"maxPoints": 150}}, ["a", "b"]),
        ({"filter": {"search": "LENS"}}, ["c"]),
        ({"filter": {"categories": ["eyes"]}}, ["c"]),
        ({"sort": "POINTS_DESC"}, ["c", "b", "a"]),
    ],
)
async def test_filters_and_sorts(hub: Hub, variables: dict, skus: list[str]) -> None:
    token = await _publisher(hub, "store")
    await _publish(
        hub,
        token,
        item("a", 100),
        item("b", 150),
        {**item("c", 900, category="eyes"), "title": "Daily lens"},
    )

    body = await _graphql(hub, CATALOG, **variables)

    assert [edge["node"]["sku"] for edge in body["data"]["catalog"]["edges"]] == skus


async def test_a_suspended_partners_items_leave_the_catalogue(hub: Hub) -> None:
    token = await _publisher(hub, "store")
    await _publish(hub, token, item("a", 100))

    await hub.database.write(suspend_partner, "store", utcnow())

    assert (await _graphql(hub, CATALOG))["data"]["catalog"]["edges"] == []


async def test_an_unknown_sort_is_refused_before_execution(hub: Hub) -> None:
    response = await hub.http.post(
        "/graphql",
        json={"query": "{ catalog(sort: CHEAPEST) { edges { cursor } } }"},
        headers={"Accept": "application/graphql-response+json"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


PAGE_WITH_PARTNERS = (
    "query($n: Int) { catalog(first: $n) "
    "{ edges { cursor node { sku points partner { code name } promotion { points } } } } }"
)


async def _page_statements(hub: Hub, size: int) -> int:
    with counting_statements(hub.database) as log:
        body = await _graphql(hub, PAGE_WITH_PARTNERS, n=size)
    assert len(body["data"]["catalog"]["edges"]) == size
    return log.count


@pytest.mark.parametrize("in_memory", [True, False], ids=["in-memory", "sql"])
async def test_a_page_costs_the_same_statements_whatever_its_size_and_partners(
    hub: Hub, in_memory: bool
) -> None:
    """From the worker's in-memory catalogue (after it loaded) or from the database: the
    statements of a page grow neither with its size nor with the partners on it."""
    memory = hub.app.state.catalogue
    hub.app.state.public_cache.enabled = False  # the catalogue's own statements
    if not in_memory:
        memory.max_items = 0
    for code in ("cinema", "teashop"):
        token = await _publisher(hub, code)
        await _publish(hub, token, *(item(f"{code}-{n}", 100 + n) for n in range(50)))
    await _graphql(hub, PAGE_WITH_PARTNERS, n=1)
    await memory.settled()
    few = [await _page_statements(hub, size) for size in (10, 100)]

    for code in ("bookshop", "optician", "bakery", "florist", "gym", "spa"):
        token = await _publisher(hub, code)
        # Cheaper than the first two partners' items: the first page spans eight partners.
        await _publish(hub, token, *(item(f"{code}-{n}", 10 + n) for n in range(3)))
    await _graphql(hub, PAGE_WITH_PARTNERS, n=1)
    await memory.settled()
    many = [await _page_statements(hub, size) for size in (10, 100)]

    assert few[0] == few[1] == many[0] == many[1]
    if in_memory:
        assert memory.snapshot is not None
        # The page's promotions, one batch; and on PostgreSQL the catalogue's version (on
        # SQLite read outside the engines).
        assert few[0] <= (1 if hub.database.dialect == "sqlite" else 2)
    else:
        assert memory.snapshot is None
        assert few[0] <= 4


PARTNER_CATALOGS = """query($n: Int, $after: String) {
  partners(first: $n) {
    edges { node { code catalog(first: 2, after: $after) {
      edges { node { sku partner { code } } } pageInfo { hasNextPage endCursor }
    } } }
  }
}"""


async def test_each_partner_lists_its_own_catalogue_in_pages(hub: Hub) -> None:
    for code in ("cinema", "teashop"):
        token = await _publisher(hub, code)
        await _publish(hub, token, *(item(f"{code}-{n}", 100 + n) for n in range(3)))

    first = await _graphql(hub, PARTNER_CATALOGS, n=10)
    cinema = first["data"]["partners"]["edges"][0]["node"]
    rest = await _graphql(
        hub,
        """query($after: String) { partner(code: "cinema") {
             catalog(first: 2, after: $after) {
               edges { node { sku } } pageInfo { hasNextPage }
             } } }""",
        after=cinema["catalog"]["pageInfo"]["endCursor"],
    )

    assert [e["node"]["sku"] for e in cinema["catalog"]["edges"]] == ["cinema-0", "cinema-1"]
    assert {e["node"]["partner"]["code"] for e in cinema["catalog"]["edges"]} == {"cinema"}
    assert cinema["catalog"]["pageInfo"]["hasNextPage"] is True
    assert rest["data"]["partner"]["catalog"] == {
        "edges": [{"node": {"sku": "cinema-2"}}],
        "pageInfo": {"hasNextPage": False},
    }


async def test_nested_partner_catalogues_cost_the_same_statements_for_3_or_30_partners(
    hub: Hub,
) -> None:
    for index in range(30):
        code = f"brand-{index:02d}"
        token = await _publisher(hub, code)
        await _publish(hub, token, *(item(f"{code}-{n}", 100 + n) for n in range(3)))

    hub.app.state.public_cache.enabled = False  # the catalogues' own statements
    counts = []
    for size in (3, 30):
        with counting_statements(hub.database) as log:
            body = await _graphql(hub, PARTNER_CATALOGS, n=size)
        assert len(body["data"]["partners"]["edges"]) == size
        counts.append(log.count)

    assert counts[0] == counts[1] <= 4
