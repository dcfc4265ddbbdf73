"""Issue 14's acceptance walk, through GraphQL: a member climbs from the base tier to the
next by awards, sees the upgrade in the crossing award's payload, earns the multiplier
from the next award on, finds the perk claimable and is charged the tier price. Perks and
member prices on their own: limits, replays, races of claims, wrong tiers, notice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import ledger
from members.tiers import TierInput
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import PUBLISH, _gql, _partner, _register
from tests.hub.test_programme_tiers import AWARD, _order, _schedule_in_force

pytestmark = pytest.mark.anyio

TIERS = [
    TierInput("BASIC", "普通", 0, 0, "1", []),
    TierInput("SILVER", "银卡", 100, 0, "2", ["2 小时免费停车"]),
]
PERK = """mutation($input: PublishPerkInput!) {
  publishPerk(input: $input) { perk { code name tierCodes limitPerPeriod period }
    userErrors { code message field rule } } }"""
CLAIM = """mutation($input: ClaimPerkInput!) {
  claimPerk(input: $input) { claim { perkCode used limitPerPeriod period }
    userErrors { code message field rule } } }"""
PERKS = """query($id: ID!) { member(id: $id) {
  balance tier { code } perks { edges { node { perk { code } partnerCode remaining } } } } }"""
REDEEM = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) {
    redemption { status points memberPrice { tierCode creditLevel points } }
    userErrors { code message field rule } } }"""
ITEM = """query($id: ID!) { node(id: $id) { ... on CatalogItem {
  points memberPrices { tierCode creditLevel points } } } }"""


def _item(points: int = 80, member_prices: list[dict] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "sku": "coffee",
        "title": "Coffee",
        "category": "drinks",
        "kind": "GOODS",
        "green": False,
        "basePoints": points,
    }
    if member_prices is not None:
        item["memberPrices"] = member_prices
    return item


async def _publish_item(hub: Hub, token: str, **item: Any) -> str:
    body = await _gql(hub, PUBLISH, token, items=[_item(**item)])
    assert body["data"]["upsertCatalogItems"]["userErrors"] == [], body
    return str(body["data"]["upsertCatalogItems"]["items"][0]["id"])


def _perk(**change: Any) -> dict[str, Any]:
    return {
        "code": "FREE_PARKING",
        "name": "2 小时免费停车",
        "tierCodes": ["SILVER"],
        "limitPerPeriod": 1,
        "period": "DAY",
        **change,
    }


def _claim(member: str, key: str = "claim-1") -> dict[str, Any]:
    return {"idempotencyKey": key, "memberId": member, "perkCode": "FREE_PARKING"}


