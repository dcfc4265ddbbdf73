"""The operator's mutations, and partners' earning rules and promotions, through GraphQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from core.db import utcnow
from members.earning import Line, breakdown, rule_in_force
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, PUBLISH, _award_input, _gql, _register

pytestmark = pytest.mark.anyio

CREATE = """mutation($code: String!) {
  createPartner(input: {code: $code, name: "Star Cinema", legalEntity: "Star Cinema Ltd"}) {
    partner { code name status } userErrors { code message field }
  }
}"""
TERMS = """mutation($input: SetSettlementTermsInput!) {
  setSettlementTerms(input: $input) {
    terms { issuePricePerPointFen reimbursementPerPointFen operatorFeeRate cycle }
    userErrors { code rule field }
  }
}"""
BUDGET = """mutation($input: SetMarketingBudgetInput!) {
  setMarketingBudget(input: $input) { budget { amountFen } userErrors { code field } }
}"""
SUSPEND = """mutation($code: String!) {
  suspendPartner(input: {code: $code}) { partner { status } userErrors { code } }
}"""
RULE = """mutation($input: SetEarningRuleInput!) {
  setEarningRule(input: $input) {
    rule { pointsPerYuan greenBonusMultiplier } userErrors { code rule field }
  }
}"""
PROMO = """mutation($input: SetPromotionInput!) {
  setPromotion(input: $input) { promotion { points } userErrors { code rule field } }
}"""

PARTNER_SCOPES = ("members:write", "members:read", "points:issue", "points:redeem", "catalog:write")


async def _operator(hub: Hub) -> str:
    return await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))


def _terms(code: str = "cinema", **extra: object) -> dict:
    return {
        "partnerCode": code,
        "issuePricePerPointFen": "0.8",
        "reimbursementPerPointFen": "0.75",
        "operatorFeeRate": "0.02",
        "cycle": "MONTHLY",
        **extra,
    }


async def test_the_operator_onboards_a_partner_that_can_award_once_funded(hub: Hub) -> None:
    operator = await _operator(hub)

    created = await _gql(hub, CREATE, operator, code="cinema")
    terms = await _gql(hub, TERMS, operator, input=_terms())
    partner = await hub.access_token(await hub.client(partner="cinema", scopes=PARTNER_SCOPES))
    member = await _register(hub, partner)
    unfunded = await _gql(hub, AWARD, partner, input=_award_input(member, key="a1", order="o1"))
    budget = await _gql(
        hub, BUDGET, operator, input={"partnerCode": "cinema", "amountFen": 100_000}
    )
    funded = await _gql(hub, AWARD, partner, input=_award_input(member, key="a2", order="o2"))

    assert created["data"]["createPartner"] == {
        "partner": {"code": "cinema", "name": "Star Cinema", "status": "ACTIVE"},
        "userErrors": [],
    }
    assert terms["data"]["setSettlementTerms"]["terms"] == {
        "issuePricePerPointFen": "0.8",
        "reimbursementPerPointFen": "0.75",
        "operatorFeeRate": "0.02",
        "cycle": "MONTHLY",
    }
    assert unfunded["data"]["awardPoints"]["userErrors"][0]["rule"] == "CR-02"
    assert budget["data"]["setMarketingBudget"] == {
        "budget": {"amountFen": 100000},
        "userErrors": [],
    }
    assert funded["data"]["awardPoints"]["points"] == 123


@pytest.mark.parametrize(
    ("code", "error"), [("Bad Code", "BAD_USER_INPUT"), ("cinema", "CONFLICT")]
)
async def test_bad_or_taken_partner_codes_are_refused(hub: Hub, code: str, error: str) -> None:
    operator = await _operator(hub)
    await _gql(hub, CREATE, operator, code="cinema")

    body = await _gql(hub, CREATE, operator, code=code)

    assert [e["code"] for e in body["data"]["createPartner"]["userErrors"]] == [error]


async def test_a_partner_token_cannot_use_operator_mutations(hub: Hub) -> None:
    await hub.partner("store")
    partner = await hub.access_token(await hub.client(partner="store", scopes=PARTNER_SCOPES))

    body = await _gql(hub, CREATE, partner, code="rogue")

    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "scope": "operator:admin"}


async def test_settlement_terms_change_only_in_the_future_and_need_offsets(hub: Hub) -> None:
    operator = await _operator(hub)
    await _gql(hub, CREATE, operator, code="cinema")
    await _gql(hub, TERMS, operator, input=_terms())

    now_change = await _gql(hub, TERMS, operator, input=_terms(issuePricePerPointFen="0.9"))
    naive = await _gql(hub, TERMS, operator, input=_terms(effectiveAt="2030-01-01T00:00:00"))
    later = await _gql(
        hub,
        TERMS,
        operator,
        input=_terms(
            issuePricePerPointFen="0.9", effectiveAt=(utcnow() + timedelta(days=1)).isoformat()
        ),
    )

    assert now_change["data"]["setSettlementTerms"]["userErrors"] == [
        {"code": "COMPLIANCE_VIOLATION", "rule": "CR-07", "field": ["effectiveAt"]}
    ]
    assert naive["data"]["setSettlementTerms"]["userErrors"] == [
        {"code": "BAD_USER_INPUT", "rule": None, "field": ["effectiveAt"]}
    ]
    assert later["data"]["setSettlementTerms"]["userErrors"] == []


async def test_suspension_through_graphql_stops_the_partners_token(hub: Hub) -> None:
    operator = await _operator(hub)
    await _gql(hub, CREATE, operator, code="cinema")
    partner = await hub.access_token(await hub.client(partner="cinema", scopes=PARTNER_SCOPES))

    body = await _gql(hub, SUSPEND, operator, code="cinema")
    response = await hub.http.post(
        "/graphql",
        json={"query": "{ viewer { kind } }"},
        headers={"Authorization": f"Bearer {partner}"},
    )

    assert body["data"]["suspendPartner"] == {"partner": {"status": "SUSPENDED"}, "userErrors": []}
    assert response.status_code == 401


async def test_an_earning_rule_must_take_effect_in_the_future(hub: Hub) -> None:
    await hub.partner("store")
    partner = await hub.access_token(await hub.client(partner="store", scopes=PARTNER_SCOPES))
    rule = {
        "pointsPerYuan": "2",
        "greenBonusMultiplier": "1.5",
        "categoryMultipliers": [{"category": "Food", "multiplier": "3"}],
    }

    past = await _gql(
        hub,
        RULE,
        partner,
        input={**rule, "effectiveAt": (utcnow() - timedelta(minutes=1)).isoformat()},
    )
    future_at = utcnow() + timedelta(minutes=1)
    future = await _gql(hub, RULE, partner, input={**rule, "effectiveAt": future_at.isoformat()})
    rule_then = await hub.database.read(rule_in_force, 1, future_at + timedelta(seconds=1))

    assert past["data"]["setEarningRule"]["userErrors"] == [
        {"code": "COMPLIANCE_VIOLATION", "rule": "CR-07", "field": ["effectiveAt"]}
    ]
    assert future["data"]["setEarningRule"] == {
        "rule": {"pointsPerYuan": "2", "greenBonusMultiplier": "1.5"},
        "userErrors": [],
    }
    assert [
        line["points"]
        for line in breakdown(
            rule_then, [Line("rice", "food", 1000, False), Line("bag", "home", 1000, True)]
        ).lines
    ] == [60, 30]
    assert rule_then.points_per_yuan == Decimal(2)


async def test_promotions_keep_their_integrity(hub: Hub) -> None:
    await hub.partner("optician")
    partner = await hub.access_token(await hub.client(partner="optician", scopes=PARTNER_SCOPES))
    lens = (
        await _gql(
            hub,
            PUBLISH,
            partner,
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
    )["data"]["upsertCatalogItems"]["items"][0]["id"]
    now = utcnow()
    window = {
        "catalogItemId": lens,
        "startsAt": (now - timedelta(hours=1)).isoformat(),
        "endsAt": (now + timedelta(days=1)).isoformat(),
    }

    eye_care_day = await _gql(hub, PROMO, partner, input={**window, "points": 1500})
    raised = await _gql(hub, PROMO, partner, input={**window, "points": 1800})
    above_base = await _gql(hub, PROMO, partner, input={**window, "points": 2000})
    lowered = await _gql(hub, PROMO, partner, input={**window, "points": 1400})
    catalog = await _gql(hub, "{ catalog { edges { node { points basePoints } } } }")

    assert eye_care_day["data"]["setPromotion"] == {"promotion": {"points": 1500}, "userErrors": []}
    assert raised["data"]["setPromotion"]["userErrors"][0]["rule"] == "CR-09"
    assert above_base["data"]["setPromotion"]["userErrors"][0]["rule"] == "CR-09"
    assert lowered["data"]["setPromotion"]["userErrors"] == []
    assert catalog["data"]["catalog"]["edges"] == [{"node": {"points": 1400, "basePoints": 2000}}]
