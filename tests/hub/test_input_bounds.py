"""Input bounds, one table through every mutation: each string inside each mutation's input,
too long, with a NUL or with an unpaired surrogate, is BAD_USER_INPUT on its field path, on
both stores alike; global ids beyond 64 bits read as not found."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)
from strawberry import relay
from strawberry.permission import PermissionExtension

from schema.bounds import DEFAULT_MAX_LENGTH, MAX_LENGTH, string_problem
from schema.root import Mutation, build_schema
from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import Alliance
from tests.hub.test_graphql_members import ALL, _partner
from tests.hub.test_member_self import member_token

pytestmark = pytest.mark.anyio

SCHEMA = build_schema()._schema
SCHEMA_NAME = build_schema().config.name_converter.apply_naming_config
HUGE = str(10**30)
SAMPLES: dict[str, Any] = {
    "Int": 1,
    "Boolean": True,
    "Decimal": "1",
    "DateTime": "2030-01-01T00:00:00+00:00",
    "BigInt": "1",
    "ID": str(relay.GlobalID("Member", "1")),
}


def _bad_values(name: str) -> list[tuple[str, str]]:
    limit = MAX_LENGTH.get(name, DEFAULT_MAX_LENGTH)
    return [
        ("too long", "7" * (limit + 1)),
        ("NUL", "ab\x00c"),
        ("lone surrogate", "ab\ud800c"),
        ("lone low surrogate", "\udc00"),
    ]


def _unwrap(kind: GraphQLInputType) -> GraphQLInputType:
    return kind.of_type if isinstance(kind, GraphQLNonNull) else kind


def _sample(kind: GraphQLInputType) -> Any:
    """A value of every field of ``kind``, optional ones too, so every string is reached."""
    kind = _unwrap(kind)
    if isinstance(kind, GraphQLList):
        return [_sample(kind.of_type)]
    if isinstance(kind, GraphQLInputObjectType):
        return {name: _sample(field.type) for name, field in kind.fields.items()}
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    assert isinstance(kind, GraphQLScalarType)
    return SAMPLES.get(kind.name, "x")


def _string_paths(kind: GraphQLInputType, path: list[str]) -> list[tuple[list[str], str]]:
    """Every String and ID inside ``kind``: its path and its name."""
    kind = _unwrap(kind)
    if isinstance(kind, GraphQLList):
        return _string_paths(kind.of_type, [*path, "0"])
    if isinstance(kind, GraphQLInputObjectType):
        found = []
        for name, field in kind.fields.items():
            found += _string_paths(field.type, [*path, name])
        return found
    if isinstance(kind, GraphQLScalarType) and kind.name in ("String", "ID"):
        return [(path, path[-1] if not path[-1].isdigit() else path[-2])]
    return []


def _set(value: Any, path: list[str], leaf: Any) -> Any:
    copy = json.loads(json.dumps(value))
    target = copy
    for step in path[:-1]:
        target = target[int(step)] if isinstance(target, list) else target[step]
    last = path[-1]
    if isinstance(target, list):
        target[int(last)] = leaf
    else:
        target[last] = leaf
    return copy


def _mutations() -> list[tuple[str, GraphQLInputType, bool]]:
    """Each mutation, its input type, and whether it is the operator's."""
    operator_only = {
        SCHEMA_NAME(field.python_name)
        for field in Mutation.__strawberry_definition__.fields  # type: ignore[attr-defined]
        for extension in field.extensions
        if isinstance(extension, PermissionExtension)
        and any(getattr(p, "accepted", None) == {"operator:admin"} for p in extension.permissions)
    }
    assert SCHEMA.mutation_type is not None
    return [
        (name, field.args["input"].type, name in operator_only)
        for name, field in SCHEMA.mutation_type.fields.items()
    ]


MUTATIONS = _mutations()
CASES = [
    pytest.param(name, kind, operator, path, bad, id=f"{name}.{'.'.join(path)}:{label}")
    for name, kind, operator in MUTATIONS
    for path, field_name in _string_paths(kind, [])
    for label, bad in _bad_values(field_name)
]


def _document(name: str, kind: GraphQLInputType) -> str:
    return (
        f"mutation($input: {kind}) {{ {name}(input: $input) "
        "{ userErrors { code message field rule } } }"
    )