async def test_a_member_walks_from_the_base_tier_to_the_next(hub: Hub) -> None:
    await _schedule_in_force(hub, TIERS)
    mall = await _partner(hub, "mall")
    perk = await _gql(hub, PERK, mall, input=_perk())
    item = await _publish_item(hub, mall, member_prices=[{"tierCode": "SILVER", "points": 50}])
    member = await _register(hub, mall)

    first = (await _gql(hub, AWARD, mall, input=_order(member, 1, 60)))["data"]["awardPoints"]
    before = (await _gql(hub, PERKS, mall, id=member))["data"]["member"]
    crossing = (await _gql(hub, AWARD, mall, input=_order(member, 2, 50)))["data"]["awardPoints"]
    after = (await _gql(hub, AWARD, mall, input=_order(member, 3, 10)))["data"]["awardPoints"]
    claimable = (await _gql(hub, PERKS, mall, id=member))["data"]["member"]
    claimed = (await _gql(hub, CLAIM, mall, input=_claim(member)))["data"]["claimPerk"]
    replayed = (await _gql(hub, CLAIM, mall, input=_claim(member)))["data"]["claimPerk"]
    again = (await _gql(hub, CLAIM, mall, input=_claim(member, "claim-2")))["data"]["claimPerk"]
    read = (await _gql(hub, PERKS, mall, id=member))["data"]["member"]
    listed = (await _gql(hub, ITEM, None, id=item))["data"]["node"]
    redeemed = await _gql(
        hub,
        REDEEM,
        mall,
        input={"idempotencyKey": "r-1", "memberId": member, "catalogItemId": item},
    )

    assert perk["data"]["publishPerk"]["userErrors"] == []
    assert (first["points"], first["tierChange"]) == (60, None)
    assert before["tier"] == {"code": "BASIC"}
    assert before["perks"]["edges"] == []
    # The upgrade, in the crossing award's own payload.
    assert crossing["points"] == 50
    assert crossing["tierChange"] == {"fromTier": "BASIC", "toTier": "SILVER", "reason": "UPGRADE"}
    assert crossing["member"]["tier"]["code"] == "SILVER"
    # The multiplier from the next award on.
    assert after["points"] == 20
    assert next(f for f in after["factors"] if f["kind"] == "TIER")["multiplier"] == "2"
    # The perk claimable, once a day as published, idempotently; no points move.
    assert claimable["perks"]["edges"] == [
        {"node": {"perk": {"code": "FREE_PARKING"}, "partnerCode": "mall", "remaining": 1}}
    ]
    assert claimed["claim"] == {
        "perkCode": "FREE_PARKING",
        "used": 1,
        "limitPerPeriod": 1,
        "period": "DAY",
    }
    assert replayed == claimed
    assert [e["code"] for e in again["userErrors"]] == ["LIMIT_EXCEEDED"]
    assert read["perks"]["edges"] == []
    assert read["balance"] == claimable["balance"] == 130
    # The tier price: anyone reads it; the redemption charges it and says which row.
    assert listed == {
        "points": 80,
        "memberPrices": [{"tierCode": "SILVER", "creditLevel": None, "points": 50}],
    }
    assert redeemed["data"]["redeemPoints"]["redemption"] == {
        "status": "CAPTURED",
        "points": 50,
        "memberPrice": {"tierCode": "SILVER", "creditLevel": None, "points": 50},
    }
    assert (await hub.database.read(ledger.verify)).clean


async def test_a_base_member_pays_the_base_price_and_cannot_claim(hub: Hub) -> None:
    await _schedule_in_force(hub, TIERS)
    mall = await _partner(hub, "mall")
    await _gql(hub, PERK, mall, input=_perk())
    item = await _publish_item(hub, mall, member_prices=[{"tierCode": "SILVER", "points": 50}])
    member = await _register(hub, mall)
    await _gql(hub, AWARD, mall, input=_order(member, 1, 90))

    claim = (await _gql(hub, CLAIM, mall, input=_claim(member)))["data"]["claimPerk"]
    redeemed = await _gql(
        hub,
        REDEEM,
        mall,
        input={"idempotencyKey": "r-1", "memberId": member, "catalogItemId": item},
    )

    assert [e["code"] for e in claim["userErrors"]] == ["FORBIDDEN"]
    assert redeemed["data"]["redeemPoints"]["redemption"] == {
        "status": "CAPTURED",
        "points": 80,
        "memberPrice": None,
    }


async def test_racing_claims_never_pass_the_published_limit(hub: Hub) -> None:
    await _schedule_in_force(hub, [TierInput("BASIC", "Basic", 0, 0, "1", [])])
    mall = await _partner(hub, "mall")
    await _gql(hub, PERK, mall, input=_perk(tierCodes=["BASIC"], limitPerPeriod=3))
    member = await _register(hub, mall)

    bodies = await asyncio.gather(
        *(_gql(hub, CLAIM, mall, input=_claim(member, f"c-{n}")) for n in range(8))
    )

    claims = [b["data"]["claimPerk"] for b in bodies]
    assert sum(1 for c in claims if c["claim"] is not None) == 3
    assert sorted(c["claim"]["used"] for c in claims if c["claim"]) == [1, 2, 3]
    assert {e["code"] for c in claims for e in c["userErrors"]} == {"LIMIT_EXCEEDED"}


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"name": "Cash back 10 元"}, ["name"], "CR-05"),
        ({"limitPerPeriod": 0}, ["limitPerPeriod"], None),
        ({"tierCodes": []}, ["tierCodes"], None),
        ({"code": "free parking"}, ["code"], None),
    ],
    ids=["cash-like", "no claims", "no tier", "malformed code"],
)
async def test_malformed_perks_are_refused(
    hub: Hub, change: dict, field: list[str], rule: str | None
) -> None:
    mall = await _partner(hub, "mall")

    body = await _gql(hub, PERK, mall, input=_perk(**change))

    errors = body["data"]["publishPerk"]["userErrors"]
    assert [(e["field"], e["rule"]) for e in errors] == [(field, rule)]


