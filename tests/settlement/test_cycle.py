"""A full settlement cycle through GraphQL: awards at A, redemptions at B and C, a refund
with compensation; partner reports with a wrong line, an extra one and a missing one;
reconcile, resolve, close; exact statements; and what a closed period refuses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

import ledger
from core.db import utcnow
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import (
    ALL,
    AWARD,
    PUBLISH,
    _award_input,
    _gql,
    _partner,
    _register,
)
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio

SETTLING = (*ALL, "settlement:read", "settlement:write")
REDEEM = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) { redemption { id points } userErrors { code } } }"""
REFUND = """mutation($input: RefundRedemptionInput!) {
  refundRedemption(input: $input) { userErrors { code message } } }"""
OPEN = """mutation($input: OpenSettlementPeriodInput!) { openSettlementPeriod(input: $input) {
  period { id status startsAt endsAt } userErrors { code message field } } }"""
RECONCILE = """mutation($id: ID!) { reconcileSettlementPeriod(input: {periodId: $id}) {
  summary { matched missingInHub missingInPartner amountMismatch unresolved }
  userErrors { code message } } }"""
POST = """mutation($id: ID!, $lines: [SettlementLineInput!]!) {
  postSettlementReport(input: {periodId: $id, lines: $lines}) {
    accepted alreadyPosted userErrors { code message field } } }"""
LINES = """query($id: ID!, $status: ReconciliationStatus) { settlementPeriod(id: $id) {
  reconciliation { lines(status: $status) { edges { node {
    id kind reference hubPoints hubFen partnerPoints partnerFen status resolution
    partner { code } } } } } } }"""
RESOLVE = """mutation($id: ID!, $resolution: ReconciliationResolution!, $note: String) {
  resolveReconciliationLine(input: {lineId: $id, resolution: $resolution, note: $note}) {
    line { status resolution adjustTransferId } userErrors { code message field } } }"""
CLOSE = """mutation($id: ID!) { closeSettlementPeriod(input: {periodId: $id}) {
  period { status frozen closedAt } userErrors { code message } } }"""
STATEMENTS = """query($id: ID!) { settlementPeriod(id: $id) {
  status frozen operatorRevenueFen
  statements { edges { node { partner { code } issuedPoints issueFen reversedPoints
    reversalFen compensationPoints compensationFen redeemedPoints reimbursementFen
    refundedPoints refundFen adjustmentFen feeFen netFen } } }
  netPositions { edges { node { partner { code } netFen direction } } }
  provenance { edges { node { issuer { code } redeemer { code } points amountFen } } }
  netting { grossFen bilateralNetFen multilateralNetFen ratio }
} }"""


def _item(sku: str, points: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "title": sku,
        "category": "c",
        "kind": "SERVICE",
        "green": False,
        "basePoints": points,
        "serviceTerms": {"validDays": 90},
    }


