"""Issue 14's acceptance walk, through GraphQL: the operator publishes the tier schedule a
week ahead, the clock travels past the notice, and a member climbs from the base tier to
the next by awards, sees the upgrade in the crossing award's payload, earns the multiplier
from the next award on, finds the perk claimable and is charged the tier price. Perks and
member prices on their own: limits, replays, races of claims, wrong tiers, notice (these
put a schedule in force through the service, a shortcut for tests about other things)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

import ledger
from core.config import get_settings
from core.db import utcnow
from members.tiers import TierInput
from partners.clients import IssuedClient
from tests.conftest import Clock
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import ALL, PUBLISH, _gql, _partner, _register
from tests.hub.test_programme_tiers import AWARD, SCHEDULE, _order, _schedule_in_force
from tests.hub.test_programme_tiers import PUBLISH as PUBLISH_TIERS

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
  balance tier { code } tierProgress { nextTier { code } pointsToNext }
  perks { edges { node { perk { code } partnerCode remaining } } } } }"""
PROGRESS = """query($id: ID!) { member(id: $id) { tier { code } tierProgress { heldUntil } } }"""
TIER_HISTORY = """query($id: ID!) { member(id: $id) {
  tierHistory { edges { node { fromTier toTier reason } } } } }"""
CREATE_PARTNER = """mutation($code: String!) {
  createPartner(input: {code: $code, name: $code, legalEntity: $code}) {
    partner { code } userErrors { code message } } }"""
SET_TERMS = """mutation($input: SetSettlementTermsInput!) {
  setSettlementTerms(input: $input) { userErrors { code message } } }"""
SET_BUDGET = """mutation($input: SetMarketingBudgetInput!) {
  setMarketingBudget(input: $input) { userErrors { code message } } }"""
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


async def graphql_partner(
    hub: Hub, operator: str, code: str, scopes: tuple[str, ...] = ALL
) -> IssuedClient:
    """A partner the operator sets up through GraphQL (the partner, its first settlement
    terms, a budget for 60 days), and its OAuth client (the CLI's ``clients create``)."""
    created = await _gql(hub, CREATE_PARTNER, operator, code=code)
    terms = await _gql(
        hub,
        SET_TERMS,
        operator,
        input={
            "partnerCode": code,
            "issuePricePerPointFen": "0.8",
            "reimbursementPerPointFen": "0.75",
            "operatorFeeRate": "0.02",
            "cycle": "MONTHLY",
        },
    )
    budget = await _gql(
        hub,
        SET_BUDGET,
        operator,
        input={
            "partnerCode": code,
            "amountFen": 1_000_000,
            "periodEnd": (utcnow() + timedelta(days=60)).isoformat(),
        },
    )
    for body, field in ((created, "createPartner"), (terms, "setSettlementTerms")):
        assert body["data"][field]["userErrors"] == [], body
    assert budget["data"]["setMarketingBudget"]["userErrors"] == [], budget
    return await hub.client(partner=code, scopes=scopes)


async def operator_client(hub: Hub) -> IssuedClient:
    """The operator's OAuth client (the CLI's ``operator create-client``)."""
    return await hub.client(partner=None, scopes=("operator:admin",))