async def test_a_partner_claims_only_its_own_perks_for_consenting_members(hub: Hub) -> None:
    await _schedule_in_force(hub, [TierInput("BASIC", "Basic", 0, 0, "1", [])])
    mall = await _partner(hub, "mall")
    other = await _partner(hub, "other")
    await _gql(hub, PERK, mall, input=_perk(tierCodes=["BASIC"]))
    member = await _register(hub, mall)

    foreign = (await _gql(hub, CLAIM, other, input=_claim(member)))["data"]["claimPerk"]

    assert [e["code"] for e in foreign["userErrors"]] == ["NOT_FOUND"]


async def test_a_higher_member_price_waits_the_notice_and_a_lower_applies_at_once(
    hub: Hub,
) -> None:
    mall = await _partner(hub, "mall")
    item = await _publish_item(hub, mall, member_prices=[{"tierCode": "GOLD", "points": 50}])
    lower = await _publish_item(hub, mall, member_prices=[{"tierCode": "GOLD", "points": 40}])
    now_lower = (await _gql(hub, ITEM, None, id=item))["data"]["node"]["memberPrices"]
    await _publish_item(hub, mall, member_prices=[])
    still = (await _gql(hub, ITEM, None, id=item))["data"]["node"]["memberPrices"]
    refused = await _gql(
        hub, PUBLISH, mall, items=[_item(member_prices=[{"tierCode": "GOLD", "points": 80}])]
    )

    assert lower == item
    assert now_lower == [{"tierCode": "GOLD", "creditLevel": None, "points": 40}]
    # Removing them is worse for GOLD members: it waits the notice period (CR-07).
    assert still == now_lower
    errors = refused["data"]["upsertCatalogItems"]["userErrors"]
    assert [e["code"] for e in errors] == ["BAD_USER_INPUT"]  # not below the base price


async def test_a_credit_price_needs_the_members_consent_and_hides_the_level(hub: Hub) -> None:
    from tests.hub.test_programme_credit import SET_LEVEL
    from tests.hub.test_programme_tiers import _operator

    mall = await _partner(hub, "mall")
    operator = await _operator(hub)
    item = await _publish_item(hub, mall, member_prices=[{"creditLevel": "B", "points": 60}])
    consenting = await _register(hub, mall, creditBenefitsConsent=True)
    other = await _register(hub, mall, ref="m-2", phone="139 0013 9000")
    for n, member in enumerate((consenting, other)):
        await _gql(hub, SET_LEVEL, operator, id=member, level="A")  # better than B
        await _gql(hub, AWARD, mall, input=_order(member, n, 200))

    def redeem(member: str, key: str) -> Any:
        return _gql(
            hub,
            REDEEM,
            mall,
            input={"idempotencyKey": key, "memberId": member, "catalogItemId": item},
        )

    with_consent = (await redeem(consenting, "r-1"))["data"]["redeemPoints"]["redemption"]
    without = (await redeem(other, "r-2"))["data"]["redeemPoints"]["redemption"]

    assert with_consent["points"] == 60
    # The row applied, without the level: the mall has no credit-level consent.
    assert with_consent["memberPrice"] == {"tierCode": None, "creditLevel": None, "points": 60}
    assert without["points"] == 80
    assert without["memberPrice"] is None
