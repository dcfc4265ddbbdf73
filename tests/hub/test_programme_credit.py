"""Issue 14, credit-linked benefits: the published credit schedule raises accrual by credit
level only for members who consented to credit-linked benefits; a partner without the
member's credit-level consent sees a factor, never the level; the combined cap."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

import ledger
from core.db import utcnow
from events.models import OutboxEvent
from members.benefits import set_credit_schedule
from members.tiers import TierInput
from tests.conftest import Clock
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import _gql, _partner, _register
from tests.hub.test_programme_tiers import AWARD, _operator, _order, _schedule_in_force

pytestmark = pytest.mark.anyio

CREDIT = """{ creditSchedule {
  inForce { version levels { level earnMultiplier } }
  upcoming { edges { node { version effectiveAt levels { level earnMultiplier } } } }
} }"""
PUBLISH = """mutation($input: SetCreditScheduleInput!) {
  setCreditSchedule(input: $input) {
    schedule { version levels { level earnMultiplier } }
    userErrors { code message field rule }
  }
}"""
SET_LEVEL = """mutation($id: ID!, $level: CreditLevel) {
  setMemberCreditLevel(input: {memberId: $id, creditLevel: $level}) { userErrors { code } } }"""
LEVEL = "query($id: ID!) { member(id: $id) { creditLevel } }"
MEMBER_AS_PARTNER = """query($id: ID!) { member(id: $id) {
  tier { code } history(first: 1) { edges { node { code amount award {
    points breakdown { memberBenefitsMultiplier } factors { kind multiplier rule note } } } } }
} }"""
PREFERENCES = """mutation($on: Boolean) {
  setPrivacyPreferences(input: {personalisedOffers: false, marketingMessages: false,
    creditBenefits: $on}) { preferences { creditBenefits } userErrors { code } } }"""


async def _credit_in_force(hub: Hub, levels: list[tuple[str, Any]]) -> None:
    """A credit schedule in force since a moment ago, published through the service with a
    back-dated ``now``: a shortcut for tests about other things (the acceptance test below
    publishes through GraphQL and travels)."""
    now = utcnow()
    await hub.database.write(
        set_credit_schedule,
        effective_at=now - timedelta(seconds=1),
        levels=levels,
        now=now - timedelta(days=8),
        notice=timedelta(days=7),
    )


async def test_anyone_reads_the_credit_schedule_and_past_ones_are_refused(
    hub: Hub, clock: Clock
) -> None:
    operator = await _operator(hub)
    later = (utcnow() + timedelta(days=8)).isoformat()
    earlier = (utcnow() - timedelta(hours=1)).isoformat()
    levels = [{"level": "A", "earnMultiplier": "1.2"}, {"level": "B", "earnMultiplier": "1.1"}]

    past = await _gql(hub, PUBLISH, operator, input={"effectiveAt": earlier, "levels": levels})
    published = await _gql(hub, PUBLISH, operator, input={"effectiveAt": later, "levels": levels})
    body = await _gql(hub, CREDIT)  # anonymous
    clock.travel(timedelta(days=8, minutes=1))
    travelled = (await _gql(hub, CREDIT))["data"]["creditSchedule"]

    assert [(e["code"], e["rule"]) for e in past["data"]["setCreditSchedule"]["userErrors"]] == [
        ("COMPLIANCE_VIOLATION", "CR-07")
    ]
    assert published["data"]["setCreditSchedule"]["userErrors"] == []
    schedules = body["data"]["creditSchedule"]
    assert schedules["inForce"] == {"version": 0, "levels": []}
    assert [edge["node"]["levels"] for edge in schedules["upcoming"]["edges"]] == [
        [{"level": "A", "earnMultiplier": "1.2"}, {"level": "B", "earnMultiplier": "1.1"}]
    ]
    assert travelled["inForce"] == {
        "version": 1,
        "levels": [
            {"level": "A", "earnMultiplier": "1.2"},
            {"level": "B", "earnMultiplier": "1.1"},
        ],
    }
    assert travelled["upcoming"]["edges"] == []


@pytest.mark.parametrize(
    ("levels", "field"),
    [
        ([{"level": "A", "earnMultiplier": "0.8"}], ["levels", "0", "earnMultiplier"]),
        (
            [{"level": "A", "earnMultiplier": "1.2"}, {"level": "A", "earnMultiplier": "1.3"}],
            ["levels", "1", "level"],
        ),
        ([{"level": "D", "earnMultiplier": "11"}], ["levels", "0", "earnMultiplier"]),
    ],
    ids=["a penalty", "a level twice", "above 10"],
)
async def test_malformed_credit_schedules_are_refused(
    hub: Hub, levels: list[dict], field: list[str]
) -> None:
    operator = await _operator(hub)
    later = (utcnow() + timedelta(days=8)).isoformat()

    body = await _gql(hub, PUBLISH, operator, input={"effectiveAt": later, "levels": levels})

    errors = body["data"]["setCreditSchedule"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("BAD_USER_INPUT", field)]


async def test_only_members_who_consented_earn_the_credit_extra(hub: Hub, clock: Clock) -> None:
    """The acceptance, through GraphQL: the operator publishes the credit schedule a week
    ahead; once the clock has passed its effectiveAt, of two A-level members the one who
    consented to credit-linked benefits earns the published extra and the other does not;
    the partner, without credit-level consent, never receives either level."""
    from tests.hub.test_programme_walk import graphql_partner, operator_client

    operating = await operator_client(hub)
    operator = await hub.access_token(operating)
    store_client = await graphql_partner(hub, operator, "store")
    store = await hub.access_token(store_client)
    ahead = (utcnow() + timedelta(days=7, hours=1)).isoformat()
    levels = [{"level": "A", "earnMultiplier": "1.2"}, {"level": "B", "earnMultiplier": "1.1"}]
    published = await _gql(hub, PUBLISH, operator, input={"effectiveAt": ahead, "levels": levels})
    consenting = await _register(hub, store, creditBenefitsConsent=True)
    assert "credit level raises your points" in hub.last_message()["text"]
    other = await _register(hub, store, ref="m-2", phone="139 0013 9000")
    set_levels = [
        await _gql(hub, SET_LEVEL, operator, id=m, level="A") for m in (consenting, other)
    ]
    early = await _gql(hub, AWARD, store, input=_order(consenting, 0, 100))

    clock.travel(timedelta(days=7, hours=1, minutes=1))
    store = await hub.access_token(store_client)
    with_consent = await _gql(hub, AWARD, store, input=_order(consenting, 1, 100))
    without = await _gql(hub, AWARD, store, input=_order(other, 2, 100))
    refused = await _gql(hub, LEVEL, store, id=consenting)
    read = await _gql(hub, MEMBER_AS_PARTNER, store, id=consenting)

    assert published["data"]["setCreditSchedule"]["userErrors"] == []
    assert [b["data"]["setMemberCreditLevel"]["userErrors"] for b in set_levels] == [[], []]
    # Before its effectiveAt the schedule changes nothing.
    assert early["data"]["awardPoints"]["points"] == 100
    one = with_consent["data"]["awardPoints"]
    assert one["points"] == 120
    benefits = next(f for f in one["factors"] if f["kind"] == "MEMBER_BENEFITS")
    assert benefits == {
        "kind": "MEMBER_BENEFITS",
        "multiplier": "1.2",
        "rule": "credit schedule v1",
        "exactPoints": "20",
    }
    assert without["data"]["awardPoints"]["points"] == 100
    # Nothing the partner receives names a credit level: the awards, the member as it may
    # read it, and the award's breakdown through the member's history.
    for body in (with_consent, without, read):
        text = json.dumps(body)
        assert "creditLevel" not in text
        assert '"A"' not in text
        assert "level A" not in text
    assert refused["errors"][0]["extensions"]["rule"] == "CR-10"
    assert read["data"]["member"]["history"]["edges"][0]["node"]["award"]["points"] == 120
    # ... nor do the events its webhooks will carry.
    payloads = await hub.database.read(
        lambda session: list(session.execute(select(OutboxEvent.payload)).scalars())
    )
    assert sum('"points":120' in p for p in payloads) == 1, payloads
    # (The consent events say only that the consent does not cover the level.)
    assert not [p for p in payloads if '"A"' in p or "level A" in p]
    assert sum('"creditLevel":false' in p for p in payloads) == 2
    assert (await hub.database.read(ledger.verify)).clean


async def test_the_member_turns_credit_benefits_on_and_off_in_the_app(hub: Hub) -> None:
    from tests.hub.test_member_self import PHONE, member_token

    await _credit_in_force(hub, [("A", "1.5")])
    store = await _partner(hub, "store")
    operator = await _operator(hub)
    member = await _register(hub, store, phone=PHONE)
    await _gql(hub, SET_LEVEL, operator, id=member, level="A")
    token = await member_token(hub)

    off = await _gql(hub, AWARD, store, input=_order(member, 1, 100))
    turned_on = await _gql(hub, PREFERENCES, token, on=True)
    on = await _gql(hub, AWARD, store, input=_order(member, 2, 100))
    kept = await _gql(hub, PREFERENCES, token, on=None)
    turned_off = await _gql(hub, PREFERENCES, token, on=False)
    off_again = await _gql(hub, AWARD, store, input=_order(member, 3, 100))

    assert off["data"]["awardPoints"]["points"] == 100
    assert turned_on["data"]["setPrivacyPreferences"]["preferences"] == {"creditBenefits": True}
    assert on["data"]["awardPoints"]["points"] == 150
    assert kept["data"]["setPrivacyPreferences"]["preferences"] == {"creditBenefits": True}
    assert turned_off["data"]["setPrivacyPreferences"]["preferences"] == {"creditBenefits": False}
    assert off_again["data"]["awardPoints"]["points"] == 100


async def test_a_level_without_a_published_multiplier_earns_the_base(hub: Hub) -> None:
    await _credit_in_force(hub, [("A", "1.5")])
    store = await _partner(hub, "store")
    operator = await _operator(hub)
    member = await _register(hub, store, creditBenefitsConsent=True)
    await _gql(hub, SET_LEVEL, operator, id=member, level="D")

    body = await _gql(hub, AWARD, store, input=_order(member, 1, 100))

    assert body["data"]["awardPoints"]["points"] == 100


async def test_the_programme_factor_is_capped_at_the_maximum_combined_factor(hub: Hub) -> None:
    """Tier x2 and credit x2 would be x4: the schedule's cap of 3 bites, and says so."""
    await _schedule_in_force(
        hub,
        [TierInput("BASIC", "Basic", 0, 0, "2", [])],
        max_combined_factor="3",
    )
    await _credit_in_force(hub, [("A", "2")])
    store = await _partner(hub, "store")
    operator = await _operator(hub)
    member = await _register(hub, store, creditBenefitsConsent=True)
    await _gql(hub, SET_LEVEL, operator, id=member, level="A")

    body = await _gql(hub, AWARD, store, input=_order(member, 1, 100))

    awarded = body["data"]["awardPoints"]
    assert awarded["points"] == 300
    assert awarded["breakdown"][0]["programmeFactor"] == "3"
    factors = {f["kind"]: f for f in awarded["factors"]}
    assert factors["TIER"]["exactPoints"] == "100"
    assert factors["MEMBER_BENEFITS"]["exactPoints"] == "200"
    assert factors["CAP"]["exactPoints"] == "-100"
