"""Issue 14, tiers: the published, versioned tier schedule; members' tiers computed from
points earned over 365 days; upgrades inside the award; the tier multiplier in the
breakdown and funded like every point; refunds and the yearly evaluation; abuse."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from strawberry import relay

import ledger
from core.db import utcnow
from events.models import OutboxEvent
from members.models import MemberTier, TierChange
from members.tiers import TierInput, evaluate_batch, set_tier_schedule
from tests.conftest import Clock
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import _award_input, _gql, _partner, _register

pytestmark = pytest.mark.anyio

SCHEDULE = """{ tierSchedule {
  inForce { version effectiveAt maxCombinedFactor
    tiers { code name rank qualifyingPoints qualifyingOrders earnMultiplier perks } }
  upcoming { edges { node { version tiers { code earnMultiplier } } } }
} }"""
PUBLISH = """mutation($input: SetTierScheduleInput!) {
  setTierSchedule(input: $input) {
    schedule { version effectiveAt tiers { code qualifyingPoints } }
    userErrors { code message field rule }
  }
}"""
AWARD = """mutation($input: AwardPointsInput!) {
  awardPoints(input: $input) {
    points exactPoints
    breakdown { sku tierMultiplier programmeFactor exactPoints }
    factors { kind multiplier rule exactPoints }
    tierChange { fromTier toTier reason }
    member { tier { code name rank earnMultiplier } }
    userErrors { code message field rule }
  }
}"""
MEMBER = """query($id: ID!) { member(id: $id) {
  tier { code name since scheduleVersion }
  tierProgress { tier { code } nextTier { code qualifyingPoints } pointsToNext ordersToNext
    qualifyingPoints qualifyingOrders heldUntil explanation }
  tierHistory { edges { node { fromTier toTier reason scheduleVersion qualifyingPoints } } }
} }"""
REVERSE = """mutation($input: ReverseAwardInput!) {
  reverseAward(input: $input) { clawedBack userErrors { code } } }"""

TIERS = [
    TierInput("BASIC", "普通", 0, 0, "1", ["Member prices"]),
    TierInput("SILVER", "银卡", 100, 0, "1.5", ["2 hours free parking"]),
    TierInput("GOLD", "金卡", 1000, 2, "2", ["Personal shopping guide"]),
]


async def _operator(hub: Hub) -> str:
    return await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))


async def _schedule_in_force(hub: Hub, tiers: list[TierInput] = TIERS, **extra: Any) -> None:
    """A schedule the operator published eight days ago, in force since a moment ago: a
    shortcut through the service (a back-dated ``now``) for tests about other things. The
    acceptance walk (test_programme_walk.py) publishes through GraphQL and lets the clock
    travel past the notice instead."""
    now = utcnow()
    await hub.database.write(
        set_tier_schedule,
        effective_at=now - timedelta(seconds=1),
        tiers=tiers,
        now=now - timedelta(days=8),
        notice=timedelta(days=7),
        **extra,
    )


def _order(member: str, n: int, yuan: int, category: str = "food") -> dict[str, Any]:
    return _award_input(
        member,
        key=f"award-{n}",
        order=f"order-{n}",
        paidAmountFen=yuan * 100,
        lines=[{"sku": f"sku-{n}", "category": category, "amountFen": yuan * 100}],
    )


def _tier_input(code: str, points: int, multiplier: str = "1", orders: int = 0) -> dict:
    return {
        "code": code,
        "name": code.title(),
        "qualifyingPoints": points,
        "qualifyingOrders": orders,
        "earnMultiplier": multiplier,
    }


async def test_anyone_reads_the_schedule_in_force_and_the_one_to_come(
    hub: Hub, clock: Clock
) -> None:
    operator = await _operator(hub)
    before = await _gql(hub, SCHEDULE)  # anonymous
    later = utcnow() + timedelta(days=8)

    published = await _gql(
        hub,
        PUBLISH,
        operator,
        input={
            "effectiveAt": later.isoformat(),
            "tiers": [_tier_input("BASIC", 0), _tier_input("GOLD", 500, "2")],
        },
    )
    after = await _gql(hub, SCHEDULE)
    clock.travel(timedelta(days=8, minutes=1))
    travelled = await _gql(hub, SCHEDULE)

    # Until one is published, every member holds the alliance's one default tier.
    assert before["data"]["tierSchedule"]["inForce"]["version"] == 0
    assert before["data"]["tierSchedule"]["inForce"]["tiers"][0]["code"] == "MEMBER"
    assert published["data"]["setTierSchedule"]["userErrors"] == []
    assert published["data"]["setTierSchedule"]["schedule"]["version"] == 1
    schedules = after["data"]["tierSchedule"]
    assert schedules["inForce"]["version"] == 0  # nothing changes before effectiveAt
    assert schedules["upcoming"]["edges"] == [
        {
            "node": {
                "version": 1,
                "tiers": [
                    {"code": "BASIC", "earnMultiplier": "1"},
                    {"code": "GOLD", "earnMultiplier": "2"},
                ],
            }
        }
    ]
    # Once its effectiveAt has passed, it is the schedule in force and no longer upcoming.
    in_force = travelled["data"]["tierSchedule"]
    assert in_force["inForce"]["version"] == 1
    assert [t["code"] for t in in_force["inForce"]["tiers"]] == ["BASIC", "GOLD"]
    assert in_force["upcoming"]["edges"] == []


@pytest.mark.parametrize(
    ("days", "rule"),
    [(-1, "CR-07"), (0, "CR-07"), (3, "CR-07")],
    ids=["in the past", "now", "inside the notice period"],
)
async def test_a_schedule_is_published_ahead_only(hub: Hub, days: int, rule: str) -> None:
    operator = await _operator(hub)
    at = utcnow() + timedelta(days=days)

    body = await _gql(
        hub,
        PUBLISH,
        operator,
        input={"effectiveAt": at.isoformat(), "tiers": [_tier_input("BASIC", 0)]},
    )

    errors = body["data"]["setTierSchedule"]["userErrors"]
    assert [(e["code"], e["rule"], e["field"]) for e in errors] == [
        ("COMPLIANCE_VIOLATION", rule, ["effectiveAt"])
    ]
    assert (await _gql(hub, SCHEDULE))["data"]["tierSchedule"]["upcoming"]["edges"] == []


@pytest.mark.parametrize(
    ("tiers", "field"),
    [
        ([_tier_input("BASIC", 10)], ["tiers", "0", "qualifyingPoints"]),
        ([_tier_input("BASIC", 0), _tier_input("GOLD", 0)], ["tiers", "1", "qualifyingPoints"]),
        (
            [_tier_input("BASIC", 0, "2"), _tier_input("GOLD", 10, "1.5")],
            ["tiers", "1", "earnMultiplier"],
        ),
        ([_tier_input("BASIC", 0, "0.5")], ["tiers", "0", "earnMultiplier"]),
        ([_tier_input("BASIC", 0, "1.00001")], ["tiers", "0", "earnMultiplier"]),
        ([_tier_input("BASIC", 0), _tier_input("TOP", 10, "4")], ["tiers", "1", "earnMultiplier"]),
        ([_tier_input("BASIC", 0), _tier_input("BASIC", 10)], ["tiers", "1", "code"]),
        ([_tier_input("gold", 0)], ["tiers", "0", "code"]),
        ([_tier_input("BASIC", 0), _tier_input("GOLD", 10, orders=-1)], None),
        ([], ["tiers"]),
        ([_tier_input(f"T{n}", n) for n in range(11)], ["tiers"]),
    ],
    ids=[
        "base tier needs points",
        "no higher threshold",
        "higher tier earns less",
        "multiplier below 1",
        "five decimal places",
        "above the combined cap of 3",
        "duplicate code",
        "lower-case code",
        "negative orders",
        "no tier",
        "eleven tiers",
    ],
)
async def test_malformed_schedules_are_refused(
    hub: Hub, tiers: list[dict], field: list[str] | None
) -> None:
    operator = await _operator(hub)
    at = utcnow() + timedelta(days=10)

    body = await _gql(hub, PUBLISH, operator, input={"effectiveAt": at.isoformat(), "tiers": tiers})

    payload = body["data"]["setTierSchedule"]
    assert payload["schedule"] is None
    assert payload["userErrors"][0]["code"] == "BAD_USER_INPUT"
    if field is not None:
        assert payload["userErrors"][0]["field"] == field


async def test_only_the_operator_publishes_a_schedule(hub: Hub) -> None:
    store = await _partner(hub, "store")
    at = utcnow() + timedelta(days=10)

    body = await _gql(
        hub, PUBLISH, store, input={"effectiveAt": at.isoformat(), "tiers": [_tier_input("B", 0)]}
    )

    assert body["data"] is None or body["data"]["setTierSchedule"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_member_climbs_a_tier_inside_the_award_and_earns_more_from_the_next(
    hub: Hub,
) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)

    first = (await _gql(hub, AWARD, store, input=_order(member, 1, 60)))["data"]["awardPoints"]
    second = (await _gql(hub, AWARD, store, input=_order(member, 2, 50)))["data"]["awardPoints"]
    replay = (await _gql(hub, AWARD, store, input=_order(member, 2, 50)))["data"]["awardPoints"]
    third = (await _gql(hub, AWARD, store, input=_order(member, 3, 100)))["data"]["awardPoints"]
    read = (await _gql(hub, MEMBER, store, id=member))["data"]["member"]

    assert first["points"] == 60
    assert first["tierChange"] is None
    assert first["member"]["tier"]["code"] == "BASIC"
    # 60 + 50 = 110 earned: SILVER at once, in the same award's payload; this award
    # itself earned at the tier held before it.
    assert second["points"] == 50
    assert second["tierChange"] == {"fromTier": "BASIC", "toTier": "SILVER", "reason": "UPGRADE"}
    assert second["member"]["tier"] == {
        "code": "SILVER",
        "name": "银卡",
        "rank": 1,
        "earnMultiplier": "1.5",
    }
    assert replay == second
    # The next award earns x1.5, shown per line and per factor with its rule version.
    assert third["points"] == 150
    assert third["breakdown"][0]["tierMultiplier"] == "1.5"
    assert third["breakdown"][0]["programmeFactor"] == "1.5"
    factors = {f["kind"]: f for f in third["factors"]}
    assert list(factors) == [
        "BASE_RATE",
        "CATEGORY",
        "GREEN",
        "TIER",
        "MEMBER_BENEFITS",
        "ROUNDING",
    ]
    assert factors["TIER"] == {
        "kind": "TIER",
        "multiplier": "1.5",
        "rule": "tier schedule v1: SILVER",
        "exactPoints": "50",
    }
    assert factors["BASE_RATE"]["exactPoints"] == "100"
    assert factors["BASE_RATE"]["rule"].startswith("alliance default earning rule")
    assert third["tierChange"] is None
    # 260 earned, GOLD needs 1000 and 2 orders.
    progress = read["tierProgress"]
    assert progress["tier"] == {"code": "SILVER"}
    assert progress["nextTier"] == {"code": "GOLD", "qualifyingPoints": 1000}
    assert (progress["qualifyingPoints"], progress["qualifyingOrders"]) == (260, 3)
    assert (progress["pointsToNext"], progress["ordersToNext"]) == (740, 0)
    assert progress["heldUntil"] is not None
    assert "740 more points" in progress["explanation"]
    assert read["tierHistory"]["edges"] == [
        {
            "node": {
                "fromTier": "BASIC",
                "toTier": "SILVER",
                "reason": "UPGRADE",
                "scheduleVersion": 1,
                "qualifyingPoints": 110,
            }
        }
    ]
    assert (await hub.database.read(ledger.verify)).clean


async def test_the_tier_change_is_an_event_for_consenting_partners(hub: Hub) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)

    await _gql(hub, AWARD, store, input=_order(member, 1, 120))

    def events(session: Session) -> list[tuple[str, dict, str]]:
        return [
            (row.type, json.loads(row.payload), row.audience)
            for row in session.execute(
                select(OutboxEvent).where(OutboxEvent.type == "member.tier_changed")
            ).scalars()
        ]

    found = await hub.database.read(events)
    assert len(found) == 1
    _, payload, audience = found[0]
    assert (payload["fromTier"], payload["toTier"]) == ("BASIC", "SILVER")
    assert (payload["memberId"], payload["reason"]) == (member, "UPGRADE")
    assert json.loads(audience) == [1]


async def test_points_earned_count_not_the_balance_and_orders_can_be_required(hub: Hub) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)

    # 1200 points in one order: past GOLD's points, but GOLD needs 2 orders too.
    one = (await _gql(hub, AWARD, store, input=_order(member, 1, 1200)))["data"]["awardPoints"]
    two = (await _gql(hub, AWARD, store, input=_order(member, 2, 1)))["data"]["awardPoints"]

    assert one["tierChange"]["toTier"] == "SILVER"
    assert two["tierChange"] == {"fromTier": "SILVER", "toTier": "GOLD", "reason": "UPGRADE"}


async def test_a_refunded_upgrade_is_no_upgrade(hub: Hub) -> None:
    """Buy big, climb, refund: the tier the refunded order carried goes with it."""
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_order(member, 1, 150))

    reversed_ = await _gql(
        hub, REVERSE, store, input={"idempotencyKey": "rev-1", "orderRef": "order-1"}
    )
    read = (await _gql(hub, MEMBER, store, id=member))["data"]["member"]
    after = (await _gql(hub, AWARD, store, input=_order(member, 2, 10)))["data"]["awardPoints"]

    assert reversed_["data"]["reverseAward"]["userErrors"] == []
    assert read["tier"]["code"] == "BASIC"
    assert [e["node"]["reason"] for e in read["tierHistory"]["edges"]] == ["REVERSAL", "UPGRADE"]
    assert read["tierProgress"]["qualifyingPoints"] == 0
    assert after["points"] == 10  # no multiplier left from the refunded climb
    assert (await hub.database.read(ledger.verify)).clean


async def test_the_tier_multiplier_is_funded_from_the_partners_budget(hub: Hub) -> None:
    """CR-02 counts the multiplied points: a budget for 125 points at 0.8 fen refuses 150."""
    await _schedule_in_force(hub)
    rich = await _partner(hub, "rich")
    poor = await _partner(hub, "poor", budget_fen=100)
    member = await _register(hub, rich)
    await _gql(hub, AWARD, rich, input=_order(member, 1, 200))  # SILVER now
    await _register(hub, poor, ref="m-poor")

    body = await _gql(hub, AWARD, poor, input=_order(member, 9, 100))

    errors = body["data"]["awardPoints"]["userErrors"]
    assert [(e["code"], e["rule"]) for e in errors] == [("COMPLIANCE_VIOLATION", "CR-02")]


async def test_a_partner_without_consent_never_reads_the_tier(hub: Hub) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    other = await _partner(hub, "other")
    member = await _register(hub, store)

    body = await _gql(hub, MEMBER, other, id=member)

    assert body["data"]["member"] is None
    assert body["errors"][0]["extensions"]["rule"] == "CR-10"


async def test_the_member_sees_their_tier_and_path_in_the_app(hub: Hub) -> None:
    from tests.hub.test_member_self import PHONE, member_token

    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store, phone=PHONE)
    await _gql(hub, AWARD, store, input=_order(member, 1, 120))
    token = await member_token(hub)

    body = await _gql(
        hub,
        "{ me { tier { code } tierProgress { nextTier { code } pointsToNext explanation } "
        "tierHistory { edges { node { toTier reason } } } } }",
        token,
    )

    me = body["data"]["me"]
    assert me["tier"] == {"code": "SILVER"}
    assert me["tierProgress"]["nextTier"] == {"code": "GOLD"}
    assert me["tierProgress"]["pointsToNext"] == 880
    assert "金卡 (GOLD) needs 1000 points and 2 orders" in me["tierProgress"]["explanation"]
    assert me["tierHistory"]["edges"] == [{"node": {"toTier": "SILVER", "reason": "UPGRADE"}}]


async def _age_tier(hub: Hub, member_id: int, days: int) -> None:
    def age(session: Session) -> None:
        session.execute(
            update(MemberTier)
            .where(MemberTier.member_id == member_id)
            .values(qualified_at=utcnow() - timedelta(days=days))
        )

    await hub.database.write(age)


async def test_the_yearly_evaluation_lowers_only_after_the_year_of_grace(hub: Hub) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_order(member, 1, 120))  # SILVER
    today = utcnow().date()
    member_id = int(relay.from_base64(member)[1])

    # Within the qualifying year plus grace: kept even with nothing earned later.
    await _age_tier(hub, member_id, 700)
    early = await hub.database.write(evaluate_batch, today + timedelta(days=1))
    # The points of a year ago fell out of the window two years later; now it is due.
    await _age_tier(hub, member_id, 731)

    def backdate(session: Session) -> None:
        from members.models import Award

        session.execute(update(Award).values(created_at=utcnow() - timedelta(days=731)))

    await hub.database.write(backdate)
    due = await hub.database.write(evaluate_batch, today + timedelta(days=1))
    again = await hub.database.write(evaluate_batch, today + timedelta(days=1))

    def changes(session: Session) -> list[tuple[str, str, str, date | None]]:
        return [
            (row.from_code, row.to_code, row.reason, row.evaluated_on)
            for row in session.execute(select(TierChange).order_by(TierChange.id)).scalars()
        ]

    assert (early.members, early.downgraded) == (0, 0)
    assert (due.members, due.downgraded) == (1, 1)
    assert (again.members, again.downgraded) == (0, 0)  # idempotent for the day
    assert (await hub.database.read(changes))[-1] == (
        "SILVER",
        "BASIC",
        "DOWNGRADE",
        today + timedelta(days=1),
    )
    read = (await _gql(hub, MEMBER, store, id=member))["data"]["member"]
    assert read["tier"]["code"] == "BASIC"


async def test_a_member_who_keeps_earning_keeps_the_tier(hub: Hub) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_order(member, 1, 120))
    await _age_tier(hub, int(relay.from_base64(member)[1]), 800)

    # An award that meets SILVER again restarts its qualifying year.
    await _gql(hub, AWARD, store, input=_order(member, 2, 10))
    batch = await hub.database.write(evaluate_batch, utcnow().date() + timedelta(days=1))

    assert batch.members == 0
    read = (await _gql(hub, MEMBER, store, id=member))["data"]["member"]
    assert read["tier"]["code"] == "SILVER"


async def test_a_new_schedule_without_the_members_code_keeps_their_rank(hub: Hub) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_order(member, 1, 120))  # SILVER, rank 1
    await _schedule_in_force(
        hub,
        [
            TierInput("REGULAR", "Regular", 0, 0, "1", []),
            TierInput("PLUS", "Plus", 500, 0, "1.2", []),
        ],
    )

    read = (await _gql(hub, MEMBER, store, id=member))["data"]["member"]

    assert read["tier"]["code"] == "PLUS"
    assert read["tier"]["scheduleVersion"] == 2


async def test_racing_awards_record_one_upgrade(hub: Hub) -> None:
    import asyncio

    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)

    bodies = await asyncio.gather(
        *(_gql(hub, AWARD, store, input=_order(member, n, 30)) for n in range(6))
    )
    read = (await _gql(hub, MEMBER, store, id=member))["data"]["member"]

    changes = [b["data"]["awardPoints"]["tierChange"] for b in bodies]
    assert [c for c in changes if c is not None] == [
        {"fromTier": "BASIC", "toTier": "SILVER", "reason": "UPGRADE"}
    ]
    assert read["tier"]["code"] == "SILVER"
    assert [e["node"]["reason"] for e in read["tierHistory"]["edges"]] == ["UPGRADE"]
    assert (await hub.database.read(ledger.verify)).clean
