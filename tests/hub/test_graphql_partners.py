"""The partner directory through GraphQL: connections, node, federation entities."""

from __future__ import annotations

import pytest
from strawberry.relay import GlobalID

from core.db import utcnow
from partners.registry import suspend_partner
from tests.hub.conftest import Hub
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio

PAGE = """query($first: Int, $after: String) {
  partners(first: $first, after: $after) {
    edges { node { code name status } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _graphql(hub: Hub, query: str, token: str | None = None, **variables: object) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await hub.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return dict(response.json())


async def _alliance(hub: Hub) -> None:
    for code in ("bookshop", "cinema", "optician", "teashop"):
        await hub.partner(code)
    await hub.database.write(suspend_partner, "optician", utcnow())


async def test_anonymous_callers_page_through_active_partners(hub: Hub) -> None:
    await _alliance(hub)

    first = await _graphql(hub, PAGE, first=2)
    cursor = first["data"]["partners"]["pageInfo"]["endCursor"]
    second = await _graphql(hub, PAGE, first=2, after=cursor)

    assert [e["node"] for e in first["data"]["partners"]["edges"]] == [
        {"code": "bookshop", "name": "Bookshop", "status": "ACTIVE"},
        {"code": "cinema", "name": "Cinema", "status": "ACTIVE"},
    ]
    assert first["data"]["partners"]["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["code"] for e in second["data"]["partners"]["edges"]] == ["teashop"]
    assert second["data"]["partners"]["pageInfo"]["hasNextPage"] is False


async def test_the_operator_also_sees_suspended_partners(hub: Hub) -> None:
    await _alliance(hub)
    operator = await hub.client(partner=None, scopes=("operator:admin",))

    body = await _graphql(hub, PAGE, await hub.access_token(operator), first=10)

    assert [e["node"]["code"] for e in body["data"]["partners"]["edges"]] == [
        "bookshop",
        "cinema",
        "optician",
        "teashop",
    ]


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 101}, "first"), ({"first": -1}, "first"), ({"after": "not-a-cursor"}, "after")],
)
async def test_bad_page_arguments_are_bad_user_input(
    hub: Hub, variables: dict[str, object], field: str
) -> None:
    body = await _graphql(hub, PAGE, **variables)

    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": [field]}


async def test_partner_by_code_and_node_by_global_id_agree(hub: Hub) -> None:
    await _alliance(hub)

    by_code = await _graphql(hub, '{ partner(code: "cinema") { id code } }')
    global_id = by_code["data"]["partner"]["id"]
    by_node = await _graphql(
        hub, "query($id: ID!) { node(id: $id) { ... on Partner { id code } } }", id=global_id
    )

    assert GlobalID.from_id(global_id).type_name == "Partner"
    assert by_node["data"]["node"] == by_code["data"]["partner"]


async def test_unknown_and_suspended_partners_read_as_null(hub: Hub) -> None:
    await _alliance(hub)
    suspended_id = str(GlobalID("Partner", "3"))

    unknown = await _graphql(hub, '{ partner(code: "nobody") { code } }')
    suspended = await _graphql(hub, '{ partner(code: "optician") { code } }')
    node = await _graphql(hub, "query($id: ID!) { node(id: $id) { id } }", id=suspended_id)

    assert unknown == {"data": {"partner": None}}
    assert suspended == {"data": {"partner": None}}
    assert node == {"data": {"node": None}}


async def test_a_malformed_global_id_is_bad_user_input(hub: Hub) -> None:
    body = await _graphql(hub, 'query { node(id: "%%%") { id } }')

    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_federation_resolves_partner_entities(hub: Hub) -> None:
    await _alliance(hub)
    cinema = str(GlobalID("Partner", "2"))

    body = await _graphql(
        hub,
        "query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Partner { code } } }",
        reps=[{"__typename": "Partner", "id": cinema}],
    )

    assert body == {"data": {"_entities": [{"code": "cinema"}]}}


async def test_a_page_costs_the_same_statements_for_10_or_100_partners(hub: Hub) -> None:
    for index in range(100):
        await hub.partner(f"brand-{index:03d}")

    hub.app.state.public_cache.enabled = False  # the page's own statements
    counts = []
    for size in (10, 100):
        with counting_statements(hub.database) as log:
            body = await _graphql(hub, PAGE, first=size)
        assert len(body["data"]["partners"]["edges"]) == size
        counts.append(log.count)

    assert counts[0] == counts[1] == 1
