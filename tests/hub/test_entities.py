"""Entity resolution (``_entities``) under the rules of the typed queries: keys partners can
compute, type-checked ids, the same visibility, the same refusals, batched loads, and an
error beside every null."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.relay import GlobalID

from compliance.audit import attempts_page
from core.db import utcnow
from partners.catalog import ItemInput, upsert_items
from partners.registry import find_partner, suspend_partner
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import _gql, _partner, _register
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio

ENTITIES = """query($reps: [_Any!]!) { _entities(representations: $reps) {
    ... on Partner { code name }
    ... on CatalogItem { sku partnerCode title available }
    ... on Member { balance } } }"""


async def _items(hub: Hub, code: str, *items: tuple[str, bool]) -> list[str]:
    """Publish ``(sku, available)`` items for ``code``; their global ids."""
    partner_id = (await hub.database.read(find_partner, code)).id
    published = await hub.database.write(
        upsert_items,
        partner_id,
        [
            ItemInput(sku, f"{sku} title", "food", "GOODS", False, 100, available)
            for sku, available in items
        ],
        utcnow(),
    )
    return [str(GlobalID("CatalogItem", str(item_id))) for item_id, _ in published]


def _errors(body: dict[str, Any]) -> list[tuple[list[Any], str]]:
    return sorted((error["path"], error["extensions"]["code"]) for error in body.get("errors", []))


async def _operator(hub: Hub) -> str:
    return await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))


async def test_partners_resolve_by_id_or_by_code(hub: Hub) -> None:
    await hub.partner("cinema")
    cinema = str(GlobalID("Partner", "1"))

    body = await _gql(
        hub,
        ENTITIES,
        reps=[
            {"__typename": "Partner", "id": cinema},
            {"__typename": "Partner", "code": "cinema"},
            {"__typename": "Partner", "code": "nobody"},
        ],
    )

    assert body["data"] == {
        "_entities": [
            {"code": "cinema", "name": "Cinema"},
            {"code": "cinema", "name": "Cinema"},
            None,
        ]
    }
    assert body["errors"] == [
        {
            "message": "no Partner with this key that you may see",
            "locations": [{"line": 1, "column": 26}],
            "path": ["_entities", 2],
            "extensions": {"code": "NOT_FOUND"},
        }
    ]


async def test_items_resolve_by_id_or_by_partner_code_and_sku(hub: Hub) -> None:
    await hub.partner("store")
    [noodles] = await _items(hub, "store", ("noodles", True))

    body = await _gql(
        hub,
        ENTITIES,
        reps=[
            {"__typename": "CatalogItem", "id": noodles},
            {"__typename": "CatalogItem", "partnerCode": "store", "sku": "noodles"},
            {"__typename": "CatalogItem", "partnerCode": "store", "sku": "tea"},
            {"__typename": "CatalogItem", "partnerCode": "store"},
        ],
    )

    item = {"sku": "noodles", "partnerCode": "store", "title": "noodles title", "available": True}
    assert body["data"] == {"_entities": [item, item, None, None]}
    assert _errors(body) == [(["_entities", 2], "NOT_FOUND"), (["_entities", 3], "BAD_USER_INPUT")]


async def test_an_id_of_another_type_resolves_to_null_with_an_error(hub: Hub) -> None:
    await hub.partner("store")
    [noodles] = await _items(hub, "store", ("noodles", True))
    partner = str(GlobalID("Partner", "1"))

    body = await _gql(
        hub,
        ENTITIES,
        reps=[
            {"__typename": "CatalogItem", "id": partner},  # item 1 exists: the type decides
            {"__typename": "Partner", "id": noodles},
            {"__typename": "Member", "id": partner},
        ],
    )

    assert body["data"] == {"_entities": [None, None, None]}
    assert _errors(body) == [
        (["_entities", 0], "NOT_FOUND"),
        (["_entities", 1], "NOT_FOUND"),
        (["_entities", 2], "UNAUTHENTICATED"),
    ]


@pytest.mark.parametrize(
    "representation",
    [
        {"__typename": "Nothing", "id": "x"},
        {"__typename": None, "id": "x"},
        {"id": "x"},
        "Partner",
        [1, 2],
        {"__typename": "CatalogItem", "id": str(GlobalID("CatalogItem", str(10**30)))},
        {"__typename": "CatalogItem", "id": str(GlobalID("CatalogItem", "-1"))},
        {"__typename": "Partner", "id": str(GlobalID("Partner", "9" * 5000))},
        {"__typename": "Partner", "id": 12},
        {"__typename": "Partner", "code": ["x"]},
        {"__typename": "CatalogItem", "partnerCode": "store", "sku": 7},
    ],
)
async def test_odd_representations_resolve_to_null_with_no_internal_error(
    hub: Hub, representation: object
) -> None:
    await hub.partner("store")

    body = await _gql(hub, ENTITIES, reps=[representation])

    assert body["data"] == {"_entities": [None]}
    [(path, code)] = _errors(body)
    assert path == ["_entities", 0]
    assert code in ("BAD_USER_INPUT", "NOT_FOUND")


async def test_an_unknown_typename_says_so(hub: Hub) -> None:
    body = await _gql(hub, ENTITIES, reps=[{"__typename": "Nothing", "id": "x"}])

    assert body["errors"][0]["message"] == (
        "__typename is not an entity of this subgraph (Partner, CatalogItem, Member)"
    )
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}


async def test_withdrawn_items_are_seen_by_their_partner_and_the_operator_only(
    hub: Hub,
) -> None:
    store = await _partner(hub, "store")
    cinema = await _partner(hub, "cinema")
    operator = await _operator(hub)
    [withdrawn] = await _items(hub, "store", ("old-noodles", False))
    reps = [
        {"__typename": "CatalogItem", "id": withdrawn},
        {"__typename": "CatalogItem", "partnerCode": "store", "sku": "old-noodles"},
    ]
    node = "query($id: ID!) { node(id: $id) { ... on CatalogItem { sku } } }"

    seen = {
        who: (
            await _gql(hub, ENTITIES, token, reps=reps),
            await _gql(hub, node, token, id=withdrawn),
        )
        for who, token in (
            ("anonymous", None),
            ("cinema", cinema),
            ("store", store),
            ("operator", operator),
        )
    }

    item = {
        "sku": "old-noodles",
        "partnerCode": "store",
        "title": "old-noodles title",
        "available": False,
    }
    for who in ("anonymous", "cinema"):
        entities, by_node = seen[who]
        assert entities["data"] == {"_entities": [None, None]}, who
        assert _errors(entities) == [
            (["_entities", 0], "NOT_FOUND"),
            (["_entities", 1], "NOT_FOUND"),
        ]
        assert by_node == {"data": {"node": None}}, who
    for who in ("store", "operator"):
        entities, by_node = seen[who]
        assert entities == {"data": {"_entities": [item, item]}}, who
        assert by_node == {"data": {"node": {"sku": "old-noodles"}}}, who


async def test_a_suspended_partners_items_are_the_operators_only(hub: Hub) -> None:
    await hub.partner("store")
    operator = await _operator(hub)
    [noodles] = await _items(hub, "store", ("noodles", True))
    await hub.database.write(suspend_partner, "store", utcnow())
    reps = [
        {"__typename": "CatalogItem", "id": noodles},
        {"__typename": "Partner", "code": "store"},
    ]

    anonymous = await _gql(hub, ENTITIES, reps=reps)
    operators = await _gql(hub, ENTITIES, operator, reps=reps)
    by_node = await _gql(hub, "query($id: ID!) { node(id: $id) { id } }", id=noodles)

    assert anonymous["data"] == {"_entities": [None, None]}
    assert _errors(anonymous) == [(["_entities", 0], "NOT_FOUND"), (["_entities", 1], "NOT_FOUND")]
    assert by_node == {"data": {"node": None}}
    assert operators == {
        "data": {
            "_entities": [
                {
                    "sku": "noodles",
                    "partnerCode": "store",
                    "title": "noodles title",
                    "available": True,
                },
                {"code": "store", "name": "Store"},
            ]
        }
    }


async def test_members_get_the_refusals_of_member_by_id_and_are_audited(hub: Hub) -> None:
    store = await _partner(hub, "store")
    stranger = await _partner(hub, "cinema")
    no_scope = await hub.access_token(await hub.client(partner="cinema", scopes=("catalog:write",)))
    operator = await _operator(hub)
    member = await _register(hub, store)
    reps = [{"__typename": "Member", "id": member}]
    unknown = [{"__typename": "Member", "id": str(GlobalID("Member", "999"))}]

    anonymous = await _gql(hub, ENTITIES, reps=reps)
    scopeless = await _gql(hub, ENTITIES, no_scope, reps=reps)
    refused = await _gql(hub, ENTITIES, stranger, reps=reps)
    mine = await _gql(hub, ENTITIES, store, reps=reps)
    operators_unknown = await _gql(hub, ENTITIES, operator, reps=unknown)

    assert _errors(anonymous) == [(["_entities", 0], "UNAUTHENTICATED")]
    assert _errors(scopeless) == [(["_entities", 0], "FORBIDDEN")]
    assert refused["data"] == {"_entities": [None]}
    assert [error["extensions"] for error in refused["errors"]] == [
        {"code": "COMPLIANCE_VIOLATION", "rule": "CR-10", "field": ["id"]}
    ]
    assert mine == {"data": {"_entities": [{"balance": 0}]}}
    assert _errors(operators_unknown) == [(["_entities", 0], "NOT_FOUND")]
    attempts = await hub.database.read(
        attempts_page, limit=10, before_id=None, rule=None, partner_ids=None
    )
    assert [(a.operation, a.rule) for a in attempts] == [("_entities", "CR-10")]


async def test_entities_load_in_one_statement_per_batch_whatever_their_number(hub: Hub) -> None:
    for n in range(12):
        await hub.partner(f"p{n:02d}")
        await _items(hub, f"p{n:02d}", ("noodles", True), ("tea", True))

    async def statements(count: int) -> tuple[int, dict[str, Any]]:
        reps: list[dict[str, str]] = []
        for n in range(count):
            code = f"p{n % 12:02d}"
            reps.append({"__typename": "Partner", "code": code})
            reps.append(
                {"__typename": "CatalogItem", "partnerCode": code, "sku": ("noodles", "tea")[n % 2]}
            )
            reps.append(
                {"__typename": "CatalogItem", "id": str(GlobalID("CatalogItem", str(n + 1)))}
            )
            reps.append({"__typename": "Partner", "id": str(GlobalID("Partner", str(n % 12 + 1)))})
        with counting_statements(hub.database) as log:
            body = await _gql(hub, ENTITIES, reps=reps)
        return log.count, body

    few, few_body = await statements(2)
    many, many_body = await statements(24)

    assert "errors" not in few_body
    assert "errors" not in many_body
    assert len(many_body["data"]["_entities"]) == 96
    assert few == many == 4  # partners by code, items by key, items by id, partners by id


@pytest.mark.parametrize(
    "type_name", ["Foo", "Redemption", "Transfer", "Lot", "WebhookEndpoint", "PageInfo", "Query"]
)
async def test_node_with_an_id_of_no_node_type_reads_as_not_found(hub: Hub, type_name: str) -> None:
    """An id naming a type that is not a Node of this schema names nothing: null, like an
    unknown id, never an internal error (found by an outside attack)."""
    reply = await _gql(
        hub,
        "query($id: ID!) { node(id: $id) { __typename } }",
        id=str(GlobalID(type_name, "1")),
    )

    assert reply == {"data": {"node": None}}
