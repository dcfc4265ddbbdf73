"""Issue 12's findings replayed through GraphQL, each refused with its rule (ledger
untouched, one audit row) next to its allowed neighbour."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import PUBLISH_ONE, Alliance, _allowed, _blocked
from tests.hub.test_graphql_members import _gql, _partner, _register

pytestmark = pytest.mark.anyio

DONATE = """mutation($input: DonatePointsInput!) {
  donatePoints(input: $input) { points userErrors { code rule field } } }"""


async def _project(hub: Hub, token: str) -> str:
    body = await _gql(
        hub,
        PUBLISH_ONE,
        token,
        items=[
            {
                "sku": "trees",
                "title": "Plant trees",
                "category": "charity",
                "kind": "CHARITY",
                "green": False,
                "basePoints": 1,
            }
        ],
    )
    assert body["data"]["upsertCatalogItems"]["userErrors"] == [], body
    return str(body["data"]["upsertCatalogItems"]["items"][0]["id"])


def _donate(
    alliance: Alliance, token: str, project: str, key: str
) -> Callable[[], Awaitable[dict]]:
    async def run() -> dict:
        body = await _gql(
            alliance.hub,
            DONATE,
            token,
            input={
                "idempotencyKey": key,
                "memberId": alliance.member,
                "charityProjectId": project,
                "points": 5,
            },
        )
        return dict(body["data"]["donatePoints"])

    return run


async def test_only_a_registered_charity_receives_donations(hub: Hub) -> None:
    """The convenience store's own "staff fund" cannot take donations: CR-06."""
    alliance = await Alliance(hub).setup()
    charity = await _partner(hub, "greenfuture", kind="CHARITY")
    await _register(hub, charity, ref="g-1")
    project = await _project(hub, charity)

    staff_fund = await _gql(
        hub,
        PUBLISH_ONE,
        alliance.store,
        items=[
            {
                "sku": "staff-fund",
                "title": "Staff fund",
                "category": "charity",
                "kind": "CHARITY",
                "green": False,
                "basePoints": 1,
            }
        ],
    )
    assert [e["rule"] for e in staff_fund["data"]["upsertCatalogItems"]["userErrors"]] == ["CR-06"]
    await _blocked(alliance, "CR-06", _donate(alliance, alliance.store, project, "d-store"))
    await _allowed(alliance, _donate(alliance, charity, project, "d-charity"))


def _publish(alliance: Alliance, title: str, category: str = "gifts", sku: str = "x") -> Any:
    async def run() -> dict:
        body = await _gql(
            alliance.hub,
            PUBLISH_ONE,
            alliance.store,
            items=[
                {
                    "sku": sku,
                    "title": title,
                    "category": category,
                    "kind": "GOODS",
                    "green": False,
                    "basePoints": 100,
                }
            ],
        )
        return dict(body["data"]["upsertCatalogItems"])

    return run


def _order(category: str, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "order": key,
        "paidAmountFen": 1_000,
        "lines": [{"sku": "card", "category": category, "amountFen": 1_000}],
    }


VOCABULARY_CASES = [
    (
        'a "100-yuan WeChat red packet" published as GOODS',
        "CR-05",
        lambda a: _publish(a, "100-yuan WeChat red packet"),
        lambda a: _publish(a, "WeChat-themed mug"),
    ),
    (
        "a 微信红包 published as GOODS",
        "CR-05",
        lambda a: _publish(a, "微信红包 100元"),
        lambda a: _publish(a, "微信主题水杯"),
    ),
    (
        "an item in a stored-value category",
        "CR-05",
        lambda a: _publish(a, "Card", category="Stored_Value"),
        lambda a: _publish(a, "Card", category="stationery"),
    ),
    (
        "a prepaid-card order line",
        "CR-05",
        lambda a: a.award(**_order("prepaid-card", "v1")),
        lambda a: a.award(**_order("greeting-card", "v1b")),
    ),
    (
        "a full-width points order line",
        "CR-07",
        lambda a: a.award(**_order("\uff50\uff4f\uff49\uff4e\uff54\uff53", "v2")),
        lambda a: a.award(**_order("pointe shoes", "v2b")),
    ),
    (
        "a 积分充值 order line",
        "CR-07",
        lambda a: a.award(**_order("积分充值", "v3")),
        lambda a: a.award(**_order("日用品", "v3b")),
    ),
]