async def _post(hub: Hub, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    # json.dumps escapes lone surrogates (\ud800), as any client must to send them.
    response = await hub.http.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture
async def tokens(hub: Hub) -> dict[bool, str]:
    partner = await _partner(hub, "store", scopes=(*ALL, "settlement:write", "settlement:read"))
    operator = await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))
    return {False: partner, True: operator}


def test_the_table_reaches_every_mutation_and_every_string_in_it() -> None:
    reached = {case.values[0] for case in CASES}

    without_strings = {name for name, kind, _ in MUTATIONS if not _string_paths(kind, [])}
    assert reached == {name for name, _, _ in MUTATIONS} - without_strings
    # enums, times, ints, booleans
    assert without_strings == {
        "openSettlementPeriod",
        "setAmlThreshold",
        "closeMyAccount",
        "exportMyData",
        "setPrivacyPreferences",
        "setCreditSchedule",
    }
    assert len(MUTATIONS) == len(SCHEMA.mutation_type.fields)  # type: ignore[union-attr]
    assert len(CASES) >= 4 * 57  # 57 strings and ids in 31 mutations, 4 bad values each


async def test_every_string_input_of_every_mutation_is_bounded(
    hub: Hub, tokens: dict[bool, str]
) -> None:
    """One test, the whole table: one hub and its tokens serve every case."""
    failures = []
    for case in CASES:
        name, kind, operator, path, bad = case.values
        field_name = path[-1] if not path[-1].isdigit() else path[-2]
        variables = {"input": _set(_sample(kind), path, bad)}

        body = await _post(hub, tokens[operator], _document(name, kind), variables)

        expected = {
            "data": {
                name: {
                    "userErrors": [
                        {
                            "code": "BAD_USER_INPUT",
                            "message": string_problem(field_name, bad),
                            "field": path,
                            "rule": None,
                        }
                    ]
                }
            }
        }
        if body != expected:
            failures.append((case.id, body))
    assert failures == []


ID_TYPES = {
    "memberId": "Member",
    "catalogItemId": "CatalogItem",
    "charityProjectId": "CatalogItem",
    "redemptionId": "Redemption",
    "periodId": "SettlementPeriod",
    "requestId": "ConsentRequest",
    "caseId": "AmlCase",
    "lineId": "ReconciliationLine",
}


def _id_paths(kind: GraphQLInputType) -> list[list[str]]:
    return [path for path, name in _string_paths(kind, []) if name in ID_TYPES]


def _member_only() -> set[str]:
    """The mutations of a signed-in member's own token (``member:self``)."""
    return {
        SCHEMA_NAME(field.python_name)
        for field in Mutation.__strawberry_definition__.fields  # type: ignore[attr-defined]
        for extension in field.extensions
        if isinstance(extension, PermissionExtension)
        and any(getattr(p, "accepted", None) == {"member:self"} for p in extension.permissions)
    }


MEMBER_ONLY = _member_only()
# Whatever it names, recordMemberConsent is refused: consent comes from the member (CR-10).
NOT_FOUND_CODES = ("NOT_FOUND", "COMPLIANCE_VIOLATION", "BAD_USER_INPUT")


def _huge_ids(kind: GraphQLInputType) -> dict[str, Any]:
    value = _sample(kind)
    for path in _id_paths(kind):
        value = _set(value, path, str(relay.GlobalID(ID_TYPES[path[-1]], HUGE)))
    return value


