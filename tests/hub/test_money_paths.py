"""Issue 12's findings replayed through GraphQL, each refused with its rule (ledger
untouched, one audit row) next to its allowed neighbour."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import select
from strawberry import relay

import ledger
from compliance.vocabulary import DEFAULT_TERMS
from core.db import utcnow
from members.earning import Line, award, set_earning_rule
from members.redemption import redeem_item
from partners.catalog import ItemInput, ServiceTerms, upsert_items
from partners.models import GreenDecision
from partners.registry import find_partner
from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import PUBLISH_ONE, Alliance, _allowed, _blocked
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _partner, _register
from tests.hub.test_graphql_redemptions import REFUND
from tests.settlement.test_cycle import OPEN, STATEMENTS

pytestmark = pytest.mark.anyio

DONATE = """mutation($input: DonatePointsInput!) {
  donatePoints(input: $input) { points userErrors { code rule field } } }"""


def _item(
    sku: str,
    title: str,
    category: str,
    kind: str = "GOODS",
    points: int = 100,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "sku": sku,
        "title": title,
        "category": category,
        "kind": kind,
        "green": False,
        "basePoints": points,
        **extra,
    }


LENS = _item("lens", "Lens", "eyes", points=2000)


async def _project(hub: Hub, token: str) -> str:
    body = await _gql(
        hub,
        PUBLISH_ONE,
        token,
        items=[_item("trees", "Plant trees", "charity", "CHARITY", 1)],
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
        items=[_item("staff-fund", "Staff fund", "charity", "CHARITY", 1)],
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
            items=[_item(sku, title, category)],
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


BENT = [
    ("红\u200b包 100元", "CR-05"),  # a zero-width space
    ("red pac\u00adket", "CR-05"),  # a soft hyphen
    ("po\u2060ints", "CR-07"),  # a word joiner
    ("红 包", "CR-05"),
    ("积 分", "CR-07"),
    ("紅包", "CR-05"),
    ("積分", "CR-07"),
    ("儲值卡", "CR-05"),
    ("禮品卡", "CR-05"),
    ("現金券", "CR-05"),
    ("\u0440\u043eints", "CR-07"),  # Cyrillic er and o
    ("\u0441\u0430sh", "CR-05"),  # Cyrillic es and a
    ("redpacket", "CR-05"),
    ("giftcard", "CR-05"),
    ("prepaidcard", "CR-05"),
    ("cashcoupon", "CR-05"),
    ("hongbao", "CR-05"),
    ("代金券", "CR-05"),
    ("提现", "CR-05"),
    ("reload", "CR-07"),
]


async def test_bent_spellings_are_refused_at_every_entry_point(hub: Hub) -> None:
    """The outside attack's bypasses of the vocabulary, each refused as a catalogue title,
    a catalogue category and an order line category: ledger untouched, one audit row each,
    nothing in the catalogue or the member's balance; the plain neighbours go through."""
    alliance = await Alliance(hub).setup()

    for index, (text, rule) in enumerate(BENT):
        await _blocked(alliance, rule, _publish(alliance, text, sku=f"t{index}"))
        await _blocked(alliance, rule, _publish(alliance, "Card", category=text, sku=f"c{index}"))
        await _blocked(alliance, rule, alliance.award(**_order(text, f"b{index}")))
    catalog = await _gql(hub, CATALOG, alliance.store)
    await _allowed(alliance, _publish(alliance, "Cashmere scarf", category="clothes", sku="s"))
    await _allowed(alliance, _publish(alliance, "Poinsettia", category="plants", sku="p"))
    await _allowed(alliance, alliance.award(**_order("gift cardigan", "ok")))

    assert len(catalog["data"]["catalog"]["edges"]) == 1  # the lens alone