@pytest.mark.parametrize(
    ("name", "rule", "blocked", "allowed"),
    VOCABULARY_CASES,
    ids=[c[0] for c in VOCABULARY_CASES],
)
async def test_the_vocabulary_cannot_be_bent(
    hub: Hub, name: str, rule: str, blocked: Any, allowed: Any
) -> None:
    alliance = await Alliance(hub).setup()

    await _blocked(alliance, rule, blocked(alliance))
    await _allowed(alliance, allowed(alliance))


TERM = """mutation($term: String!, $rule: VocabularyRule) {
  setVocabularyTerm(input: {term: $term, rule: $rule}) { term { term rule } userErrors { code } }
}"""
TERMS = "{ complianceVocabulary(first: 100) { edges { node { term rule } } } }"
WITHDRAW = """mutation($id: ID!, $rule: String!) {
  withdrawCatalogItem(input: {catalogItemId: $id, rule: $rule, reason: "sold as cash"}) {
    withdrawal { sku rule } userErrors { code field } } }"""
CATALOG = "{ catalog(first: 100) { edges { node { id } } } }"
REFUSALS = "{ complianceReport { refusals { edges { node { rule partnerCode count } } } } }"
ATTEMPTS = "{ blockedAttempts(first: 5) { edges { node { operation rule } } } }"


async def test_the_operator_edits_the_vocabulary(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    added = await _gql(hub, TERM, alliance.operator, term=" 话费 ", rule="CR_05")
    by_partner = await _gql(hub, TERM, alliance.store, term="mug", rule="CR_05")
    listed = await _gql(hub, TERMS, alliance.store)
    await _blocked(alliance, "CR-05", _publish(alliance, "话费卡", category="phone"))
    removed = await _gql(hub, TERM, alliance.operator, term="话费")
    await _allowed(alliance, _publish(alliance, "话费 plan brochure", category="phone"))

    assert added["data"]["setVocabularyTerm"] == {
        "term": {"term": "话费", "rule": "CR-05"},
        "userErrors": [],
    }
    assert by_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    terms = {
        e["node"]["term"]: e["node"]["rule"]
        for e in listed["data"]["complianceVocabulary"]["edges"]
    }
    assert terms["话费"] == "CR-05"
    assert terms["红包"] == "CR-05"
    assert terms["积分"] == "CR-07"
    assert removed["data"]["setVocabularyTerm"] == {"term": None, "userErrors": []}


async def test_the_operator_withdraws_any_item_and_sees_refused_publications(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    await _publish(alliance, "100-yuan WeChat red packet")()  # refused CR-05, audited

    by_partner = await _gql(hub, WITHDRAW, alliance.store, id=alliance.lens, rule="CR-05")
    withdrawn = await _gql(hub, WITHDRAW, alliance.operator, id=alliance.lens, rule="CR-05")
    republished = await _gql(
        hub,
        PUBLISH_ONE,
        alliance.store,
        items=[
            {
                "sku": "lens",
                "title": "Lens",
                "category": "eyes",
                "kind": "GOODS",
                "green": False,
                "basePoints": 2000,
            }
        ],
    )
    catalog = await _gql(hub, CATALOG)
    report = await _gql(hub, REFUSALS, alliance.operator)
    attempts = await _gql(hub, ATTEMPTS, alliance.operator)

    assert by_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert withdrawn["data"]["withdrawCatalogItem"] == {
        "withdrawal": {"sku": "lens", "rule": "CR-05"},
        "userErrors": [],
    }
    assert republished["data"]["upsertCatalogItems"]["userErrors"] == []
    assert alliance.lens not in [e["node"]["id"] for e in catalog["data"]["catalog"]["edges"]]
    assert {"rule": "CR-05", "partnerCode": "store", "count": 2} in [
        e["node"] for e in report["data"]["complianceReport"]["refusals"]["edges"]
    ]
    assert [e["node"] for e in attempts["data"]["blockedAttempts"]["edges"]][:2] == [
        {"operation": "withdrawCatalogItem", "rule": "CR-05"},
        {"operation": "upsertCatalogItems", "rule": "CR-05"},
    ]
