"""Compensation is issuance by the partner that compensates (issue 12, finding 1): capped
by the operator's policy (CR-12), funded from its budget (CR-02), seen by AML (CR-08) and
charged in its settlement statement, through GraphQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from strawberry.relay import GlobalID

import ledger
from core.db import utcnow
from members.earning import Line, award
from partners.registry import find_partner
from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import Alliance, _allowed, _blocked
from tests.hub.test_graphql_members import PUBLISH, _gql, _partner, _register
from tests.hub.test_graphql_redemptions import BALANCE, REDEEM
from tests.settlement.test_cycle import OPEN, SETTLING, STATEMENTS

pytestmark = pytest.mark.anyio

REFUND = """mutation($input: RefundRedemptionInput!) {
  refundRedemption(input: $input) {
    restoredPoints compensationPoints userErrors { code rule field } } }"""
POLICY = """mutation($code: String!, $cap: Int!) {
  setCompensationPolicy(input: {partnerCode: $code, capPercent: $cap}) {
    partner { code compensationCapPercent } userErrors { code field } } }"""
CAP = "query($code: String!) { partner(code: $code) { compensationCapPercent } }"
BUDGETS = """{ complianceReport { budgets { edges { node { partnerCode issuedPoints } } } } }"""
CASES = """{ amlCases { edges { node { pattern observed evidence partner { code } } } } }"""
THRESHOLD = """mutation($soft: Int!, $hard: Int!) {
  setAmlThreshold(input: {pattern: EARNED_PER_MEMBER_DAY, soft: $soft, hard: $hard}) {
    userErrors { code } } }"""


class Cinema(Alliance):
    """The table's alliance, plus a cinema with a 60-point ticket the member redeemed twice."""

    async def setup(self, budget_fen: int | None = 1_000_000) -> Cinema:  # type: ignore[override]
        await super().setup()
        self.cinema = await _partner(self.hub, "cinema", budget_fen=budget_fen, scopes=SETTLING)
        await _register(self.hub, self.cinema, ref="c-1")
        published = await _gql(
            self.hub,
            PUBLISH,
            self.cinema,
            items=[
                {
                    "sku": "ticket",
                    "title": "Ticket",
                    "category": "film",
                    "kind": "SERVICE",
                    "green": False,
                    "basePoints": 60,
                    "serviceTerms": {"validDays": 30},
                }
            ],
        )
        self.ticket = published["data"]["upsertCatalogItems"]["items"][0]["id"]
        self.redemptions = [await self.redeem(f"r{n}") for n in range(2)]
        return self

    async def redeem(self, key: str) -> str:
        body = await _gql(
            self.hub,
            REDEEM,
            self.cinema,
            input={"idempotencyKey": key, "memberId": self.member, "catalogItemId": self.ticket},
        )
        return str(body["data"]["redeemPoints"]["redemption"]["id"])

    def refund(self, n: int, points: int, key: str | None = None):  # type: ignore[no-untyped-def]
        async def run() -> dict:
            body = await _gql(
                self.hub,
                REFUND,
                self.cinema,
                input={
                    "idempotencyKey": key or f"refund-{n}-{points}",
                    "redemptionId": self.redemptions[n],
                    "compensationPoints": points,
                },
            )
            return dict(body["data"]["refundRedemption"])

        return run


async def test_a_million_points_on_a_ticket_is_refused_cr12(hub: Hub) -> None:
    """The finding replayed: compensation above the operator's cap (by default the points
    refunded) is refused whole, the refund included; the cap itself goes through."""
    cinema = await Cinema(hub).setup()

    await _blocked(cinema, "CR-12", cinema.refund(0, 1_000_000))
    await _allowed(cinema, cinema.refund(0, 60))

    balance = await _gql(hub, BALANCE, cinema.cinema, id=cinema.member)
    assert balance["data"]["member"]["balance"] == 123 - 120 + 60 + 60