@pytest.mark.parametrize(
    ("name", "kind", "operator"),
    [pytest.param(*m, id=m[0]) for m in MUTATIONS if _id_paths(m[1]) and m[0] not in MEMBER_ONLY],
)
async def test_a_global_id_beyond_64_bits_reads_as_not_found_in_every_mutation(
    hub: Hub, tokens: dict[bool, str], name: str, kind: GraphQLInputType, operator: bool
) -> None:
    body = await _post(hub, tokens[operator], _document(name, kind), {"input": _huge_ids(kind)})

    assert "errors" not in body, body
    expected = (
        ("CONSENT_FROM_MEMBER_REQUIRED",) if name == "recordMemberConsent" else NOT_FOUND_CODES
    )
    assert body["data"][name]["userErrors"][0]["code"] in expected, body


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param(m[0], m[1], id=m[0])
        for m in MUTATIONS
        if _id_paths(m[1]) and m[0] in MEMBER_ONLY
    ],
)
async def test_a_global_id_beyond_64_bits_reads_as_not_found_for_a_signed_in_member(
    hub: Hub, name: str, kind: GraphQLInputType
) -> None:
    await Alliance(hub).setup()
    token = await member_token(hub)

    body = await _post(hub, token, _document(name, kind), {"input": _huge_ids(kind)})

    assert "errors" not in body, body
    assert body["data"][name]["userErrors"][0]["code"] in NOT_FOUND_CODES, body


@pytest.mark.parametrize("type_name", ["Member", "Partner", "CatalogItem"])
async def test_node_with_an_id_beyond_64_bits_is_null(
    hub: Hub, tokens: dict[bool, str], type_name: str
) -> None:
    for digits in (HUGE, str(2**63), "٣", "1_0", " 1", "+1", "-1"):
        body = await _post(
            hub,
            tokens[True],
            "query($id: ID!) { node(id: $id) { id } }",
            {"id": str(relay.GlobalID(type_name, digits))},
        )

        assert body == {"data": {"node": None}}, (digits, body)


async def test_reads_by_an_id_beyond_64_bits_are_null(hub: Hub, tokens: dict[bool, str]) -> None:
    huge = {t: str(relay.GlobalID(t, HUGE)) for t in ("Member", "SettlementPeriod")}

    member = await _post(
        hub, tokens[True], "query($id: ID!) { member(id: $id) { id } }", {"id": huge["Member"]}
    )
    period = await _post(
        hub,
        tokens[True],
        "query($id: ID!) { settlementPeriod(id: $id) { id } }",
        {"id": huge["SettlementPeriod"]},
    )

    assert member == {"data": {"member": None}}
    assert period == {"data": {"settlementPeriod": None}}


async def test_a_partner_reading_a_member_beyond_64_bits_reads_null_like_any_malformed_id(
    hub: Hub, tokens: dict[bool, str]
) -> None:
    body = await _post(
        hub,
        tokens[False],
        "query($id: ID!) { member(id: $id) { id } }",
        {"id": str(relay.GlobalID("Member", HUGE))},
    )

    assert body == {"data": {"member": None}}


@pytest.mark.parametrize(
    ("query", "variables", "field", "message"),
    [
        (
            "query($s: String) { catalog(filter: {search: $s}) { edges { cursor } } }",
            {"s": "x" * 101},
            ["filter", "search"],
            "search must be at most 100 characters",
        ),
        (
            "query($c: [String!]) { catalog(filter: {partnerCodes: $c}) { edges { cursor } } }",
            {"c": ["store", "a\x00"]},
            ["filter", "partnerCodes", "1"],
            "partnerCodes must not contain a NUL character",
        ),
        (
            "query($c: String!) { partner(code: $c) { id } }",
            {"c": "\ud83d"},
            ["code"],
            "code must not contain an unpaired surrogate",
        ),
        (
            "query($a: String) { partners(after: $a) { edges { cursor } } }",
            {"a": "A" * 513},
            ["after"],
            "after must be at most 512 characters",
        ),
    ],
)
async def test_query_arguments_are_bounded_too(
    hub: Hub, query: str, variables: dict[str, Any], field: list[str], message: str
) -> None:
    response = await hub.http.post(
        "/graphql",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Content-Type": "application/json"},
    )

    error = response.json()["errors"][0]
    assert (error["message"], error["extensions"]) == (
        message,
        {"code": "BAD_USER_INPUT", "field": field},
    )


async def test_a_paired_surrogate_and_a_string_at_the_limit_pass(hub: Hub) -> None:
    response = await hub.http.post(
        "/graphql",
        content=json.dumps(
            {
                "query": "query($s: String) { catalog(filter: {search: $s}) { edges { cursor } } }",
                "variables": {"s": "\U0001f3ac" + "x" * 99},
            }
        ),
        headers={"Content-Type": "application/json"},
    )

    assert response.json() == {"data": {"catalog": {"edges": []}}}