async def test_a_member_walks_from_the_base_tier_to_the_next(hub: Hub, clock: Clock) -> None:
    """Issue 14's acceptance, through GraphQL only. Outside GraphQL: the two OAuth clients
    (the CLI's ``clients create``, ``operator create-client``), their tokens from
    /oauth/token, the registration code read from the member's phone (the outbox), the
    clock travelling past the notice, and ``ledger verify`` at the end."""
    operator = await hub.access_token(await operator_client(hub))
    mall_client = await graphql_partner(hub, operator, "mall")
    mall = await hub.access_token(mall_client)
    member = await _register(hub, mall)
    effective_at = utcnow() + timedelta(days=7, hours=1)  # the notice period, and an hour
    published = await _gql(
        hub,
        PUBLISH_TIERS,
        operator,
        input={
            "effectiveAt": effective_at.isoformat(),
            "tiers": [
                {"code": "BASIC", "name": "普通", "qualifyingPoints": 0, "earnMultiplier": "1"},
                {
                    "code": "SILVER",
                    "name": "银卡",
                    "qualifyingPoints": 100,
                    "earnMultiplier": "2",
                    "perks": ["2 小时免费停车"],
                },
            ],
        },
    )
    announced = (await _gql(hub, SCHEDULE))["data"]["tierSchedule"]
    waiting = (await _gql(hub, AWARD, mall, input=_order(member, 0, 60)))["data"]["awardPoints"]

    # A week and an hour later: the schedule is in force, and the tokens of a week ago
    # have long expired.
    clock.travel(timedelta(days=7, hours=1, minutes=1))
    expired = await _gql(hub, SCHEDULE, mall)
    mall = await hub.access_token(mall_client)
    in_force = (await _gql(hub, SCHEDULE))["data"]["tierSchedule"]
    perk = await _gql(hub, PERK, mall, input=_perk())
    item = await _publish_item(hub, mall, member_prices=[{"tierCode": "SILVER", "points": 50}])
    based = (await _gql(hub, PERKS, mall, id=member))["data"]["member"]
    crossing = (await _gql(hub, AWARD, mall, input=_order(member, 1, 50)))["data"]["awardPoints"]
    after = (await _gql(hub, AWARD, mall, input=_order(member, 2, 10)))["data"]["awardPoints"]
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
    history = (await _gql(hub, TIER_HISTORY, mall, id=member))["data"]["member"]

    # Published a week ahead, readable by anyone, not yet in force: the award waiting for
    # it earns at the default tier.
    assert published["data"]["setTierSchedule"]["userErrors"] == []
    assert announced["inForce"]["version"] == 0
    assert [e["node"]["version"] for e in announced["upcoming"]["edges"]] == [1]
    assert (waiting["points"], waiting["tierChange"]) == (60, None)
    assert waiting["member"]["tier"]["code"] == "MEMBER"
    assert expired["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert in_force["inForce"]["version"] == 1
    assert in_force["upcoming"]["edges"] == []
    assert perk["data"]["publishPerk"]["userErrors"] == []
    # In force: the member holds the base tier, with the 60 points of a week ago counted.
    assert based["tier"] == {"code": "BASIC"}
    assert based["tierProgress"] == {"nextTier": {"code": "SILVER"}, "pointsToNext": 40}
    assert based["perks"]["edges"] == []
    # The upgrade, in the crossing award's own payload; that award earns at BASIC.
    assert crossing["points"] == 50
    assert crossing["tierChange"] == {"fromTier": "BASIC", "toTier": "SILVER", "reason": "UPGRADE"}
    assert crossing["member"]["tier"]["code"] == "SILVER"
    # The multiplier from the next award on, named by the schedule's version.
    assert after["points"] == 20
    tier_factor = next(f for f in after["factors"] if f["kind"] == "TIER")
    assert (tier_factor["multiplier"], tier_factor["rule"]) == ("2", "tier schedule v1: SILVER")
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
    assert history["tierHistory"]["edges"] == [
        {"node": {"fromTier": "BASIC", "toTier": "SILVER", "reason": "UPGRADE"}}
    ]
    assert (await hub.database.read(ledger.verify)).clean


async def test_after_its_year_and_the_year_of_grace_the_worker_lowers_the_tier(
    hub: Hub, clock: Clock
) -> None:
    """The way down, in the hub's own time: a tier earned through GraphQL is kept through
    its qualifying year and the year of grace, and the worker's daily evaluation lowers it
    the day after, recording why; nothing earlier."""
    from hub.worker import Worker, schedule

    # Start at noon UTC, so no step below lands near a midnight, where the days turn.
    now = utcnow()
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    clock.travel(noon - now if noon > now else noon + timedelta(days=1) - now)
    operating = await operator_client(hub)
    operator = await hub.access_token(operating)
    mall_client = await graphql_partner(hub, operator, "mall")
    mall = await hub.access_token(mall_client)
    member = await _register(hub, mall)
    ahead = (utcnow() + timedelta(days=7, hours=1)).isoformat()
    tiers = [
        {"code": "BASIC", "name": "普通", "qualifyingPoints": 0},
        {"code": "SILVER", "name": "银卡", "qualifyingPoints": 100, "earnMultiplier": "2"},
    ]
    published = await _gql(
        hub, PUBLISH_TIERS, operator, input={"effectiveAt": ahead, "tiers": tiers}
    )
    clock.travel(timedelta(days=7, hours=1, minutes=1))
    mall = await hub.access_token(mall_client)
    climbed = (await _gql(hub, AWARD, mall, input=_order(member, 1, 120)))["data"]["awardPoints"]
    held_until = (await _gql(hub, PROGRESS, mall, id=member))["data"]["member"]["tierProgress"][
        "heldUntil"
    ]
    worker = Worker(hub.database, get_settings(), jobs=schedule(get_settings()))

    async def a_day_of_the_worker_then_the_tier(later: timedelta) -> str:
        clock.travel(later)
        await worker.run_due_jobs()
        token = await hub.access_token(mall_client)
        return str((await _gql(hub, PROGRESS, token, id=member))["data"]["member"]["tier"]["code"])

    after_a_year = await a_day_of_the_worker_then_the_tier(timedelta(days=366))
    # The evaluation of a day looks at that day's start (UTC): held on heldUntil's day.
    on_the_last_day = await a_day_of_the_worker_then_the_tier(
        datetime.fromisoformat(held_until) - utcnow()
    )
    the_day_after = await a_day_of_the_worker_then_the_tier(timedelta(days=1))
    history = (await _gql(hub, TIER_HISTORY, await hub.access_token(mall_client), id=member))[
        "data"
    ]["member"]["tierHistory"]["edges"]

    assert published["data"]["setTierSchedule"]["userErrors"] == []
    assert climbed["tierChange"] == {"fromTier": "BASIC", "toTier": "SILVER", "reason": "UPGRADE"}
    assert (after_a_year, on_the_last_day, the_day_after) == ("SILVER", "SILVER", "BASIC")
    assert [e["node"] for e in history] == [
        {"fromTier": "SILVER", "toTier": "BASIC", "reason": "DOWNGRADE"},
        {"fromTier": "BASIC", "toTier": "SILVER", "reason": "UPGRADE"},
    ]
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


SCHEDULED = """query($id: ID!) { node(id: $id) { ... on CatalogItem {
  memberPrices { tierCode points }
  scheduledMemberPrices { tierCode creditLevel points effectiveAt } } } }"""


async def _token(hub: Hub, code: str) -> str:
    """A fresh token of the partner's (the one of a week ago has expired)."""
    return await hub.access_token(await hub.client(partner=code, scopes=ALL))


async def _member_prices(hub: Hub, item: str) -> dict[str, Any]:
    node: dict[str, Any] = (await _gql(hub, SCHEDULED, None, id=item))["data"]["node"]
    return node


async def test_republishing_the_member_price_in_force_cancels_a_pending_increase(
    hub: Hub, clock: Clock
) -> None:
    """Found by an outside attack (F4): BASIC 50 in force, BASIC 70 published (waits the
    notice), BASIC 50 published again to cancel: a week later the member still pays 50.
    The pending 70 is shown to anyone while it waits, and no longer once cancelled."""
    await _schedule_in_force(hub, TIERS)
    mall = await _partner(hub, "mall")
    member = await _register(hub, mall)
    await _gql(hub, AWARD, mall, input=_order(member, 1, 1000))
    item = await _publish_item(hub, mall, member_prices=[{"tierCode": "BASIC", "points": 50}])
    published_at = utcnow()
    await _publish_item(hub, mall, member_prices=[{"tierCode": "BASIC", "points": 70}])
    waiting = await _member_prices(hub, item)
    await _publish_item(hub, mall, member_prices=[{"tierCode": "BASIC", "points": 50}])
    cancelled = await _member_prices(hub, item)
    clock.travel(timedelta(days=7, minutes=1))
    mall = await _token(hub, "mall")
    later = await _member_prices(hub, item)
    redeemed = await _gql(
        hub,
        REDEEM,
        mall,
        input={"idempotencyKey": "r-1", "memberId": member, "catalogItemId": item},
    )

    assert waiting["memberPrices"] == [{"tierCode": "BASIC", "points": 50}]
    [pending] = waiting["scheduledMemberPrices"]
    assert (pending["tierCode"], pending["creditLevel"], pending["points"]) == ("BASIC", None, 70)
    notice = datetime.fromisoformat(pending["effectiveAt"]) - published_at
    assert timedelta(days=7) <= notice < timedelta(days=7, minutes=1)
    assert cancelled == {
        "memberPrices": [{"tierCode": "BASIC", "points": 50}],
        "scheduledMemberPrices": [],
    }
    assert later == cancelled
    assert redeemed["data"]["redeemPoints"]["redemption"]["points"] == 50


async def test_a_pending_removal_is_shown_and_cancelled_by_the_prices_in_force(
    hub: Hub, clock: Clock
) -> None:
    """A removal ([]) waits the notice and is shown as rows without points; publishing the
    rows in force again cancels it. Publishing the pending change again keeps its date."""
    await _schedule_in_force(hub, TIERS)
    mall = await _partner(hub, "mall")
    member = await _register(hub, mall)
    await _gql(hub, AWARD, mall, input=_order(member, 1, 1000))
    item = await _publish_item(hub, mall, member_prices=[{"tierCode": "BASIC", "points": 50}])
    await _publish_item(hub, mall, member_prices=[])
    removal = await _member_prices(hub, item)
    clock.travel(timedelta(days=1))
    mall = await _token(hub, "mall")
    await _publish_item(hub, mall, member_prices=[])
    again = await _member_prices(hub, item)
    await _publish_item(hub, mall, member_prices=[{"tierCode": "BASIC", "points": 50}])
    cancelled = await _member_prices(hub, item)
    clock.travel(timedelta(days=7))
    mall = await _token(hub, "mall")
    redeemed = await _gql(
        hub,
        REDEEM,
        mall,
        input={"idempotencyKey": "r-1", "memberId": member, "catalogItemId": item},
    )

    [withdrawn] = removal["scheduledMemberPrices"]
    assert (withdrawn["tierCode"], withdrawn["points"]) == ("BASIC", None)
    # The same removal published a day later keeps the date it was given first.
    assert again["scheduledMemberPrices"] == removal["scheduledMemberPrices"]
    assert cancelled["scheduledMemberPrices"] == []
    assert redeemed["data"]["redeemPoints"]["redemption"]["points"] == 50


async def test_a_new_member_price_set_replaces_the_pending_one(hub: Hub, clock: Clock) -> None:
    """BASIC 50 in force, 70 pending; publishing 40 applies at once and drops the 70;
    publishing 60 then waits a fresh notice and replaces nothing else."""
    await _schedule_in_force(hub, TIERS)
    mall = await _partner(hub, "mall")
    item = await _publish_item(hub, mall, member_prices=[{"tierCode": "BASIC", "points": 50}])
    await _publish_item(hub, mall, member_prices=[{"tierCode": "BASIC", "points": 70}])
    await _publish_item(hub, mall, member_prices=[{"tierCode": "BASIC", "points": 40}])
    lowered = await _member_prices(hub, item)
    await _publish_item(
        hub,
        mall,
        member_prices=[{"tierCode": "BASIC", "points": 60}, {"tierCode": "SILVER", "points": 30}],
    )
    raised = await _member_prices(hub, item)

    assert lowered == {
        "memberPrices": [{"tierCode": "BASIC", "points": 40}],
        "scheduledMemberPrices": [],
    }
    assert raised["memberPrices"] == [{"tierCode": "BASIC", "points": 40}]
    assert sorted((r["tierCode"], r["points"]) for r in raised["scheduledMemberPrices"]) == [
        ("BASIC", 60),
        ("SILVER", 30),
    ]


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