async def test_the_operator_sets_the_cap_and_the_partner_sees_it(hub: Hub) -> None:
    cinema = await Cinema(hub).setup()
    other = await _partner(hub, "other")

    before = await _gql(hub, CAP, cinema.cinema, code="cinema")
    changed = await _gql(hub, POLICY, cinema.operator, code="cinema", cap=50)
    refused = await _gql(hub, POLICY, cinema.operator, code="cinema", cap=-1)
    by_partner = await _gql(hub, POLICY, cinema.cinema, code="cinema", cap=1000)
    seen_by_other = await _gql(hub, CAP, other, code="cinema")
    seen_anonymously = await _gql(hub, CAP, None, code="cinema")

    assert before["data"]["partner"]["compensationCapPercent"] == 100
    assert changed["data"]["setCompensationPolicy"] == {
        "partner": {"code": "cinema", "compensationCapPercent": 50},
        "userErrors": [],
    }
    assert refused["data"]["setCompensationPolicy"]["userErrors"][0]["code"] == "BAD_USER_INPUT"
    assert by_partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert seen_by_other["data"]["partner"]["compensationCapPercent"] is None
    assert seen_anonymously["data"]["partner"]["compensationCapPercent"] is None
    await _blocked(cinema, "CR-12", cinema.refund(0, 31))
    await _allowed(cinema, cinema.refund(0, 30))


async def test_compensation_beyond_the_budget_is_refused_cr02(hub: Hub) -> None:
    # 0.8 fen a point: 80 fen fund 100 points; the cinema awarded none.
    cinema = await Cinema(hub).setup(budget_fen=80)
    await _gql(hub, POLICY, cinema.operator, code="cinema", cap=1000)

    await _blocked(cinema, "CR-02", cinema.refund(0, 101))
    await _allowed(cinema, cinema.refund(0, 100))


async def test_compensation_shows_in_budget_use_aml_and_the_settlement_statement(
    hub: Hub,
) -> None:
    started = utcnow() - timedelta(minutes=1)
    cinema = await Cinema(hub).setup()
    await _gql(hub, THRESHOLD, cinema.operator, soft=150, hard=10_000)

    refunded = await cinema.refund(0, 60)()
    assert refunded["userErrors"] == []

    budgets = await _gql(hub, BUDGETS, cinema.operator)
    used = {
        e["node"]["partnerCode"]: e["node"]["issuedPoints"]
        for e in budgets["data"]["complianceReport"]["budgets"]["edges"]
    }
    assert used["cinema"] == 60
    cases = await _gql(hub, CASES, cinema.operator)
    [case] = [e["node"] for e in cases["data"]["amlCases"]["edges"]]
    assert (case["pattern"], case["observed"], case["partner"]) == (
        "EARNED_PER_MEMBER_DAY",
        123 + 60,  # the day's award and the compensation
        {"code": "cinema"},
    )
    opened = await _gql(
        hub,
        OPEN,
        cinema.operator,
        input={
            "cycle": "MONTHLY",
            "startsAt": started.isoformat(),
            "endsAt": (utcnow() + timedelta(minutes=1)).isoformat(),
        },
    )
    period = opened["data"]["openSettlementPeriod"]["period"]["id"]
    statements = await _gql(hub, STATEMENTS, cinema.operator, id=period)
    [statement] = [
        e["node"]
        for e in statements["data"]["settlementPeriod"]["statements"]["edges"]
        if e["node"]["partner"]["code"] == "cinema"
    ]
    assert (statement["compensationPoints"], statement["compensationFen"]) == ("60", "48")
    assert (await hub.database.read(ledger.verify)).clean


async def test_compensation_counts_towards_the_daily_hard_limit(hub: Hub) -> None:
    cinema = await Cinema(hub).setup()
    await _gql(hub, THRESHOLD, cinema.operator, soft=150, hard=170)

    await _blocked(cinema, "CR-08", cinema.refund(0, 60))  # 123 earned today + 60 > 170
    await _allowed(cinema, cinema.refund(0, 47))


