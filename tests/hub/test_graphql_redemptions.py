"""Two-phase redemptions, refunds, reversals and donations through GraphQL."""

from __future__ import annotations

import asyncio

import pytest

import ledger
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, PUBLISH, _award_input, _gql, _partner, _register

pytestmark = pytest.mark.anyio

RESERVE = """mutation($input: ReserveRedemptionInput!) {
  reserveRedemption(input: $input) { redemption { id status points } userErrors { code } }
}"""
CAPTURE = """mutation($id: ID!) {
  captureRedemption(input: {redemptionId: $id}) { redemption { status points } userErrors { code } }
}"""
VOID = """mutation($id: ID!) {
  voidRedemption(input: {redemptionId: $id}) { redemption { status points } userErrors { code } }
}"""
REDEEM = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) { redemption { id status points } userErrors { code } }
}"""
REFUND = """mutation($input: RefundRedemptionInput!) {
  refundRedemption(input: $input) { restoredPoints compensationPoints userErrors { code } }
}"""
REVERSE = """mutation($input: ReverseAwardInput!) {
  reverseAward(input: $input) { clawedBack debtRecorded userErrors { code } }
}"""
DONATE = """mutation($input: DonatePointsInput!) {
  donatePoints(input: $input) { points userErrors { code } }
}"""
BALANCE = "query($id: ID!) { member(id: $id) { balance heldPoints } }"


async def _alliance(hub: Hub) -> tuple[str, str, str, str]:
    """A store that awarded 123 points, and a cinema with a 35-point ticket; the member
    consented to both."""
    store = await _partner(hub, "store")
    cinema = await _partner(hub, "cinema")
    member = await _register(hub, store)
    await _register(hub, cinema, ref="c-1")
    await _gql(hub, AWARD, store, input=_award_input(member))
    published = await _gql(
        hub,
        PUBLISH,
        cinema,
        items=[
            {
                "sku": "ticket",
                "title": "Ticket",
                "category": "film",
                "kind": "VOUCHER",
                "green": False,
                "basePoints": 35,
            }
        ],
    )
    return store, cinema, member, published["data"]["upsertCatalogItems"]["items"][0]["id"]


async def test_reserve_then_capture_and_a_repeated_capture_answers_the_same(hub: Hub) -> None:
    _, cinema, member, ticket = await _alliance(hub)

    reserved = await _gql(
        hub,
        RESERVE,
        cinema,
        input={"idempotencyKey": "res-1", "memberId": member, "catalogItemId": ticket},
    )
    redemption = reserved["data"]["reserveRedemption"]["redemption"]
    held = await _gql(hub, BALANCE, cinema, id=member)
    captured = await _gql(hub, CAPTURE, cinema, id=redemption["id"])
    again = await _gql(hub, CAPTURE, cinema, id=redemption["id"])

    assert (redemption["status"], redemption["points"]) == ("PENDING", 35)
    assert held["data"]["member"] == {"balance": 88, "heldPoints": 35}
    assert captured["data"]["captureRedemption"] == {
        "redemption": {"status": "CAPTURED", "points": 35},
        "userErrors": [],
    }
    assert again == captured
    assert (await _gql(hub, BALANCE, cinema, id=member))["data"]["member"] == {
        "balance": 88,
        "heldPoints": 0,
    }


async def test_void_returns_the_points_and_a_voided_redemption_cannot_be_captured(hub: Hub) -> None:
    _, cinema, member, ticket = await _alliance(hub)
    reserved = await _gql(
        hub,
        RESERVE,
        cinema,
        input={"idempotencyKey": "res-1", "memberId": member, "catalogItemId": ticket},
    )
    redemption_id = reserved["data"]["reserveRedemption"]["redemption"]["id"]

    voided = await _gql(hub, VOID, cinema, id=redemption_id)
    captured = await _gql(hub, CAPTURE, cinema, id=redemption_id)

    assert voided["data"]["voidRedemption"]["redemption"]["status"] == "VOIDED"
    assert captured["data"]["captureRedemption"]["userErrors"] == [
        {"code": "REDEMPTION_NOT_PENDING"}
    ]
    assert (await _gql(hub, BALANCE, cinema, id=member))["data"]["member"] == {
        "balance": 123,
        "heldPoints": 0,
    }


async def test_another_partners_redemption_reads_as_not_found(hub: Hub) -> None:
    store, cinema, member, ticket = await _alliance(hub)
    reserved = await _gql(
        hub,
        RESERVE,
        cinema,
        input={"idempotencyKey": "res-1", "memberId": member, "catalogItemId": ticket},
    )
    redemption_id = reserved["data"]["reserveRedemption"]["redemption"]["id"]

    body = await _gql(hub, CAPTURE, store, id=redemption_id)

    assert body["data"]["captureRedemption"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_a_refund_in_kind_restores_points_and_adds_compensation(hub: Hub) -> None:
    _, cinema, member, ticket = await _alliance(hub)
    redeemed = await _gql(
        hub,
        REDEEM,
        cinema,
        input={"idempotencyKey": "red-1", "memberId": member, "catalogItemId": ticket},
    )
    redemption_id = redeemed["data"]["redeemPoints"]["redemption"]["id"]

    refunded = await _gql(
        hub,
        REFUND,
        cinema,
        input={"idempotencyKey": "ref-1", "redemptionId": redemption_id, "compensationPoints": 10},
    )

    assert refunded["data"]["refundRedemption"] == {
        "restoredPoints": 35,
        "compensationPoints": 10,
        "userErrors": [],
    }
    assert (await _gql(hub, BALANCE, cinema, id=member))["data"]["member"]["balance"] == 133
    assert (await hub.database.read(ledger.verify)).clean


async def test_reversing_an_award_claws_back_and_records_what_was_spent(hub: Hub) -> None:
    store, cinema, member, ticket = await _alliance(hub)
    await _gql(
        hub,
        REDEEM,
        cinema,
        input={
            "idempotencyKey": "red-1",
            "memberId": member,
            "catalogItemId": ticket,
            "quantity": 3,
        },
    )

    reversed_ = await _gql(
        hub, REVERSE, store, input={"idempotencyKey": "rev-1", "orderRef": "order-1"}
    )
    unknown = await _gql(hub, REVERSE, store, input={"idempotencyKey": "rev-2", "orderRef": "nope"})

    assert reversed_["data"]["reverseAward"] == {
        "clawedBack": 18,
        "debtRecorded": 105,
        "userErrors": [],
    }
    assert unknown["data"]["reverseAward"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert (await _gql(hub, BALANCE, store, id=member))["data"]["member"]["balance"] == 0
    assert (await hub.database.read(ledger.verify)).clean


async def test_points_can_be_donated_only_to_a_charity_project(hub: Hub) -> None:
    store = await _partner(hub, "store")
    charity = await _partner(hub, "charity", kind="CHARITY")
    member = await _register(hub, store)
    await _register(hub, charity, ref="d-1")
    await _gql(hub, AWARD, store, input=_award_input(member))
    items = (
        await _gql(
            hub,
            PUBLISH,
            charity,
            items=[
                {
                    "sku": "trees",
                    "title": "Plant trees",
                    "category": "green",
                    "kind": "CHARITY",
                    "green": True,
                    "basePoints": 1,
                },
                {
                    "sku": "mug",
                    "title": "Mug",
                    "category": "gift",
                    "kind": "GOODS",
                    "green": False,
                    "basePoints": 50,
                },
            ],
        )
    )["data"]["upsertCatalogItems"]["items"]

    donated = await _gql(
        hub,
        DONATE,
        charity,
        input={
            "idempotencyKey": "d1",
            "memberId": member,
            "charityProjectId": items[0]["id"],
            "points": 23,
        },
    )
    refused = await _gql(
        hub,
        DONATE,
        charity,
        input={
            "idempotencyKey": "d2",
            "memberId": member,
            "charityProjectId": items[1]["id"],
            "points": 1,
        },
    )

    assert donated["data"]["donatePoints"] == {"points": 23, "userErrors": []}
    assert refused["data"]["donatePoints"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert (await _gql(hub, BALANCE, charity, id=member))["data"]["member"]["balance"] == 100

    for points in (0, -5):
        zero = await _gql(
            hub,
            """mutation($input: DonatePointsInput!) {
              donatePoints(input: $input) { points userErrors { code message field rule } } }""",
            charity,
            input={
                "idempotencyKey": f"d-{points}",
                "memberId": member,
                "charityProjectId": items[0]["id"],
                "points": points,
            },
        )

        assert zero == {
            "data": {
                "donatePoints": {
                    "points": None,
                    "userErrors": [
                        {
                            "code": "BAD_USER_INPUT",
                            "message": "points must be a positive whole number of points, "
                            f"got {points}",
                            "field": ["points"],
                            "rule": None,
                        }
                    ],
                }
            }
        }


async def test_two_racing_redemptions_cannot_both_spend_the_same_points(hub: Hub) -> None:
    _, cinema, member, ticket = await _alliance(hub)  # 123 points; 3 tickets cost 105

    outcomes = await asyncio.gather(
        *(
            _gql(
                hub,
                REDEEM,
                cinema,
                input={
                    "idempotencyKey": f"race-{n}",
                    "memberId": member,
                    "catalogItemId": ticket,
                    "quantity": 3,
                },
            )
            for n in range(2)
        )
    )

    codes = sorted(
        [error["code"] for error in o["data"]["redeemPoints"]["userErrors"]] for o in outcomes
    )
    assert codes == [[], ["INSUFFICIENT_POINTS"]]
    assert (await _gql(hub, BALANCE, cinema, id=member))["data"]["member"]["balance"] == 18
    assert (await hub.database.read(ledger.verify)).clean
