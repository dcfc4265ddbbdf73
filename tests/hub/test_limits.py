"""Request limits: measured in one linear pass (fragments once each), from the operation's
actual variable values, the same directly and behind a router; no suggestions anywhere."""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
import pytest
from graphql import parse
from strawberry.relay import GlobalID

import resolvers.partners
from hub.graphql_http import GRAPHQL_RESPONSE_JSON
from schema import limits
from schema.limits import Measure, measure
from schema.root import build_schema
from tests.hub.conftest import Hub
from tests.serving import serving

pytestmark = pytest.mark.anyio

NEW = {"Accept": GRAPHQL_RESPONSE_JSON}
SCHEMA = build_schema()._schema


def fan_out(levels: int) -> str:
    """Fragments that each spread the next twice: 2^levels fields once expanded."""
    spreads = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"{{ ...F0 }} {spreads} fragment F{levels} on Query {{ apiVersion }}"


def _measure(query: str, **variables: Any) -> Measure:
    [(_, found)] = measure(SCHEMA, parse(query), None, variables)
    return found


async def _post(
    hub: Hub, query: str, token: str | None = None, **variables: Any
) -> httpx2.Response:
    headers = {**NEW, **({"Authorization": f"Bearer {token}"} if token else {})}
    return await hub.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def test_each_fragment_is_measured_once_whatever_the_spreads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walked: list[int] = []
    original = limits._Measurer._selections

    def counting(self: Any, selections: Any, parent: Any) -> Measure:
        walked.append(1)
        return original(self, selections, parent)

    monkeypatch.setattr(limits._Measurer, "_selections", counting)

    found = _measure(fan_out(40))

    assert found == Measure(nodes=2**40, depth=1, cost=2**40, repeats=2)
    assert len(walked) == 42  # 41 fragments and the operation, once each


async def test_the_fan_out_document_at_2_to_the_40_is_refused_as_too_large(hub: Hub) -> None:
    response = await _post(hub, fan_out(40))

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "the operation 'anonymous' expands to 1099511627776 fields, more "
                "than the limit of 10000; spread fewer fragments",
                "locations": [{"line": 1, "column": 1}],
                "extensions": {"code": "QUERY_TOO_LARGE", "fields": 2**40, "limit": 10_000},
            }
        ]
    }


async def test_the_size_bound_comes_before_the_cost(hub: Hub) -> None:
    costly = await _post(hub, fan_out(13))
    large = await _post(hub, fan_out(14))
    fine = await _post(hub, fan_out(12))

    assert costly.json()["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 8192,
        "limit": 5000,
    }
    assert large.json()["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_LARGE",
        "fields": 16384,
        "limit": 10_000,
    }
    assert fine.json() == {"data": {"apiVersion": "0.1.0"}}


def test_the_fan_out_is_refused_while_healthz_answers_on_a_real_server(
    database_url: str,
) -> None:
    body = json.dumps({"query": fan_out(40)}).encode()

    def attack(base: str) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            f"{base}/graphql",
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())

    def health(base: str) -> int:
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as reply:
            return int(reply.status)

    with serving(database_url) as base, ThreadPoolExecutor(max_workers=8) as pool:
        attacks = [pool.submit(attack, base) for _ in range(16)]
        probes = [pool.submit(health, base) for _ in range(8)]
        answers = [future.result() for future in attacks]
        healthy = [future.result() for future in probes]

    assert healthy == [200] * 8
    assert {(status, reply["errors"][0]["extensions"]["code"]) for status, reply in answers} == {
        (200, "QUERY_TOO_LARGE")
    }


@pytest.mark.parametrize(
    "query",
    [
        "{ partners { pageInfo { ...startCursor } } }",
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ ... { apiVersion } ... on Nothing { x } }",
        "{ partners { edges { node { ...I } } } } fragment I on CatalogItem { sku }",
    ],
)
async def test_odd_documents_get_validation_errors_not_crashes(hub: Hub, query: str) -> None:
    response = await _post(hub, query)

    body = response.json()
    assert response.status_code == 400
    assert {error["extensions"]["code"] for error in body["errors"]} == {
        "GRAPHQL_VALIDATION_FAILED"
    }


def test_depth_counts_fields_below_the_root_and_ignores_introspection() -> None:
    assert _measure("{ partners { edges { node { code } } } }").depth == 4
    assert _measure("{ __schema { types { fields { type { name } } } } }").depth == 0


async def test_a_deep_query_is_refused_with_its_depth(hub: Hub) -> None:
    nested = "{ partners { edges { node { " + "catalog { edges { node { partner { " * 3
    query = nested + "code" + " }" * 16

    response = await _post(hub, query)

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_DEEP",
        "depth": 15,
        "limit": 12,
    }


