"""Reversals and refunds in settlement, after an outside attack (issue 12, F1 and F2),
replayed through GraphQL next to their honest neighbours:

- F1: one partner awarded 10,000 points, the member redeemed them at the same partner and
  the partner reversed the award: the reversal took nothing back (a debt a throwaway member
  never repays) yet credited the full issue price, so the partner turned its budget into
  cash (+7,350 fen) and the operator paid for it. A reversal now credits the issuer only for
  the points it takes back; the debt is credited as (and when) it is repaid.
- F2: the operator published new terms an hour ahead; before the change the store awarded
  and the cinema redeemed, after it the cinema refunded and the store reversed, each priced
  at the new terms (store +8,000, cinema +6,370, operator -14,370). A refund or a reversal
  is now settled at the price its redemption or award was settled at.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import ledger
from core.db import utcnow
from tests.conftest import Clock
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import PUBLISH, _gql, _partner, _register
from tests.settlement.test_cycle import OPEN, SETTLING, STATEMENTS

pytestmark = pytest.mark.anyio

AWARD = """mutation($input: AwardPointsInput!) { awardPoints(input: $input) {
  points userErrors { code rule message } } }"""
REVERSE = """mutation($input: ReverseAwardInput!) { reverseAward(input: $input) {
  clawedBack debtRecorded userErrors { code message } } }"""
REDEEM = """mutation($input: RedeemPointsInput!) { redeemPoints(input: $input) {
  redemption { id points } userErrors { code message } } }"""
REFUND = """mutation($input: RefundRedemptionInput!) { refundRedemption(input: $input) {
  restoredPoints userErrors { code message } } }"""
TERMS = """mutation($input: SetSettlementTermsInput!) { setSettlementTerms(input: $input) {
  userErrors { code rule message } } }"""
BALANCE = "query($id: ID!) { member(id: $id) { balance } }"


def _ok(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][field]
    assert payload["userErrors"] == [], payload
    return payload


async def _operator(hub: Hub) -> str:
    return await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))


async def _award(hub: Hub, token: str, member: str, ref: str, fen: int = 1_000_000) -> None:
    await _gql(  # 10,000 points for 10,000 yuan at the default rule
        hub,
        AWARD,
        token,
        input={
            "idempotencyKey": f"award-{ref}",
            "memberId": member,
            "orderRef": ref,
            "paidAmountFen": fen,
            "lines": [{"sku": "tv", "category": "home", "amountFen": fen}],
        },
    )


async def _item(hub: Hub, token: str, points: int) -> str:
    body = await _gql(
        hub,
        PUBLISH,
        token,
        items=[
            {
                "sku": "tv",
                "title": "Television",
                "category": "home",
                "kind": "GOODS",
                "green": False,
                "basePoints": points,
            }
        ],
    )
    return str(body["data"]["upsertCatalogItems"]["items"][0]["id"])


async def _redeem(hub: Hub, token: str, member: str, item: str, key: str, **extra: Any) -> str:
    body = await _gql(
        hub,
        REDEEM,
        token,
        input={"idempotencyKey": key, "memberId": member, "catalogItemId": item, **extra},
    )
    return str(_ok(body, "redeemPoints")["redemption"]["id"])


async def _reverse(hub: Hub, token: str, ref: str) -> dict[str, Any]:
    body = await _gql(
        hub, REVERSE, token, input={"idempotencyKey": f"reverse-{ref}", "orderRef": ref}
    )
    return _ok(body, "reverseAward")


async def _statements(
    hub: Hub, operator: str, starts_at: Any, ends_at: Any
) -> tuple[dict[str, dict[str, Any]], int]:
    opened = await _gql(
        hub,
        OPEN,
        operator,
        input={
            "cycle": "MONTHLY",
            "startsAt": starts_at.isoformat(),
            "endsAt": ends_at.isoformat(),
        },
    )
    period = _ok(opened, "openSettlementPeriod")["period"]["id"]
    body = await _gql(hub, STATEMENTS, operator, id=period)
    found = body["data"]["settlementPeriod"]
    statements = {
        edge["node"]["partner"]["code"]: edge["node"] for edge in found["statements"]["edges"]
    }
    revenue = int(found["operatorRevenueFen"])
    assert sum(int(s["netFen"]) for s in statements.values()) + revenue == 0
    return statements, revenue


def _figures(statement: dict[str, Any]) -> dict[str, int]:
    keys = (
        "issuedPoints",
        "issueFen",
        "reversedPoints",
        "reversalFen",
        "redeemedPoints",
        "reimbursementFen",
        "refundedPoints",
        "refundFen",
        "feeFen",
        "netFen",
    )
    return {key: int(statement[key]) for key in keys}


@pytest.mark.parametrize("rounds", [1, 3])
async def test_a_reversal_of_points_spent_at_home_credits_nothing_until_repaid(
    hub: Hub, rounds: int
) -> None:
    """F1 replayed: award, redeem at the same partner, reverse; the debt is recorded, and
    the partner pays for what its member spent (8,000 - 7,500 + 150 fee: the operator is
    +650, where it was -7,350 a round). Each later round's award repays the debt before
    (credited then), leaves nothing to redeem, and its reversal records a new debt."""
    operator = await _operator(hub)
    mart = await _partner(hub, "mart", scopes=SETTLING, budget_fen=1_000_000)
    start = utcnow() - timedelta(minutes=1)
    member = await _register(hub, mart)
    tv = await _item(hub, mart, 10_000)
    for n in range(rounds):
        await _award(hub, mart, member, f"o{n}")
        redeemed = await _gql(
            hub,
            REDEEM,
            mart,
            input={"idempotencyKey": f"r{n}", "memberId": member, "catalogItemId": tv},
        )
        errors = redeemed["data"]["redeemPoints"]["userErrors"]
        assert [e["code"] for e in errors] == ([] if n == 0 else ["INSUFFICIENT_POINTS"])
        reversed_ = await _reverse(hub, mart, f"o{n}")
        assert (reversed_["clawedBack"], reversed_["debtRecorded"]) == (0, 10_000)
    statements, revenue = await _statements(hub, operator, start, utcnow() + timedelta(minutes=1))
    assert _figures(statements["mart"]) == {
        "issuedPoints": 10_000 * rounds,
        "issueFen": 8_000 * rounds,
        "reversedPoints": 10_000 * (rounds - 1),
        "reversalFen": 8_000 * (rounds - 1),
        "redeemedPoints": 10_000,
        "reimbursementFen": 7_500,
        "refundedPoints": 0,
        "refundFen": 0,
        "feeFen": 150,
        "netFen": -650,
    }
    assert revenue == 650
    assert (await hub.database.read(ledger.verify)).clean


async def test_a_reversal_of_points_still_there_credits_the_issuer_at_once(hub: Hub) -> None:
    operator = await _operator(hub)
    mart = await _partner(hub, "mart", scopes=SETTLING, budget_fen=1_000_000)
    start = utcnow() - timedelta(minutes=1)
    member = await _register(hub, mart)
    await _award(hub, mart, member, "o1")
    reversed_ = await _reverse(hub, mart, "o1")
    assert (reversed_["clawedBack"], reversed_["debtRecorded"]) == (10_000, 0)
    statements, revenue = await _statements(hub, operator, start, utcnow() + timedelta(minutes=1))
    figures = _figures(statements["mart"])
    assert (figures["issuedPoints"], figures["issueFen"]) == (10_000, 8_000)
    assert (figures["reversedPoints"], figures["reversalFen"]) == (10_000, 8_000)
    assert (figures["netFen"], revenue) == (0, 0)


async def test_a_repaid_debt_credits_the_issuer_when_repaid_at_the_original_price(
    hub: Hub, clock: Clock
) -> None:
    """The debt of a reversal is credited in the period of its repayment, at the issue
    price of the award it reverses, though the issue price doubled meanwhile."""
    operator = await _operator(hub)
    mart = await _partner(hub, "mart", scopes=SETTLING, budget_fen=10_000_000)
    start = utcnow() - timedelta(minutes=1)
    member = await _register(hub, mart)
    tv = await _item(hub, mart, 10_000)
    await _award(hub, mart, member, "o1")
    await _redeem(hub, mart, member, tv, "r1")
    assert (await _reverse(hub, mart, "o1"))["debtRecorded"] == 10_000
    soon = utcnow() + timedelta(hours=1)
    body = await _gql(
        hub,
        TERMS,
        operator,
        input={
            "partnerCode": "mart",
            "issuePricePerPointFen": "1.6",
            "reimbursementPerPointFen": "0.75",
            "operatorFeeRate": "0.02",
            "cycle": "MONTHLY",
            "effectiveAt": soon.isoformat(),
        },
    )
    assert body["data"]["setSettlementTerms"]["userErrors"] == []
    first_end = utcnow() + timedelta(minutes=1)
    clock.travel(timedelta(hours=2))
    mart = await hub.access_token(await hub.client(partner="mart", scopes=SETTLING))
    operator = await _operator(hub)
    # A later award repays the debt first: the member keeps nothing of it.
    await _award(hub, mart, member, "o2")
    balance = await _gql(hub, BALANCE, mart, id=member)
    assert balance["data"]["member"]["balance"] == 0

    first, _ = await _statements(hub, operator, start, first_end)
    figures = _figures(first["mart"])
    assert (figures["reversedPoints"], figures["reversalFen"]) == (0, 0)
    assert figures["netFen"] == 7_500 - 8_000 - 150
    second, revenue = await _statements(hub, operator, first_end, utcnow() + timedelta(minutes=1))
    figures = _figures(second["mart"])
    assert (figures["issuedPoints"], figures["issueFen"]) == (10_000, 16_000)
    assert (figures["reversedPoints"], figures["reversalFen"]) == (10_000, 8_000)
    assert (figures["netFen"], revenue) == (-8_000, 8_000)
    assert (await hub.database.read(ledger.verify)).clean


async def _store_and_cinema(hub: Hub) -> tuple[str, str, str, str]:
    operator = await _operator(hub)
    store = await _partner(
        hub, "store", scopes=SETTLING, budget_fen=100_000_000, history=timedelta(days=2)
    )
    cinema = await _partner(
        hub, "cinema", scopes=SETTLING, budget_fen=100_000_000, history=timedelta(days=2)
    )
    member = await _register(hub, store)
    await _register(hub, cinema, ref="c-1")
    return operator, store, cinema, member


async def _publish_new_terms(hub: Hub, operator: str) -> None:
    """The store's issue price rises 0.8 -> 1.6 fen, the cinema's reimbursement falls
    0.75 -> 0.1 fen, published one hour ahead."""
    soon = (utcnow() + timedelta(hours=1)).isoformat()
    for code, issue, reimbursement in (("store", "1.6", "0.75"), ("cinema", "0.8", "0.1")):
        body = await _gql(
            hub,
            TERMS,
            operator,
            input={
                "partnerCode": code,
                "issuePricePerPointFen": issue,
                "reimbursementPerPointFen": reimbursement,
                "operatorFeeRate": "0.02",
                "cycle": "MONTHLY",
                "effectiveAt": soon,
            },
        )
        assert body["data"]["setSettlementTerms"]["userErrors"] == []


@pytest.mark.parametrize("change_terms", [True, False])
async def test_refunds_and_reversals_settle_at_their_originals_price(
    hub: Hub, clock: Clock, change_terms: bool
) -> None:
    """F2 replayed (and, without the change of terms, its honest neighbour): award and
    redeem before the change, refund and reverse after it; everyone ends at zero."""
    operator, store, cinema, member = await _store_and_cinema(hub)
    start = utcnow() - timedelta(minutes=1)
    if change_terms:
        await _publish_new_terms(hub, operator)
    await _award(hub, store, member, "big")
    item = await _item(hub, cinema, 5_000)
    redemption = await _redeem(hub, cinema, member, item, "r", quantity=2)
    clock.travel(timedelta(hours=2))
    store = await hub.access_token(await hub.client(partner="store", scopes=SETTLING))
    cinema = await hub.access_token(await hub.client(partner="cinema", scopes=SETTLING))
    operator = await _operator(hub)
    refunded = await _gql(
        hub, REFUND, cinema, input={"idempotencyKey": "f", "redemptionId": redemption}
    )
    assert _ok(refunded, "refundRedemption")["restoredPoints"] == 10_000
    assert (await _reverse(hub, store, "big"))["clawedBack"] == 10_000
    statements, revenue = await _statements(hub, operator, start, utcnow() + timedelta(minutes=1))
    store_figures, cinema_figures = _figures(statements["store"]), _figures(statements["cinema"])
    assert (store_figures["issueFen"], store_figures["reversalFen"]) == (8_000, 8_000)
    assert (cinema_figures["reimbursementFen"], cinema_figures["refundFen"]) == (7_500, 7_500)
    assert cinema_figures["feeFen"] == 0
    assert (store_figures["netFen"], cinema_figures["netFen"], revenue) == (0, 0, 0)
    assert (await hub.database.read(ledger.verify)).clean


async def test_a_redemption_after_the_change_is_reimbursed_at_the_new_terms(
    hub: Hub, clock: Clock
) -> None:
    """The neighbour that must not move: what happens after the change is priced at the
    new terms, and its refund at those too."""
    operator, store, cinema, member = await _store_and_cinema(hub)
    start = utcnow() - timedelta(minutes=1)
    await _publish_new_terms(hub, operator)
    clock.travel(timedelta(hours=2))
    store = await hub.access_token(await hub.client(partner="store", scopes=SETTLING))
    cinema = await hub.access_token(await hub.client(partner="cinema", scopes=SETTLING))
    operator = await _operator(hub)
    await _award(hub, store, member, "big")
    item = await _item(hub, cinema, 5_000)
    await _redeem(hub, cinema, member, item, "r1")
    refunded = await _redeem(hub, cinema, member, item, "r2")
    body = await _gql(hub, REFUND, cinema, input={"idempotencyKey": "f", "redemptionId": refunded})
    assert _ok(body, "refundRedemption")["restoredPoints"] == 5_000
    statements, revenue = await _statements(hub, operator, start, utcnow() + timedelta(minutes=1))
    store_figures, cinema_figures = _figures(statements["store"]), _figures(statements["cinema"])
    assert store_figures["issueFen"] == 16_000
    assert (cinema_figures["reimbursementFen"], cinema_figures["refundFen"]) == (1_000, 500)
    assert cinema_figures["feeFen"] == 10
    assert revenue == 16_000 - 500 + 10
