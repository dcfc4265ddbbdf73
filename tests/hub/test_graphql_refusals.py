"""Refusals across the API: every mutation's scope, mutations over GET, amounts that are
not positive, oversized batches, and Member entities for federation."""

from __future__ import annotations

import pytest
from strawberry.relay import GlobalID

from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _partner, _register

pytestmark = pytest.mark.anyio

MEMBER = str(GlobalID("Member", "1"))
ITEM = str(GlobalID("CatalogItem", "1"))
REDEMPTION = str(GlobalID("Redemption", "1"))
NOW = "2030-01-01T00:00:00+00:00"
LATER = "2030-01-02T00:00:00+00:00"

EVERY_MUTATION = [
    ("upsertCatalogItems(input: {items: []}) { userErrors { code } }", "catalog:write"),
    (
        'registerMember(input: {externalRef: "x", phone: "13800138000", consent: true}) { userErrors { code } }',
        "members:write",
    ),
    (
        f'awardPoints(input: {{idempotencyKey: "k", memberId: "{MEMBER}", orderRef: "o", paidAmountFen: 1, lines: []}}) {{ userErrors {{ code }} }}',
        "points:issue",
    ),
    (
        'reverseAward(input: {idempotencyKey: "k", orderRef: "o"}) { userErrors { code } }',
        "points:reverse",
    ),
    (
        f'redeemPoints(input: {{idempotencyKey: "k", memberId: "{MEMBER}", catalogItemId: "{ITEM}"}}) {{ userErrors {{ code }} }}',
        "points:redeem",
    ),
    (
        f'reserveRedemption(input: {{idempotencyKey: "k", memberId: "{MEMBER}", catalogItemId: "{ITEM}"}}) {{ userErrors {{ code }} }}',
        "points:redeem",
    ),
    (
        f'captureRedemption(input: {{redemptionId: "{REDEMPTION}"}}) {{ userErrors {{ code }} }}',
        "points:redeem",
    ),
    (
        f'voidRedemption(input: {{redemptionId: "{REDEMPTION}"}}) {{ userErrors {{ code }} }}',
        "points:redeem",
    ),
    (
        f'refundRedemption(input: {{idempotencyKey: "k", redemptionId: "{REDEMPTION}"}}) {{ userErrors {{ code }} }}',
        "points:redeem",
    ),
    (
        f'donatePoints(input: {{idempotencyKey: "k", memberId: "{MEMBER}", charityProjectId: "{ITEM}", points: 1}}) {{ userErrors {{ code }} }}',
        "points:redeem",
    ),
    (
        f'setEarningRule(input: {{pointsPerYuan: "1", effectiveAt: "{LATER}"}}) {{ userErrors {{ code }} }}',
        "catalog:write",
    ),
    (
        f'setPromotion(input: {{catalogItemId: "{ITEM}", points: 1, startsAt: "{NOW}", endsAt: "{LATER}"}}) {{ userErrors {{ code }} }}',
        "catalog:write",
    ),
    (
        'createPartner(input: {code: "x", name: "x", legalEntity: "x"}) { userErrors { code } }',
        "operator:admin",
    ),
    ('suspendPartner(input: {code: "x"}) { userErrors { code } }', "operator:admin"),
    (
        'setSettlementTerms(input: {partnerCode: "x", issuePricePerPointFen: "1", reimbursementPerPointFen: "1", operatorFeeRate: "0", cycle: DAILY}) { userErrors { code } }',
        "operator:admin",
    ),
    (
        'setMarketingBudget(input: {partnerCode: "x", amountFen: 1}) { userErrors { code } }',
        "operator:admin",
    ),
]