def test_a_page_size_costs_its_actual_value_inline_or_as_a_variable() -> None:
    inline = "{ partners(first: 3) { edges { node { catalog(first: 20) { edges { node { sku } } } } } } }"
    variables = """query($first: Int, $inner: Int) { partners(first: $first) {
        edges { node { catalog(first: $inner) { edges { node { sku } } } } } } }"""
    defaulted = """query($first: Int = 3, $inner: Int = 20) { partners(first: $first) {
        edges { node { catalog(first: $inner) { edges { node { sku } } } } } } }"""

    assert _measure(inline).cost == 190
    assert _measure(variables, first=3, inner=20).cost == 190
    assert _measure(defaulted).cost == 190
    assert _measure(variables).cost == 1 + 20 * (1 + 1 + 1 + 20 * 3)  # null: the default page
    assert _measure(variables, first=500, inner=500).cost == 1 + 100 * (3 + 100 * 3)


def test_a_cached_measure_still_counts_each_requests_own_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One document object (as the parser cache hands back) measured with different values:
    each answer is the one its own values give, whether it was walked or cached."""
    walked: list[int] = []
    original = limits._Measurer.operation

    def counting(self: Any, operation: Any) -> Measure:
        walked.append(1)
        return original(self, operation)

    monkeypatch.setattr(limits._Measurer, "operation", counting)
    document = parse("""query($first: Int = 3, $inner: Int, $reps: [_Any!]!) {
        partners(first: $first) { edges { node { catalog(first: $inner) { edges { node {
        sku } } } } } } _entities(representations: $reps) { ... on Partner { code } } }""")

    def cost(**variables: Any) -> tuple[int, int]:
        [(_, found)] = measure(SCHEMA, document, None, variables)
        return found.cost, found.representations

    assert cost(inner=100, reps=[1]) == (1 + 3 * 303 + 1 + 1, 1)  # the default 3
    assert cost(inner=100, reps=[1]) == (1 + 3 * 303 + 1 + 1, 1)  # cached
    assert cost(first=None, inner=100, reps=[1]) == (1 + 20 * 303 + 1 + 1, 1)  # null: 20
    assert cost(first=100, inner=100, reps=[1, 2]) == (1 + 100 * 303 + 1 + 2, 2)
    assert cost(first=100, inner=500, reps=[1, 2]) == (1 + 100 * 303 + 1 + 2, 2)  # clamped
    assert cost(inner=100, reps=[1] * 3000) == (1 + 3 * 303 + 1 + 3000, 3000)
    assert cost(inner=100, reps=[1]) == (1 + 3 * 303 + 2, 1)
    assert len(walked) == 4  # each distinct set of figures walked once, never reused wrongly


async def test_the_gateways_variable_page_sizes_pass_like_inline_ones(hub: Hub) -> None:
    query = """query($first: Int, $inner: Int) { partners(first: $first) {
        edges { node { catalog(first: $inner) { edges { node { sku } } } } } } }"""

    passing = await _post(hub, query, first=3, inner=20)
    costly = await _post(hub, query, first=100, inner=100)

    assert passing.json() == {"data": {"partners": {"edges": []}}}
    assert costly.json()["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 30_301,
        "limit": 5000,
    }


def _aliases(count: int, prefix: str = "a") -> str:
    return " ".join(f"{prefix}{i}: code" for i in range(count))


async def test_a_routers_root_prefixes_are_not_client_aliases(hub: Hub) -> None:
    merged = f"""query($_v1_representations: [_Any!]!) {{
        _v0_partners: partners(first: 3) {{ edges {{ node {{ {_aliases(14)} }} }} }}
        _v1__entities: _entities(representations: $_v1_representations) {{
            ... on Partner {{ code }} }}
        ... on Query {{ _2_apiVersion: apiVersion _v3__v0_apiVersion: apiVersion }} }}"""
    aliased = f"""{{ _v0_mine: partners(first: 3) {{ edges {{ node {{ {_aliases(15)} }} }} }} }}"""

    passing = await _post(hub, merged, _v1_representations=[])
    refused = await _post(hub, aliased)

    assert passing.json() == {
        "data": {
            "_v0_partners": {"edges": []},
            "_v1__entities": [],
            "_2_apiVersion": "0.1.0",
            "_v3__v0_apiVersion": "0.1.0",
        }
    }
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "16 aliases found, more than the limit of 15"
    assert refused.json()["errors"][0]["extensions"] == {
        "code": "TOO_MANY_ALIASES",
        "aliases": 16,
        "limit": 15,
    }


def test_aliases_spread_by_fragments_count_each_time() -> None:
    query = "{ ...A ...A } fragment A on Query { x: apiVersion y: apiVersion }"

    assert _measure(query).aliases == 4


async def test_3000_representations_are_refused_before_any_resolver_runs(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[object] = []

    async def spy(context: Any, ids: list[int]) -> list[None]:
        looked_up.append(ids)
        return [None for _ in ids]

    monkeypatch.setattr(resolvers.partners, "partners_by_id", spy)
    partner = str(GlobalID("Partner", "1"))
    query = """query($reps: [_Any!]!) { _entities(representations: $reps) {
        ... on Partner { catalog(first: 100) { edges { node { sku title } } } } } }"""

    response = await _post(hub, query, reps=[{"__typename": "Partner", "id": partner}] * 3000)

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {
        "code": "TOO_MANY_REPRESENTATIONS",
        "representations": 3000,
        "limit": 100,
    }
    assert looked_up == []


async def test_entities_cost_their_representations_times_the_selection(hub: Hub) -> None:
    partner = str(GlobalID("Partner", "1"))
    query = """query($reps: [_Any!]!) { _entities(representations: $reps) {
        ... on Partner { catalog(first: 100) { edges { node { sku } } } } } }"""
    inline = f"""{{ _entities(representations: [
        {{__typename: "Partner", id: "{partner}"}}, {{__typename: "Partner", id: "{partner}"}}
        ]) {{ ... on Partner {{ code }} }} }}"""

    response = await _post(hub, query, reps=[{"__typename": "Partner", "id": partner}] * 60)

    assert response.json()["errors"][0]["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": 1 + 60 * (1 + 100 * 3),
        "limit": 5000,
    }
    assert _measure(inline) == Measure(nodes=2, depth=2, cost=3, representations=2, repeats=1)


@pytest.mark.parametrize(
    "query",
    [
        '{ partner(cod: "x") { code } }',  # an argument
        "{ catalog(sort: POINTS) { edges { cursor } } }",  # an enum value
        '{ catalog(filter: { partnerCode: ["x"] }) { edges { cursor } } }',  # an input field
        "query($f: CatalogFiltr) { catalog(filter: $f) { edges { cursor } } }",  # a type name
        "{ partner(code: 1) { cod } }",  # a field
        "{ ... on Partnr { code } }",  # a type condition
    ],
)
async def test_no_error_suggests_a_name(hub: Hub, query: str) -> None:
    response = await _post(hub, query)

    messages = [error["message"] for error in response.json()["errors"]]
    assert messages
    assert not [message for message in messages if "Did you mean" in message]


async def test_suggestions_are_cut_from_the_messages(hub: Hub) -> None:
    argument = await _post(hub, '{ partner(cod: "x") { code } }')
    enum = await _post(hub, "{ catalog(sort: POINTS_AS) { edges { cursor } } }")
    type_name = await _post(
        hub, "query($f: CatalogFiltr) { catalog(filter: $f) { edges { cursor } } }"
    )

    assert [error["message"] for error in argument.json()["errors"]] == [
        "Unknown argument 'cod' on field 'Query.partner'.",
        "Argument 'Query.partner(code:)' of type 'String!' is required, but it was not provided.",
    ]
    assert [error["message"] for error in enum.json()["errors"]] == [
        "Value 'POINTS_AS' does not exist in 'CatalogSort' enum."
    ]
    assert [error["message"] for error in type_name.json()["errors"]] == [
        "Unknown type 'CatalogFiltr'."
    ]


async def test_variable_values_get_no_suggestions_either(hub: Hub) -> None:
    query = "query($f: CatalogFilter, $s: CatalogSort) { catalog(filter: $f, sort: $s) { edges { cursor } } }"

    response = await _post(hub, query, f={"partnerCode": ["x"]}, s="POINTS")

    assert [error["message"] for error in response.json()["errors"]] == [
        "Variable '$f' has invalid value: Expected value of type 'CatalogFilter' not to "
        "include unknown field 'partnerCode'. Found: {'partnerCode': ['x']}.",
        "Variable '$s' has invalid value: Value 'POINTS' does not exist in 'CatalogSort' enum.",
    ]


async def test_one_field_repeated_at_one_level_is_refused_past_20(hub: Hub) -> None:
    fine = await _post(hub, "{ " + "apiVersion " * 20 + "}")
    repeated = await _post(hub, "{ " + "apiVersion " * 21 + "}")
    inline = await _post(hub, "{ " + "... on Query { apiVersion } " * 21 + "}")
    spread = await _post(hub, "{ " + "...A " * 21 + "} fragment A on Query { apiVersion }")

    assert fine.json() == {"data": {"apiVersion": "0.1.0"}}
    for refused in (repeated, inline, spread):
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["extensions"] == {
            "code": "QUERY_TOO_REPETITIVE",
            "repeats": 21,
            "limit": 20,
        }