class Cycle:
    """Three partners on a monthly cycle (issue 0.8, reimbursement 0.75, fee 2 %)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.period = ""  # set by tests that open one for the traded window

    async def gql(self, query: str, token: str, **variables: Any) -> dict:
        return await _gql(self.hub, query, token, **variables)

    async def trade(self) -> None:
        hub = self.hub
        self.started = utcnow() - timedelta(minutes=1)
        self.store = await _partner(hub, "store", scopes=SETTLING)
        self.cinema = await _partner(hub, "cinema", scopes=SETTLING)
        self.optician = await _partner(hub, "optician", scopes=SETTLING)
        self.operator = await hub.access_token(
            await hub.client(partner=None, scopes=("operator:admin",))
        )
        self.member = await _register(hub, self.store)
        for token in (self.cinema, self.optician):
            await _register(hub, token, ref="m-x")
        for order in ("o1", "o2"):  # 123 points each
            await self.gql(
                AWARD, self.store, input=_award_input(self.member, key=order, order=order)
            )
        ticket = await self.gql(PUBLISH, self.cinema, items=[_item("ticket", 100)])
        lens = await self.gql(PUBLISH, self.optician, items=[_item("lens", 50)])
        self.ticket = await self._redeem(self.cinema, ticket, "t1")
        self.lens = await self._redeem(self.optician, lens, "l1")
        refunded = await self.gql(
            REFUND,
            self.cinema,
            input={"idempotencyKey": "r1", "redemptionId": self.ticket, "compensationPoints": 10},
        )
        assert refunded["data"]["refundRedemption"]["userErrors"] == []
        self.ended = utcnow()

    async def _redeem(self, token: str, published: dict, key: str) -> str:
        item = published["data"]["upsertCatalogItems"]["items"][0]["id"]
        body = await self.gql(
            REDEEM,
            token,
            input={"idempotencyKey": key, "memberId": self.member, "catalogItemId": item},
        )
        return str(body["data"]["redeemPoints"]["redemption"]["id"])

    async def open(self, starts: Any, ends: Any) -> str:
        body = await self.gql(
            OPEN,
            self.operator,
            input={"cycle": "MONTHLY", "startsAt": starts.isoformat(), "endsAt": ends.isoformat()},
        )
        assert body["data"]["openSettlementPeriod"]["userErrors"] == [], body
        return str(body["data"]["openSettlementPeriod"]["period"]["id"])

    async def lines(self, period: str, token: str, status: str | None = None) -> list[dict]:
        body = await self.gql(LINES, token, id=period, status=status)
        edges = body["data"]["settlementPeriod"]["reconciliation"]["lines"]["edges"]
        return [e["node"] for e in edges]


def _statements(body: dict) -> dict[str, dict]:
    found = {}
    for edge in body["data"]["settlementPeriod"]["statements"]["edges"]:
        node = dict(edge["node"])
        found[node.pop("partner")["code"]] = node
    return found


async def test_a_full_cycle_from_open_to_closed(hub: Hub) -> None:
    cycle = Cycle(hub)
    await cycle.trade()
    period = await cycle.open(cycle.started, cycle.ended)

    # The partners post their reports: the store's second award is wrong (120 points, not
    # 123) and it claims an award the hub never made; the optician posts nothing.
    store_lines = [
        {"kind": "AWARD", "reference": "o1", "points": 123, "amountFen": 98},
        {"kind": "AWARD", "reference": "o2", "points": 120, "amountFen": 96},
        {"kind": "AWARD", "reference": "o3", "points": 50, "amountFen": 40},
    ]
    posted = await cycle.gql(POST, cycle.store, id=period, lines=store_lines)
    assert posted["data"]["postSettlementReport"] == {
        "accepted": 3,
        "alreadyPosted": 0,
        "userErrors": [],
    }
    cinema_lines = [
        {"kind": "REDEMPTION", "reference": cycle.ticket, "points": 100, "amountFen": 75},
        {"kind": "REFUND", "reference": cycle.ticket, "points": 100, "amountFen": 75},
        {"kind": "COMPENSATION", "reference": cycle.ticket, "points": 10, "amountFen": 8},
    ]
    await cycle.gql(POST, cycle.cinema, id=period, lines=cinema_lines)
    again = await cycle.gql(POST, cycle.cinema, id=period, lines=cinema_lines)
    assert again["data"]["postSettlementReport"]["alreadyPosted"] == 3  # idempotent

    reconciled = await cycle.gql(RECONCILE, cycle.operator, id=period)
    assert reconciled["data"]["reconcileSettlementPeriod"]["summary"] == {
        "matched": 4,
        "missingInHub": 1,
        "missingInPartner": 1,
        "amountMismatch": 1,
        "unresolved": 3,
    }
    refused = await cycle.gql(CLOSE, cycle.operator, id=period)
    assert [e["code"] for e in refused["data"]["closeSettlementPeriod"]["userErrors"]] == [
        "UNRESOLVED_LINES"
    ]

    unmatched = {
        (line["partner"]["code"], line["status"]): line
        for line in await cycle.lines(period, cycle.operator)
        if line["status"] != "MATCHED"
    }
    assert unmatched[("store", "AMOUNT_MISMATCH")]["reference"] == "o2"
    assert (
        unmatched[("store", "AMOUNT_MISMATCH")]["hubPoints"],
        unmatched[("store", "AMOUNT_MISMATCH")]["hubFen"],
    ) == ("123", "98")
    assert unmatched[("optician", "MISSING_IN_PARTNER")]["reference"] == cycle.lens
    extra = unmatched[("store", "MISSING_IN_HUB")]

    async def resolve(line: dict, resolution: str, note: str | None = None) -> dict:
        body = await cycle.gql(
            RESOLVE, cycle.operator, id=line["id"], resolution=resolution, note=note
        )
        return dict(body["data"]["resolveReconciliationLine"])

    assert (await resolve(unmatched[("store", "AMOUNT_MISMATCH")], "ACCEPT_HUB"))[
        "userErrors"
    ] == []
    assert (await resolve(unmatched[("optician", "MISSING_IN_PARTNER")], "ACCEPT_HUB"))[
        "userErrors"
    ] == []
    no_note = await resolve(extra, "DISPUTE")
    assert [e["field"] for e in no_note["userErrors"]] == [["note"]]
    disputed = await resolve(extra, "DISPUTE", "store to send the till roll for o3")
    assert disputed["line"]["resolution"] == "DISPUTE"
    still = await cycle.gql(CLOSE, cycle.operator, id=period)
    assert (
        "1 reconciliation lines"
        in still["data"]["closeSettlementPeriod"]["userErrors"][0]["message"]
    )
    adjusted = await resolve(extra, "ADJUST", "till roll shows the sale")
    assert adjusted["line"]["resolution"] == "ADJUST"
    assert adjusted["line"]["adjustTransferId"] is not None

    closed = await cycle.gql(CLOSE, cycle.operator, id=period)
    assert closed["data"]["closeSettlementPeriod"]["period"]["status"] == "CLOSED"
    body = await cycle.gql(STATEMENTS, cycle.operator, id=period)

    zero = {"reversedPoints": "0", "reversalFen": "0", "adjustmentFen": "0"}
    assert _statements(body) == {
        "store": {
            **zero,
            "issuedPoints": "246",
            "issueFen": "197",  # 246 x 0.8 = 196.8
            "compensationPoints": "0",
            "compensationFen": "0",
            "redeemedPoints": "0",
            "reimbursementFen": "0",
            "refundedPoints": "0",
            "refundFen": "0",
            "feeFen": "0",
            "netFen": "-197",
        },
        "cinema": {
            **zero,
            "issuedPoints": "0",
            "issueFen": "0",
            "compensationPoints": "10",
            "compensationFen": "8",
            "redeemedPoints": "100",
            "reimbursementFen": "75",
            "refundedPoints": "100",
            "refundFen": "75",
            "feeFen": "0",
            "netFen": "-8",
        },
        "optician": {
            **zero,
            "issuedPoints": "0",
            "issueFen": "0",
            "compensationPoints": "0",
            "compensationFen": "0",
            "redeemedPoints": "50",
            "reimbursementFen": "38",  # 37.5, half-even
            "refundedPoints": "0",
            "refundFen": "0",
            "feeFen": "1",  # 2 % of 37.5 = 0.75
            "netFen": "37",
        },
    }
    period_data = body["data"]["settlementPeriod"]
    assert (period_data["status"], period_data["frozen"]) == ("CLOSED", True)
    nets = [int(e["node"]["netFen"]) for e in period_data["netPositions"]["edges"]]
    assert sum(nets) + int(period_data["operatorRevenueFen"]) == 0
    assert period_data["operatorRevenueFen"] == "168"
    assert [e["node"]["direction"] for e in period_data["netPositions"]["edges"]] == [
        "PAYS_OPERATOR",
        "PAYS_OPERATOR",
        "PAID_BY_OPERATOR",
    ]
    assert [e["node"] for e in period_data["provenance"]["edges"]] == [
        {
            "issuer": {"code": "store"},
            "redeemer": {"code": "optician"},
            "points": "50",
            "amountFen": "38",
        }
    ]
    assert period_data["netting"] == {
        "grossFen": "38",
        "bilateralNetFen": "38",
        "multilateralNetFen": "38",
        "ratio": "0.0000",
    }

    # Closed for good: no more lines, no more resolutions, no reopening, frozen rows.
    late = await cycle.gql(POST, cycle.store, id=period, lines=store_lines[:1])
    assert [e["code"] for e in late["data"]["postSettlementReport"]["userErrors"]] == [
        "PERIOD_CLOSED"
    ]
    reopened = await cycle.gql(RECONCILE, cycle.operator, id=period)
    assert [e["code"] for e in reopened["data"]["reconcileSettlementPeriod"]["userErrors"]] == [
        "PERIOD_CLOSED"
    ]
    after_close = next(
        line for line in await cycle.lines(period, cycle.operator) if line["status"] != "MATCHED"
    )
    too_late = await cycle.gql(
        RESOLVE, cycle.operator, id=after_close["id"], resolution="DISPUTE", note="too late"
    )
    assert [e["code"] for e in too_late["data"]["resolveReconciliationLine"]["userErrors"]] == [
        "PERIOD_CLOSED"
    ]
    for statement in (
        "UPDATE settlement_statements SET net_fen = 0",
        "DELETE FROM settlement_statements",
        "UPDATE settlement_periods SET status = 'OPEN'",
    ):
        with pytest.raises(DBAPIError):
            await hub.database.write(lambda s, sql=statement: s.execute(text(sql)))
    assert _statements(await cycle.gql(STATEMENTS, cycle.operator, id=period)) == _statements(body)

    # The adjustment settles in the next period: the store pays for the 50 points.
    following = await cycle.open(cycle.ended, utcnow() + timedelta(seconds=1))
    next_statements = _statements(await cycle.gql(STATEMENTS, cycle.operator, id=following))
    assert next_statements["store"]["adjustmentFen"] == "-40"
    assert next_statements["store"]["netFen"] == "-40"
    assert (await hub.database.read(ledger.verify)).clean


async def test_partners_see_only_their_own_statement_and_lines(hub: Hub) -> None:
    cycle = Cycle(hub)
    await cycle.trade()
    period = await cycle.open(cycle.started, cycle.ended)
    await cycle.gql(RECONCILE, cycle.operator, id=period)

    body = await cycle.gql(STATEMENTS, cycle.cinema, id=period)
    lines = await cycle.lines(period, cycle.cinema)

    assert list(_statements(body)) == ["cinema"]
    period_data = body["data"]["settlementPeriod"]
    assert period_data["operatorRevenueFen"] is None
    assert period_data["netting"] is None
    assert [e["node"]["partner"]["code"] for e in period_data["netPositions"]["edges"]] == [
        "cinema"
    ]
    assert {line["partner"]["code"] for line in lines} == {"cinema"}
    assert len(lines) == 3


NESTED = """query($id: ID!, $n: Int) { settlementPeriod(id: $id) {
  statements(first: $n) { edges { node { partner { code } netFen } } }
  netPositions(first: $n) { edges { node { partner { code } } } }
  provenance(first: $n) { edges { node { issuer { code } redeemer { code } } } }
  reconciliation { summary { matched } lines(first: $n) { edges { node { partner { code } } } } }
} }"""


async def test_nested_settlement_fields_cost_the_same_statements_for_any_page(
    hub: Hub,
) -> None:
    cycle = Cycle(hub)
    await cycle.trade()
    period = await cycle.open(cycle.started, cycle.ended)
    await cycle.gql(RECONCILE, cycle.operator, id=period)

    shapes = []
    for size in (1, 6):
        with counting_statements(hub.database) as log:
            body = await cycle.gql(NESTED, cycle.operator, id=period, n=size)
        edges = body["data"]["settlementPeriod"]["reconciliation"]["lines"]["edges"]
        assert len(edges) == size
        partner_reads = [q for q in log.statements if "FROM partners" in q]
        # Partners come through the per-request loader: one batch per resolution wave
        # (lines, statements, positions, provenance), whatever the page size.
        assert len(partner_reads) <= 4
        shapes.append(sorted(q for q in log.statements if q not in partner_reads))

    assert shapes[0] == shapes[1]