# A third outside attack: each bent spelling next to an honest neighbour that must still
# pass (numbers stay numbers, a term starts and ends where words do).
SKELETON = [
    ("红0包", "CR-05", "红枣 2 包"),
    ("p0ints", "CR-07", "Top 10 snacks"),
    ("g1ft card", "CR-05", "Coffee 3-in-1"),
    ("c@sh", "CR-05", "Coffee @ home"),
    ("ca$h", "CR-05", "$5 off coffee"),
    ("7op-up", "CR-07", "Cinema ticket 2D"),
    ("5tored va1u3", "CR-05", "100% cotton"),
    ("eGiftCard", "CR-05", "iPhone 15 case"),
    ("e-giftcard", "CR-05", "greeting cards"),
    ("giftcards", "CR-05", "gift cardigans"),
    ("top_up", "CR-07", "Top upholstery cleaner"),
    ("re-charge", "CR-07", "recharged battery"),
    ("pre-paid", "CR-05", "prepared meals"),
    ("store-value", "CR-05", "Store valued customers"),
    ("\ua4d1oints", "CR-07", "checkpoints"),  # Lisu letter pa
    ("\ua4da\ua4ee\ua4e2\ua4e7", "CR-05", "cashew nuts"),  # Lisu C A S H
    ("红\u00b7包", "CR-05", "红色背包"),
    ("红_包", "CR-05", "2 小时免费停车"),
    ("红 0 包", "CR-05", "积木 5 套"),
    ("充 值", "CR-07", "充电宝 10000mAh"),
]

# An order line selling stored value meets the fixed CR-07 floor before the vocabulary.
FLOOR_FIRST = {"5tored va1u3": "CR-07"}


async def test_a_skeleton_reads_through_digits_glue_scripts_and_gaps(hub: Hub) -> None:
    """Each spelling of the third attack refused with its rule as a catalogue title, a
    catalogue category and an order line category (ledger untouched, one audit row each),
    next to its honest neighbour, published and awarded."""
    alliance = await Alliance(hub).setup()

    for index, (text, rule, neighbour) in enumerate(SKELETON):
        await _blocked(alliance, rule, _publish(alliance, text, sku=f"t{index}"))
        await _blocked(alliance, rule, _publish(alliance, "Card", category=text, sku=f"c{index}"))
        on_line = FLOOR_FIRST.get(text, rule)
        await _blocked(alliance, on_line, alliance.award(**_order(text, f"b{index}")))
        await _allowed(alliance, _publish(alliance, neighbour, category=neighbour, sku=f"n{index}"))
        await _allowed(alliance, alliance.award(**_order(neighbour, f"a{index}")))


ALL_TERMS = """query($after: String) {
  complianceVocabulary(first: 100, after: $after) {
    edges { node { term rule } } pageInfo { hasNextPage endCursor } } }"""