@pytest.mark.parametrize(
    ("selection", "scope"), EVERY_MUTATION, ids=[m[0].split("(")[0] for m in EVERY_MUTATION]
)
async def test_every_mutation_needs_its_scope(hub: Hub, selection: str, scope: str) -> None:
    await hub.partner("store")
    reader = await hub.access_token(await hub.client(partner="store", scopes=("catalog:read",)))

    denied = await _gql(hub, f"mutation {{ {selection} }}", reader)
    anonymous = await _gql(hub, f"mutation {{ {selection} }}")

    assert denied["errors"][0]["extensions"] == {"code": "FORBIDDEN", "scope": scope}
    assert anonymous["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


async def test_a_mutation_over_get_is_405(hub: Hub) -> None:
    response = await hub.http.get(
        "/graphql",
        params={"query": 'mutation { suspendPartner(input: {code: "x"}) { userErrors { code } } }'},
        headers={"Accept": "application/graphql-response+json"},
    )

    assert response.status_code == 405


@pytest.mark.parametrize(
    ("document", "variables_for"),
    [
        (
            """mutation($m: ID!, $i: ID!) { redeemPoints(input: {idempotencyKey: "q", memberId: $m,
             catalogItemId: $i, quantity: 0}) { userErrors { code field } } }""",
            "redeemPoints",
        ),
        (
            """mutation($m: ID!, $i: ID!) { donatePoints(input: {idempotencyKey: "d", memberId: $m,
             charityProjectId: $i, points: -5}) { userErrors { code field } } }""",
            "donatePoints",
        ),
        (
            """mutation($r: ID!) { refundRedemption(input: {idempotencyKey: "r", redemptionId: $r,
             compensationPoints: -1}) { userErrors { code field } } }""",
            "refundRedemption",
        ),
    ],
)
async def test_amounts_that_are_not_positive_are_refused(
    hub: Hub, document: str, variables_for: str
) -> None:
    store = await _partner(hub, "store", kind="CHARITY")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_award_input(member))
    published = await _gql(
        hub,
        """mutation { upsertCatalogItems(input: {items: [
        {sku: "cup", title: "Cup", category: "home", kind: CHARITY, green: false, basePoints: 10}
      ]}) { items { id } } }""",
        store,
    )
    item = published["data"]["upsertCatalogItems"]["items"][0]["id"]
    redeemed = await _gql(
        hub,
        f"""mutation {{ redeemPoints(input: {{idempotencyKey: "x",
        memberId: "{member}", catalogItemId: "{item}"}}) {{ redemption {{ id }} }} }}""",
        store,
    )
    redemption = redeemed["data"]["redeemPoints"]["redemption"]["id"]

    body = await _gql(hub, document, store, m=member, i=item, r=redemption)

    errors = body["data"][variables_for]["userErrors"]
    assert [error["code"] for error in errors] == ["BAD_USER_INPUT"]
    balance = await _gql(hub, "query($id: ID!) { member(id: $id) { balance } }", store, id=member)
    assert balance["data"]["member"]["balance"] == 113


async def test_more_than_500_items_in_one_call_are_refused(hub: Hub) -> None:
    await hub.partner("store")
    token = await hub.access_token(await hub.client(partner="store", scopes=("catalog:write",)))
    items = [
        {
            "sku": f"s{n}",
            "title": "t",
            "category": "c",
            "kind": "GOODS",
            "green": False,
            "basePoints": 1,
        }
        for n in range(501)
    ]

    body = await _gql(
        hub,
        """mutation($items: [CatalogItemInput!]!) {
        upsertCatalogItems(input: {items: $items}) { items { id } userErrors { code field } } }""",
        token,
        items=items,
    )

    assert body["data"]["upsertCatalogItems"] == {
        "items": [],
        "userErrors": [{"code": "BAD_USER_INPUT", "field": ["items"]}],
    }


async def test_federation_resolves_members_only_for_consenting_partners(hub: Hub) -> None:
    store = await _partner(hub, "store")
    stranger = await _partner(hub, "optician")
    member = await _register(hub, store)
    query = """query($reps: [_Any!]!) { _entities(representations: $reps) {
        ... on Member { balance } } }"""
    reps = [{"__typename": "Member", "id": member}]

    mine = await _gql(hub, query, store, reps=reps)
    theirs = await _gql(hub, query, stranger, reps=reps)

    assert mine == {"data": {"_entities": [{"balance": 0}]}}
    assert theirs["data"] == {"_entities": [None]}
    assert [(e["path"], e["extensions"]) for e in theirs["errors"]] == [
        (
            ["_entities", 0],
            {"code": "COMPLIANCE_VIOLATION", "rule": "CR-10", "field": ["id"]},
        )
    ]