async def test_racing_compensations_never_exceed_the_budget(hub: Hub) -> None:
    """Two refunds whose compensation fits the budget only once: one is CR-02."""
    cinema = await Cinema(hub).setup(budget_fen=80)  # 100 points

    outcomes = await asyncio.gather(cinema.refund(0, 60)(), cinema.refund(1, 60)())

    errors = sorted(tuple(e["rule"] for e in o["userErrors"]) for o in outcomes)
    assert errors == [(), ("CR-02",)]
    report = await hub.database.read(ledger.verify)
    assert report.clean
    budgets = await _gql(hub, BUDGETS, cinema.operator)
    assert [
        e["node"]["issuedPoints"]
        for e in budgets["data"]["complianceReport"]["budgets"]["edges"]
        if e["node"]["partnerCode"] == "cinema"
    ] == [60]


async def test_two_refunds_racing_on_one_redemption_compensate_once(hub: Hub) -> None:
    cinema = await Cinema(hub).setup()

    outcomes = await asyncio.gather(*(cinema.refund(0, 60, key=f"race-{n}")() for n in range(3)))

    assert sorted(len(o["userErrors"]) for o in outcomes) == [0, 1, 1]
    budgets = await _gql(hub, BUDGETS, cinema.operator)
    assert [
        e["node"]["issuedPoints"]
        for e in budgets["data"]["complianceReport"]["budgets"]["edges"]
        if e["node"]["partnerCode"] == "cinema"
    ] == [60]
    assert (await hub.database.read(ledger.verify)).clean


LIQUID = """mutation($pattern: AmlPattern!, $soft: Int!, $hard: Int!) {
  setAmlThreshold(input: {pattern: $pattern, soft: $soft, hard: $hard}) { userErrors { code } } }"""


async def test_compensation_spent_at_once_on_vouchers_counts_as_fresh_points(hub: Hub) -> None:
    """The finding's second half: the compensation was left out of the liquid-voucher
    figures. Now the points just issued as compensation count as points just earned."""
    cinema = await Cinema(hub).setup()
    # 123 points earned an hour ago: not fresh, but they let the balance cover the voucher
    # (a spend the balance cannot cover is refused INSUFFICIENT_POINTS before screening).
    earlier = utcnow() - timedelta(hours=1)
    await hub.database.write(
        award,
        ledger.IdempotencyKey("job", "earlier"),
        partner_id=(await hub.database.read(find_partner, "store")).id,
        member_id=int(GlobalID.from_id(cinema.member).node_id),
        order_ref="earlier",
        paid_amount_fen=12_300,
        lines=[Line("s", "c", 12_300, False)],
        now=earlier,
        expires_at=earlier + timedelta(days=365),
    )
    await _gql(hub, LIQUID, cinema.operator, pattern="FAST_LIQUID_REDEMPTION", soft=50, hard=170)
    assert (await cinema.refund(0, 60)())["userErrors"] == []
    voucher = await _gql(
        hub,
        PUBLISH,
        cinema.cinema,
        items=[
            {
                "sku": "voucher",
                "title": "Snack voucher",
                "category": "film",
                "kind": "VOUCHER",
                "green": False,
                "basePoints": 180,
            }
        ],
    )
    item = voucher["data"]["upsertCatalogItems"]["items"][0]["id"]

    spent = await _gql(
        hub,
        REDEEM,
        cinema.cinema,
        input={"idempotencyKey": "liquid", "memberId": cinema.member, "catalogItemId": item},
    )

    # Of the 180 points asked (246 held), 123 awarded + 60 of compensation, all within 30
    # minutes, could be fresh: 180 > 170. Without the compensation counted it would read
    # 123 and pass.
    assert spent["data"]["redeemPoints"]["userErrors"] == [{"code": "COMPLIANCE_VIOLATION"}]