async def _every_term(hub: Hub, token: str) -> dict[str, str]:
    terms: dict[str, str] = {}
    after = None
    while True:
        page = (await _gql(hub, ALL_TERMS, token, after=after))["data"]["complianceVocabulary"]
        terms.update((e["node"]["term"], e["node"]["rule"]) for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return terms
        after = page["pageInfo"]["endCursor"]


async def test_a_new_hub_keeps_every_default_term(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    terms = await _every_term(hub, alliance.operator)

    assert {t.term: t.rule for t in DEFAULT_TERMS}.items() <= terms.items()


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
    terms = await _every_term(hub, alliance.store)
    await _blocked(alliance, "CR-05", _publish(alliance, "话费卡", category="phone"))
    removed = await _gql(hub, TERM, alliance.operator, term="话费")
    await _allowed(alliance, _publish(alliance, "话费 plan brochure", category="phone"))

    assert added["data"]["setVocabularyTerm"] == {
        "term": {"term": "话费", "rule": "CR-05"},
        "userErrors": [],
    }
    assert by_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
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
        items=[LENS],
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


ITEM = """query($id: ID!) { node(id: $id) { ... on CatalogItem {
  points basePoints priceSource scheduledPrices { points effectiveAt }
  serviceTerms { validDays } } } }"""
RESERVE = """mutation($input: ReserveRedemptionInput!) {
  reserveRedemption(input: $input) { redemption { id points } userErrors { code } } }"""
CAPTURE = """mutation($id: ID!) {
  captureRedemption(input: {redemptionId: $id}) { redemption { points } userErrors { code } } }"""
REDEEM = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) { redemption { points } userErrors { code } } }"""


def _ticket(points: int) -> dict[str, Any]:
    return _item("ticket", "Ticket", "film", "SERVICE", points, serviceTerms={"validDays": 30})


async def _price(alliance: Alliance, points: int) -> str:
    body = await _gql(alliance.hub, PUBLISH_ONE, alliance.store, items=[_ticket(points)])
    assert body["data"]["upsertCatalogItems"]["userErrors"] == []
    return str(body["data"]["upsertCatalogItems"]["items"][0]["id"])


async def _seen(alliance: Alliance, item: str) -> dict:
    return dict((await _gql(alliance.hub, ITEM, None, id=item))["data"]["node"])


async def _redeem(alliance: Alliance, item: str, key: str) -> int:
    body = await _gql(
        alliance.hub,
        REDEEM,
        alliance.store,
        input={"idempotencyKey": key, "memberId": alliance.member, "catalogItemId": item},
    )
    return int(body["data"]["redeemPoints"]["redemption"]["points"])


async def test_a_price_increase_waits_the_notice_period_and_a_decrease_applies_at_once(
    hub: Hub,
) -> None:
    """Raising 20 to 40 no longer charges 40 in the same second."""
    alliance = await Alliance(hub).setup()
    ticket = await _price(alliance, 20)

    await _price(alliance, 40)
    raised = await _seen(alliance, ticket)
    charged = await _redeem(alliance, ticket, "r-1")
    await _price(alliance, 15)
    lowered = await _seen(alliance, ticket)

    assert (raised["points"], raised["basePoints"], raised["priceSource"]) == (20, 20, "BASE")
    assert raised["serviceTerms"] == {"validDays": 30}
    [scheduled] = raised["scheduledPrices"]
    assert scheduled["points"] == 40
    notice = datetime.fromisoformat(scheduled["effectiveAt"]) - utcnow()
    assert timedelta(days=6, hours=23) < notice <= timedelta(days=7)
    assert charged == 20
    assert (lowered["points"], lowered["scheduledPrices"]) == (15, [])  # and the rise is gone


async def test_the_increase_applies_once_the_notice_has_passed(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    ticket = await _price(alliance, 20)
    store_id = (await hub.database.read(find_partner, "store")).id
    eight_days_ago = utcnow() - timedelta(days=8)
    await hub.database.write(
        upsert_items,
        store_id,
        [ItemInput("ticket", "Ticket", "film", "SERVICE", False, 40, True, ServiceTerms(30))],
        eight_days_ago,
    )

    seen = await _seen(alliance, ticket)

    assert (seen["points"], seen["basePoints"], seen["scheduledPrices"]) == (40, 40, [])
    assert await _redeem(alliance, ticket, "r-2") == 40


async def test_publishing_the_pending_increase_again_keeps_its_date(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    ticket = await _price(alliance, 20)
    await _price(alliance, 40)
    first = (await _seen(alliance, ticket))["scheduledPrices"]

    await _price(alliance, 40)

    assert (await _seen(alliance, ticket))["scheduledPrices"] == first


async def test_a_reservation_keeps_the_price_it_was_made_at(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    ticket = await _price(alliance, 20)
    reserved = await _gql(
        hub,
        RESERVE,
        alliance.store,
        input={"idempotencyKey": "res", "memberId": alliance.member, "catalogItemId": ticket},
    )
    await _price(alliance, 10)

    captured = await _gql(
        hub, CAPTURE, alliance.store, id=reserved["data"]["reserveRedemption"]["redemption"]["id"]
    )

    assert captured["data"]["captureRedemption"]["redemption"]["points"] == 20


async def test_a_promotion_never_costs_more_than_the_base_price(hub: Hub) -> None:
    """The lens base lowered to 1,000 under a running 1,500 promotion charges 1,000."""
    alliance = await Alliance(hub).setup()  # lens: base 2,000, promotion 1,500 running
    promoted = await _seen(alliance, alliance.lens)
    await _gql(
        hub,
        PUBLISH_ONE,
        alliance.store,
        items=[_item("lens", "Lens", "eyes", points=1000)],
    )

    lowered = await _seen(alliance, alliance.lens)

    assert (promoted["points"], promoted["basePoints"], promoted["priceSource"]) == (
        1500,
        2000,
        "PROMOTION",
    )
    assert (lowered["points"], lowered["basePoints"], lowered["priceSource"]) == (
        1000,
        1000,
        "BASE",
    )


async def test_racing_publications_of_one_increase_schedule_it_once(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    ticket = await _price(alliance, 20)

    outcomes = await asyncio.gather(
        *(_gql(hub, PUBLISH_ONE, alliance.store, items=[_ticket(40)]) for _ in range(4))
    )

    assert all(o["data"]["upsertCatalogItems"]["userErrors"] == [] for o in outcomes)
    assert [p["points"] for p in (await _seen(alliance, ticket))["scheduledPrices"]] == [40]


REGISTER_GREEN = """mutation($sku: String!) {
  registerGreenProduct(input: {sku: $sku, name: "Recycled bag", certificateRef: "CEL-2026-001"}) {
    greenProduct { id sku status } userErrors { code field } } }"""
DECIDE_GREEN = """mutation($id: ID!, $verified: Boolean!) {
  decideGreenProduct(input: {greenProductId: $id, verified: $verified, note: "checked"}) {
    greenProduct { status } userErrors { code } } }"""
GREEN_LIST = "{ greenProducts { edges { node { sku status partner { code } } } } }"
GREEN_AWARD = """mutation($input: AwardPointsInput!) {
  awardPoints(input: $input) {
    points breakdown { sku greenBonusApplied greenMultiplier note } userErrors { code } } }"""


def _green_order(key: str, sku: str) -> dict[str, Any]:
    return {
        "idempotencyKey": key,
        "orderRef": key,
        "paidAmountFen": 1_000,
        "lines": [{"sku": sku, "category": "daily", "amountFen": 1_000, "green": True}],
    }


async def test_green_needs_the_operators_verification(hub: Hub) -> None:
    """A self-declared green line on tobacco earns the base rate, and the breakdown says why;
    only a SKU the operator verified earns the green bonus."""
    alliance = await Alliance(hub).setup()
    store_id = (await hub.database.read(find_partner, "store")).id
    earlier = utcnow() - timedelta(hours=1)
    await hub.database.write(
        set_earning_rule,
        partner_id=store_id,
        points_per_yuan="1",
        category_multipliers={},
        green_bonus_multiplier="2",
        effective_at=earlier + timedelta(seconds=1),
        now=earlier,
    )

    async def award(key: str, sku: str) -> dict:
        body = await _gql(
            hub,
            GREEN_AWARD,
            alliance.store,
            input={"memberId": alliance.member, **_green_order(key, sku)},
        )
        return dict(body["data"]["awardPoints"])

    tobacco = await award("g1", "tobacco")
    registered = await _gql(hub, REGISTER_GREEN, alliance.store, sku="bag")
    product = registered["data"]["registerGreenProduct"]["greenProduct"]
    pending = await award("g2", "bag")
    by_partner = await _gql(hub, DECIDE_GREEN, alliance.store, id=product["id"], verified=True)
    verified = await _gql(hub, DECIDE_GREEN, alliance.operator, id=product["id"], verified=True)
    green = await award("g3", "bag")
    await _gql(hub, DECIDE_GREEN, alliance.operator, id=product["id"], verified=False)
    rejected = await award("g4", "bag")

    assert tobacco["points"] == 10
    assert tobacco["breakdown"] == [
        {
            "sku": "tobacco",
            "greenBonusApplied": False,
            "greenMultiplier": "1",
            "note": "green claimed but the SKU is not verified green for this partner",
        }
    ]
    assert product["status"] == "PENDING"
    assert pending["points"] == 10
    assert by_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert verified["data"]["decideGreenProduct"]["greenProduct"]["status"] == "VERIFIED"
    assert green["points"] == 20
    assert green["breakdown"][0]["greenBonusApplied"] is True
    assert rejected["points"] == 10

    def decisions(session: Any) -> list[str]:
        return list(
            session.execute(select(GreenDecision.status).order_by(GreenDecision.id)).scalars()
        )

    assert await hub.database.read(decisions) == ["PENDING", "VERIFIED", "REJECTED"]


async def test_green_catalogue_items_follow_the_register(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    other = await _partner(hub, "other")

    async def publish_bag() -> bool:
        body = await _gql(
            hub,
            PUBLISH_ONE,
            alliance.store,
            items=[_item("bag", "Bag", "home", points=10, green=True)],
        )
        item = body["data"]["upsertCatalogItems"]["items"][0]["id"]
        seen = await _gql(
            hub, "query($id: ID!) { node(id: $id) { ... on CatalogItem { green } } }", None, id=item
        )
        return bool(seen["data"]["node"]["green"])

    claimed = await publish_bag()
    registered = await _gql(hub, REGISTER_GREEN, alliance.store, sku="bag")
    product_id = registered["data"]["registerGreenProduct"]["greenProduct"]["id"]
    await _gql(hub, DECIDE_GREEN, alliance.operator, id=product_id, verified=True)
    verified = await publish_bag()
    theirs = await _gql(hub, GREEN_LIST, other)
    everyone = await _gql(hub, GREEN_LIST, alliance.operator)

    assert (claimed, verified) == (False, True)
    assert theirs["data"]["greenProducts"]["edges"] == []
    assert [e["node"] for e in everyone["data"]["greenProducts"]["edges"]] == [
        {"sku": "bag", "status": "VERIFIED", "partner": {"code": "store"}}
    ]


async def test_racing_registrations_of_one_green_product_register_it_once(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    outcomes = await asyncio.gather(
        *(_gql(hub, REGISTER_GREEN, alliance.store, sku="bag") for _ in range(4))
    )

    assert all(o["data"]["registerGreenProduct"]["userErrors"] == [] for o in outcomes)
    assert len({o["data"]["registerGreenProduct"]["greenProduct"]["id"] for o in outcomes}) == 1


async def test_a_donation_shows_in_provenance_and_netting(hub: Hub) -> None:
    """The charity's statement shows points redeemed, and the pair issuer -> charity is
    behind them."""
    started = utcnow() - timedelta(minutes=1)
    alliance = await Alliance(hub).setup()
    charity = await _partner(hub, "greenfuture", kind="CHARITY")
    await _register(hub, charity, ref="g-1")
    project = await _project(hub, charity)
    donated = await _donate(alliance, charity, project, "d-1")()
    assert donated["userErrors"] == []

    opened = await _gql(
        hub,
        OPEN,
        alliance.operator,
        input={
            "cycle": "MONTHLY",
            "startsAt": started.isoformat(),
            "endsAt": (utcnow() + timedelta(minutes=1)).isoformat(),
        },
    )
    period = opened["data"]["openSettlementPeriod"]["period"]["id"]
    body = (await _gql(hub, STATEMENTS, alliance.operator, id=period))["data"]["settlementPeriod"]

    redeemed = {
        e["node"]["partner"]["code"]: e["node"]["redeemedPoints"]
        for e in body["statements"]["edges"]
    }
    pairs = [
        (e["node"]["issuer"]["code"], e["node"]["redeemer"]["code"], e["node"]["points"])
        for e in body["provenance"]["edges"]
    ]
    assert redeemed["greenfuture"] == "5"
    assert ("store", "greenfuture", "5") in pairs
    assert int(body["netting"]["grossFen"]) > 0


LOTS = """query($id: ID!) { member(id: $id) { balance lots(first: 50) { edges { node {
  points remaining expiresAt } } } } }"""


async def test_a_refund_gives_back_the_lifetime_the_lot_had_left_when_spent(hub: Hub) -> None:
    """Finding 6 replayed: a lot spent with 6 days left and refunded with 1 day left lives
    6 days from the refund (it had not lapsed, so it used to keep its 1 day)."""
    store = await _partner(hub, "store", history=timedelta(days=10))
    member = await _register(hub, store)
    now = utcnow()
    store_id = (await hub.database.read(find_partner, "store")).id
    member_id = int(relay.GlobalID.from_id(member).node_id)
    await hub.database.write(
        award,
        ledger.IdempotencyKey("seed", "old-award"),
        partner_id=store_id,
        member_id=member_id,
        order_ref="old",
        paid_amount_fen=10_000,
        lines=[Line("rice", "food", 10_000, False)],
        now=now - timedelta(days=7),
        expires_at=now + timedelta(days=1),
    )
    ticket = (
        await _gql(
            hub,
            PUBLISH_ONE,
            store,
            items=[
                _item("ticket", "Ticket", "film", "SERVICE", 100, serviceTerms={"validDays": 30})
            ],
        )
    )["data"]["upsertCatalogItems"]["items"][0]["id"]
    spent = await hub.database.write(
        redeem_item,
        ledger.IdempotencyKey("seed", "old-redemption"),
        partner_id=store_id,
        member_id=member_id,
        catalog_item_id=int(relay.GlobalID.from_id(ticket).node_id),
        quantity=1,
        now=now - timedelta(days=5),  # 6 days before the lot's expiry
    )

    refunded = await _gql(
        hub,
        REFUND,
        store,
        input={
            "idempotencyKey": "refund",
            "redemptionId": relay.to_base64("Redemption", spent.hold_id),
        },
    )
    lots = await _gql(hub, LOTS, store, id=member)

    assert refunded["data"]["refundRedemption"]["userErrors"] == []
    spent_lot, restored = [e["node"] for e in lots["data"]["member"]["lots"]["edges"]]
    left = datetime.fromisoformat(restored["expiresAt"]) - utcnow()
    assert timedelta(days=5, hours=23) < left <= timedelta(days=6)
    assert (restored["points"], restored["remaining"]) == (100, 100)
    assert spent_lot["remaining"] == 0  # its own expiry untouched: it holds no points
    assert lots["data"]["member"]["balance"] == 100
    assert (await hub.database.read(ledger.verify)).clean


REDEEM_ONE = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) { redemption { id } userErrors { code rule } } }"""


