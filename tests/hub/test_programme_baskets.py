"""Issue 14, basket bonuses: a partner's published rules over several categories in one
order, in the breakdown, funded from its budget; splitting, tiny lines, replays."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

import ledger
from core.db import utcnow
from members.baskets import set_basket_bonus
from tests.conftest import Clock
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import ALL, _award_input, _gql, _partner, _register

pytestmark = pytest.mark.anyio

SET = """mutation($input: SetBasketBonusInput!) {
  setBasketBonus(input: $input) {
    basketBonus { code categories minLineAmountFen bonusPoints multiplier }
    userErrors { code message field rule }
  }
}"""
PUBLISHED = """query($code: String!) { partner(code: $code) {
  earningRule { basketBonuses { code categories minLineAmountFen bonusPoints multiplier } }
  upcomingBasketBonuses { edges { node { code bonusPoints } } }
} }"""
AWARD = """mutation($input: AwardPointsInput!) {
  awardPoints(input: $input) {
    points exactPoints
    breakdown { sku basketMultiplier programmeFactor exactPoints }
    factors { kind multiplier rule exactPoints note }
    userErrors { code message field rule }
  }
}"""


async def _basket_in_force(hub: Hub, partner_code: str, **rule: Any) -> None:
    """A basket in force since a moment ago, published through the service with a
    back-dated ``now``: a shortcut for tests about other things (the acceptance test
    publishes through GraphQL and travels)."""
    from partners.registry import find_partner

    now = utcnow()

    def publish(session: Any) -> None:
        set_basket_bonus(
            session,
            partner_id=find_partner(session, partner_code).id,
            effective_at=now - timedelta(seconds=1),
            now=now - timedelta(days=1),
            **{
                "code": "SNACK_DRINK",
                "categories": ["snacks", "drinks"],
                "min_line_amount_fen": 300,
                "bonus_points": 50,
                "multiplier": "1",
                **rule,
            },
        )

    await hub.database.write(publish)


def _basket(member: str, n: int, *lines: tuple[str, int]) -> dict[str, Any]:
    return _award_input(
        member,
        key=f"award-{n}",
        order=f"order-{n}",
        paidAmountFen=sum(fen for _, fen in lines),
        lines=[
            {"sku": f"sku-{n}-{i}", "category": category, "amountFen": fen}
            for i, (category, fen) in enumerate(lines)
        ],
    )


def _basket_factor(body: dict) -> dict:
    return next(f for f in body["factors"] if f["kind"] == "BASKET_BONUS")


async def test_a_partner_publishes_a_basket_ahead_and_anyone_reads_it(
    hub: Hub, clock: Clock
) -> None:
    store = await _partner(hub, "store")
    later = (utcnow() + timedelta(hours=2)).isoformat()
    rule = {
        "code": "SNACK_DRINK",
        "categories": ["Snacks", " DRINKS "],
        "minLineAmountFen": 300,
        "bonusPoints": 50,
    }

    past = await _gql(
        hub, SET, store, input={**rule, "effectiveAt": (utcnow() - timedelta(1)).isoformat()}
    )
    published = await _gql(hub, SET, store, input={**rule, "effectiveAt": later})
    before = await _gql(hub, PUBLISHED, None, code="store")
    clock.travel(timedelta(hours=2, minutes=1))
    after = await _gql(hub, PUBLISHED, None, code="store")

    assert [(e["code"], e["rule"]) for e in past["data"]["setBasketBonus"]["userErrors"]] == [
        ("COMPLIANCE_VIOLATION", "CR-07")
    ]
    assert published["data"]["setBasketBonus"] == {
        "basketBonus": {
            "code": "SNACK_DRINK",
            "categories": ["drinks", "snacks"],
            "minLineAmountFen": 300,
            "bonusPoints": 50,
            "multiplier": "1",
        },
        "userErrors": [],
    }
    assert before["data"]["partner"]["earningRule"]["basketBonuses"] == []
    assert before["data"]["partner"]["upcomingBasketBonuses"]["edges"] == [
        {"node": {"code": "SNACK_DRINK", "bonusPoints": 50}}
    ]
    assert after["data"]["partner"]["earningRule"]["basketBonuses"] == [
        {
            "code": "SNACK_DRINK",
            "categories": ["drinks", "snacks"],
            "minLineAmountFen": 300,
            "bonusPoints": 50,
            "multiplier": "1",
        }
    ]
    assert after["data"]["partner"]["upcomingBasketBonuses"]["edges"] == []


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"categories": ["snacks"]}, ["categories"], None),
        ({"categories": ["snacks", " Snacks"]}, ["categories"], None),
        ({"categories": ["snacks", "top-up"]}, ["categories"], "CR-07"),
        ({"multiplier": "2"}, ["multiplier"], None),
        ({"bonusPoints": -1}, ["bonusPoints"], None),
        ({"bonusPoints": 100_001}, ["bonusPoints"], None),
        ({"bonusPoints": 0, "multiplier": "0.5"}, ["multiplier"], None),
        ({"code": "snack drink"}, ["code"], None),
        ({"minLineAmountFen": -5}, ["minLineAmountFen"], None),
    ],
    ids=[
        "one category",
        "the same category twice",
        "a points top-up",
        "bonus and multiplier",
        "negative bonus",
        "bonus too large",
        "a multiplier below 1",
        "malformed code",
        "negative minimum",
    ],
)
async def test_malformed_baskets_are_refused(
    hub: Hub, change: dict, field: list[str], rule: str | None
) -> None:
    store = await _partner(hub, "store")
    later = (utcnow() + timedelta(days=2)).isoformat()
    rule_input = {
        "code": "SNACK_DRINK",
        "categories": ["snacks", "drinks"],
        "bonusPoints": 50,
        "effectiveAt": later,
        **change,
    }

    body = await _gql(hub, SET, store, input=rule_input)

    errors = body["data"]["setBasketBonus"]["userErrors"]
    assert [(e["field"], e["rule"]) for e in errors] == [(field, rule)]


async def test_snacks_and_drinks_earn_the_bonus_and_snacks_alone_do_not(
    hub: Hub, clock: Clock
) -> None:
    """The acceptance, through GraphQL: the store publishes the basket an hour ahead; once
    the clock has passed its effectiveAt, snacks and drinks in one order earn the bonus and
    snacks alone do not."""
    from tests.hub.test_programme_walk import graphql_partner, operator_client

    operator = await hub.access_token(await operator_client(hub))
    store_client = await graphql_partner(hub, operator, "store")
    store = await hub.access_token(store_client)
    rule = {
        "code": "SNACK_DRINK",
        "categories": ["snacks", "drinks"],
        "minLineAmountFen": 300,
        "bonusPoints": 50,
        "effectiveAt": (utcnow() + timedelta(hours=1)).isoformat(),
    }
    published = await _gql(hub, SET, store, input=rule)
    member = await _register(hub, store)
    other = await _register(hub, store, ref="m-2", phone="139 0013 9000")
    early = await _gql(
        hub, AWARD, store, input=_basket(member, 0, ("snacks", 1000), ("drinks", 500))
    )

    clock.travel(timedelta(hours=1, minutes=1))
    store = await hub.access_token(store_client)
    both = (
        await _gql(hub, AWARD, store, input=_basket(member, 1, ("snacks", 1000), ("drinks", 500)))
    )["data"]["awardPoints"]
    alone = (await _gql(hub, AWARD, store, input=_basket(other, 2, ("snacks", 1500))))["data"][
        "awardPoints"
    ]

    assert published["data"]["setBasketBonus"]["userErrors"] == []
    # Before its effectiveAt the basket is not in force: no bonus, no factor.
    assert early["data"]["awardPoints"]["points"] == 15
    assert "BASKET_BONUS" not in {f["kind"] for f in early["data"]["awardPoints"]["factors"]}
    assert both["points"] == 15 + 50
    assert _basket_factor(both) == {
        "kind": "BASKET_BONUS",
        "multiplier": None,
        "rule": _basket_factor(both)["rule"],
        "exactPoints": "50",
        "note": None,
    }
    assert _basket_factor(both)["rule"].startswith("basket bonus SNACK_DRINK of ")
    assert alone["points"] == 15
    assert _basket_factor(alone)["exactPoints"] == "0"
    assert _basket_factor(alone)["note"] == "no drinks line of at least 3 yuan"
    assert (await hub.database.read(ledger.verify)).clean


async def test_a_token_line_does_not_make_a_basket(hub: Hub) -> None:
    """A 1-fen drink does not turn a snack purchase into a basket: each category needs a
    line of at least the published minimum."""
    store = await _partner(hub, "store")
    await _basket_in_force(hub, "store")
    member = await _register(hub, store)

    body = await _gql(hub, AWARD, store, input=_basket(member, 1, ("snacks", 1000), ("drinks", 1)))

    assert body["data"]["awardPoints"]["points"] == 10


async def test_splitting_a_basket_into_orders_earns_it_once_a_day(hub: Hub) -> None:
    store = await _partner(hub, "store")
    await _basket_in_force(hub, "store")
    member = await _register(hub, store)

    first = await _gql(
        hub, AWARD, store, input=_basket(member, 1, ("snacks", 500), ("drinks", 500))
    )
    replay = await _gql(
        hub, AWARD, store, input=_basket(member, 1, ("snacks", 500), ("drinks", 500))
    )
    second = await _gql(
        hub, AWARD, store, input=_basket(member, 2, ("snacks", 500), ("drinks", 500))
    )

    assert first["data"]["awardPoints"]["points"] == 60
    assert replay == first
    awarded = second["data"]["awardPoints"]
    assert awarded["points"] == 10
    assert _basket_factor(awarded)["note"] == "already earned today (once a day)"


async def test_a_multiplier_basket_multiplies_only_the_matched_lines(hub: Hub) -> None:
    store = await _partner(hub, "store")
    await _basket_in_force(hub, "store", bonus_points=0, multiplier="2")
    member = await _register(hub, store)

    body = await _gql(
        hub,
        AWARD,
        store,
        input=_basket(member, 1, ("snacks", 1000), ("drinks", 500), ("home", 1000)),
    )

    awarded = body["data"]["awardPoints"]
    assert awarded["points"] == 20 + 10 + 10
    assert [line["basketMultiplier"] for line in awarded["breakdown"]] == ["2", "2", "1"]
    assert _basket_factor(awarded)["exactPoints"] == "15"
    assert _basket_factor(awarded)["multiplier"] == "2"


async def test_the_basket_bonus_is_funded_from_the_partners_budget(hub: Hub) -> None:
    """CR-02: 15 base + 50 bonus points at 0.8 fen are 52 fen; a budget of 40 fen refuses."""
    store = await _partner(hub, "store", budget_fen=40)
    await _basket_in_force(hub, "store")
    member = await _register(hub, store)

    body = await _gql(
        hub, AWARD, store, input=_basket(member, 1, ("snacks", 1000), ("drinks", 500))
    )
    plain = await _gql(hub, AWARD, store, input=_basket(member, 2, ("snacks", 1500)))

    errors = body["data"]["awardPoints"]["userErrors"]
    assert [(e["code"], e["rule"]) for e in errors] == [("COMPLIANCE_VIOLATION", "CR-02")]
    assert plain["data"]["awardPoints"]["points"] == 15


WITHDRAW = {
    "code": "SNACK_DRINK",
    "categories": ["snacks", "drinks"],
    "minLineAmountFen": 300,
    "bonusPoints": 0,
}


def _refusal(body: dict) -> list[tuple[str, list[str], str]]:
    return [
        (e["code"], e["field"], e["rule"]) for e in body["data"]["setBasketBonus"]["userErrors"]
    ]


async def test_a_withdrawn_basket_no_longer_applies_after_the_notice(
    hub: Hub, clock: Clock
) -> None:
    """Withdrawing a basket lowers what members earn: published sooner than the notice
    period (7 days) it is refused (CR-07, as an outside attack cut an earning rate a
    second ahead); published a week ahead it applies from then."""
    store = await _partner(hub, "store")
    await _basket_in_force(hub, "store")
    member = await _register(hub, store)
    week = timedelta(days=7)

    too_soon = await _gql(
        hub, SET, store, input={**WITHDRAW, "effectiveAt": (utcnow() + week / 2).isoformat()}
    )
    ahead = await _gql(
        hub,
        SET,
        store,
        input={**WITHDRAW, "effectiveAt": (utcnow() + week + timedelta(minutes=1)).isoformat()},
    )
    still = await _gql(
        hub, AWARD, store, input=_basket(member, 1, ("snacks", 1000), ("drinks", 500))
    )
    clock.travel(week + timedelta(minutes=2))
    store = await hub.access_token(await hub.client(partner="store", scopes=ALL))
    body = await _gql(
        hub, AWARD, store, input=_basket(member, 2, ("snacks", 1000), ("drinks", 500))
    )
    published = await _gql(hub, PUBLISHED, None, code="store")

    assert _refusal(too_soon) == [("COMPLIANCE_VIOLATION", ["effectiveAt"], "CR-07")]
    assert (
        "notice period of 7 days" in too_soon["data"]["setBasketBonus"]["userErrors"][0]["message"]
    )
    assert _refusal(ahead) == []
    assert still["data"]["awardPoints"]["points"] == 65
    assert body["data"]["awardPoints"]["points"] == 15
    assert published["data"]["partner"]["earningRule"]["basketBonuses"] == []


@pytest.mark.parametrize(
    ("change", "lowers"),
    [
        ({"bonusPoints": 30}, True),
        ({"bonusPoints": 0, "multiplier": "1.5"}, True),
        ({"minLineAmountFen": 500}, True),
        ({"categories": ["snacks", "drinks", "fruit"]}, True),
        ({"categories": ["snacks", "fruit"]}, True),
        ({"bonusPoints": 80}, False),
        ({"minLineAmountFen": 100}, False),
        ({"code": "FRUIT_DRINK", "categories": ["fruit", "drinks"]}, False),
    ],
    ids=[
        "smaller bonus",
        "bonus to multiplier",
        "higher minimum",
        "one more category",
        "other categories",
        "bigger bonus",
        "lower minimum",
        "a new basket",
    ],
)
async def test_a_basket_cut_waits_the_notice_and_a_rise_applies_at_once(
    hub: Hub, change: dict, lowers: bool
) -> None:
    store = await _partner(hub, "store")
    await _basket_in_force(hub, "store")
    soon = (utcnow() + timedelta(seconds=1)).isoformat()

    body = await _gql(
        hub, SET, store, input={**WITHDRAW, "bonusPoints": 50, **change, "effectiveAt": soon}
    )

    assert _refusal(body) == (
        [("COMPLIANCE_VIOLATION", ["effectiveAt"], "CR-07")] if lowers else []
    )


async def test_a_rise_cannot_be_slipped_in_before_a_published_return(hub: Hub) -> None:
    """A version of 50 published for an hour ahead (no change), then one of 500 for a
    second ahead: the 50 would then be a cut an hour later, within the notice; refused."""
    store = await _partner(hub, "store")
    await _basket_in_force(hub, "store")
    hour = (utcnow() + timedelta(hours=1)).isoformat()
    second = (utcnow() + timedelta(seconds=1)).isoformat()

    same = await _gql(hub, SET, store, input={**WITHDRAW, "bonusPoints": 50, "effectiveAt": hour})
    rise = await _gql(
        hub, SET, store, input={**WITHDRAW, "bonusPoints": 500, "effectiveAt": second}
    )

    assert _refusal(same) == []
    assert _refusal(rise) == [("COMPLIANCE_VIOLATION", ["effectiveAt"], "CR-07")]


async def test_aml_sees_the_bonus_points_like_base_points(hub: Hub) -> None:
    """CR-08: the day's earned points include the basket bonus; over the hard limit the
    award is refused whole (15 base points would pass a limit of 40; 65 do not)."""
    from compliance.aml import set_threshold

    store = await _partner(hub, "store")
    await _basket_in_force(hub, "store")
    member = await _register(hub, store)
    await hub.database.write(set_threshold, "EARNED_PER_MEMBER_DAY", 30, 40, utcnow())

    body = await _gql(
        hub, AWARD, store, input=_basket(member, 1, ("snacks", 1000), ("drinks", 500))
    )
    plain = await _gql(hub, AWARD, store, input=_basket(member, 2, ("snacks", 1500)))

    errors = body["data"]["awardPoints"]["userErrors"]
    assert [(e["code"], e["rule"]) for e in errors] == [("COMPLIANCE_VIOLATION", "CR-08")]
    assert plain["data"]["awardPoints"]["points"] == 15


async def test_racing_versions_never_make_a_cut_without_notice(hub: Hub) -> None:
    """The basket of 50 again for an hour ahead, and 500 for a second ahead, racing: each
    alone passes, together one is refused (a partner's publications are serialised)."""
    store = await _partner(hub, "store")
    await _basket_in_force(hub, "store")
    hour = (utcnow() + timedelta(hours=1)).isoformat()
    second = (utcnow() + timedelta(seconds=1)).isoformat()

    bodies = await asyncio.gather(
        *(
            _gql(hub, SET, store, input={**WITHDRAW, "bonusPoints": points, "effectiveAt": at})
            for points, at in ((50, hour), (500, second)) * 3
        )
    )

    passed = {
        b["data"]["setBasketBonus"]["basketBonus"]["bonusPoints"]
        for b in bodies
        if b["data"]["setBasketBonus"]["basketBonus"] is not None
    }
    assert passed in ({50}, {500})