async def test_redeem_and_refund_cycles_through_graphql_extend_nothing_else(hub: Hub) -> None:
    """The outside attack through the API: 20 one-point redeem-and-refund cycles on a lot
    of 1,000 points; the 980 points never spent keep the lot's expiry."""
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_award_input(member, key="seed", order="seed"))
    ticket = (
        await _gql(
            hub,
            PUBLISH_ONE,
            store,
            items=[_item("pin", "Pin", "gifts", points=1)],
        )
    )["data"]["upsertCatalogItems"]["items"][0]["id"]
    before = await _gql(hub, LOTS, store, id=member)
    [lot] = [e["node"] for e in before["data"]["member"]["lots"]["edges"]]

    for cycle in range(20):
        spent = await _gql(
            hub,
            REDEEM_ONE,
            store,
            input={
                "idempotencyKey": f"r{cycle}",
                "memberId": member,
                "catalogItemId": ticket,
                "quantity": 1,
            },
        )
        redemption = spent["data"]["redeemPoints"]["redemption"]["id"]
        refunded = await _gql(
            hub,
            REFUND,
            store,
            input={"idempotencyKey": f"f{cycle}", "redemptionId": redemption},
        )
        assert refunded["data"]["refundRedemption"]["userErrors"] == []
    after = await _gql(hub, LOTS, store, id=member)

    nodes = [e["node"] for e in after["data"]["member"]["lots"]["edges"]]
    first = next(n for n in nodes if n["points"] == lot["points"])
    assert first["expiresAt"] == lot["expiresAt"]
    assert first["remaining"] == lot["remaining"] - 20
    assert sum(n["remaining"] for n in nodes) == lot["remaining"]
    assert all(n["expiresAt"] >= lot["expiresAt"] for n in nodes)
    assert (await hub.database.read(ledger.verify)).clean


async def test_an_item_published_before_its_term_is_refused_at_redemption(hub: Hub) -> None:
    """Items already in the catalogue when the guard learned to read them (a bent title
    stored before the fix, or a term the operator adds later) never reach settlement: the
    redemption is refused with the term's rule, ledger untouched, one audit row."""
    alliance = await Alliance(hub).setup()
    card = await _gql(
        hub, PUBLISH_ONE, alliance.store, items=[_item("card", "金币卡", "phone", points=10)]
    )
    old = await _gql(
        hub, PUBLISH_ONE, alliance.store, items=[_item("old", "Old", "gifts", points=10)]
    )
    card_id = card["data"]["upsertCatalogItems"]["items"][0]["id"]
    old_id = old["data"]["upsertCatalogItems"]["items"][0]["id"]

    def stored_before_the_fix(session: Any) -> None:
        from partners.models import CatalogItem

        session.execute(
            sqlalchemy.update(CatalogItem)
            .where(CatalogItem.sku == "old")
            .values(title="\u7ea2\u200b\u5305 100\u5143")  # 红<zero width space>包 100元
        )

    await hub.database.write(stored_before_the_fix)
    await _gql(hub, TERM, alliance.operator, term="金币", rule="CR_05")

    def redeem(item: str, key: str) -> Callable[[], Awaitable[dict]]:
        async def run() -> dict:
            body = await _gql(
                hub,
                REDEEM_ONE,
                alliance.store,
                input={"idempotencyKey": key, "memberId": alliance.member, "catalogItemId": item},
            )
            return dict(body["data"]["redeemPoints"])

        return run

    await _blocked(alliance, "CR-05", redeem(card_id, "card"))
    await _blocked(alliance, "CR-05", redeem(old_id, "old"))
    await _gql(hub, TERM, alliance.operator, term="金币")  # removed again
    await _allowed(alliance, redeem(card_id, "card-2"))
