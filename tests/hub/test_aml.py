"""CR-08: operator thresholds, refusals over hard limits, cases over soft ones."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

import ledger
from core.db import utcnow
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import (
    AWARD,
    PUBLISH,
    REDEEM,
    _award_input,
    _gql,
    _partner,
    _register,
)

pytestmark = pytest.mark.anyio

THRESHOLD = """mutation($pattern: AmlPattern!, $soft: Int!, $hard: Int!) {
  setAmlThreshold(input: {pattern: $pattern, soft: $soft, hard: $hard}) {
    threshold { soft hard } userErrors { code field }
  }
}"""
CASES = """query($status: AmlCaseStatus) { amlCases(status: $status) { edges { node {
  id pattern observed status note partner { code } evidence } } } }"""
RESOLVE = """mutation($id: ID!, $status: AmlCaseStatus!) {
  resolveAmlCase(input: {caseId: $id, status: $status, note: "checked the till roll"}) {
    case { status note } userErrors { code }
  }
}"""


async def _operator(hub: Hub) -> str:
    return await hub.access_token(await hub.client(partner=None, scopes=("operator:admin",)))


async def test_over_the_soft_limit_an_award_goes_through_and_opens_a_case(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=100, hard=1000)

    awarded = await _gql(hub, AWARD, store, input=_award_input(member))
    cases = await _gql(hub, CASES, operator)

    assert awarded["data"]["awardPoints"]["points"] == 123
    [case] = [edge["node"] for edge in cases["data"]["amlCases"]["edges"]]
    assert (case["pattern"], case["observed"], case["status"], case["partner"]) == (
        "EARNED_PER_MEMBER_DAY",
        123,
        "OPEN",
        {"code": "store"},
    )
    assert len(case["evidence"]) == 1


async def test_over_the_hard_limit_an_award_is_refused_and_audited(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=50, hard=100)

    refused = await _gql(hub, AWARD, store, input=_award_input(member))
    attempts = await _gql(
        hub, "{ blockedAttempts { edges { node { rule operation } } } }", operator
    )

    assert [(e["code"], e["rule"]) for e in refused["data"]["awardPoints"]["userErrors"]] == [
        ("COMPLIANCE_VIOLATION", "CR-08")
    ]
    assert attempts["data"]["blockedAttempts"]["edges"] == [
        {"node": {"rule": "CR-08", "operation": "awardPoints"}}
    ]
    assert (await hub.database.read(ledger.verify)).transfers == 0


async def test_redemptions_per_day_open_a_case_then_stop(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_award_input(member))
    item = (
        await _gql(
            hub,
            PUBLISH,
            store,
            items=[
                {
                    "sku": "gum",
                    "title": "Gum",
                    "category": "snacks",
                    "kind": "GOODS",
                    "green": False,
                    "basePoints": 1,
                }
            ],
        )
    )["data"]["upsertCatalogItems"]["items"][0]["id"]
    await _gql(hub, THRESHOLD, operator, pattern="REDEMPTIONS_PER_MEMBER_DAY", soft=1, hard=2)

    outcomes = [
        (
            await _gql(
                hub,
                REDEEM,
                store,
                input={"idempotencyKey": f"r{n}", "memberId": member, "catalogItemId": item},
            )
        )["data"]["redeemPoints"]
        for n in range(3)
    ]
    cases = await _gql(hub, CASES, operator, status="OPEN")

    assert [[e["rule"] for e in o["userErrors"]] for o in outcomes] == [[], [], ["CR-08"]]
    assert [e["node"]["pattern"] for e in cases["data"]["amlCases"]["edges"]] == [
        "REDEMPTIONS_PER_MEMBER_DAY"
    ]


async def test_the_operator_resolves_cases(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=100, hard=1000)
    await _gql(hub, AWARD, store, input=_award_input(member))
    case_id = (await _gql(hub, CASES, operator))["data"]["amlCases"]["edges"][0]["node"]["id"]

    reviewed = await _gql(hub, RESOLVE, operator, id=case_id, status="REVIEWED")
    closed = await _gql(hub, RESOLVE, operator, id=case_id, status="CLOSED")
    again = await _gql(hub, RESOLVE, operator, id=case_id, status="REVIEWED")

    assert reviewed["data"]["resolveAmlCase"]["case"] == {
        "status": "REVIEWED",
        "note": "checked the till roll",
    }
    assert closed["data"]["resolveAmlCase"]["case"]["status"] == "CLOSED"
    assert again["data"]["resolveAmlCase"]["userErrors"] == [{"code": "NOT_FOUND"}]


async def test_thresholds_need_soft_at_most_hard(hub: Hub) -> None:
    operator = await _operator(hub)

    body = await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=10, hard=5)

    assert body["data"]["setAmlThreshold"] == {
        "threshold": None,
        "userErrors": [{"code": "BAD_USER_INPUT", "field": ["soft"]}],
    }


async def test_partners_cannot_read_aml_cases(hub: Hub) -> None:
    store = await _partner(hub, "store")

    body = await _gql(hub, CASES, store)

    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN", "scope": "operator:admin"}


async def test_the_compliance_report_sums_refusals_budgets_liability_and_cases(
    hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import json

    from hub.cli import main

    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=100, hard=200)
    await _gql(hub, AWARD, store, input=_award_input(member))
    await _gql(hub, AWARD, store, input=_award_input(member, key="k2", order="o2"))

    assert (
        await asyncio.to_thread(main, ["compliance", "report", "--database-url", database_url]) == 0
    )
    report = json.loads(capsys.readouterr().out)

    assert report["refusals"] == [{"rule": "CR-08", "partner_code": "store", "count": 1}]
    assert [
        (b["partner_code"], b["amount_fen"], b["issued_points"], b["used_fen"], b["remaining_fen"])
        for b in report["budgets"]
    ] == [("store", 1_000_000, 123, 98, 999_902)]
    assert report["liability"] == [
        {"partner_code": "store", "spendable_points": 123, "held_points": 0}
    ]
    assert report["open_cases"] == [{"pattern": "EARNED_PER_MEMBER_DAY", "open": 1}]


REPORT = """query($after: String) { complianceReport {
  refusals { edges { node { rule partnerCode count } } }
  budgets(first: 1, after: $after) { edges { node { partnerCode amountFen issuedPoints usedFen remainingFen } }
                                     pageInfo { hasNextPage endCursor } }
  liability { edges { node { partnerCode spendablePoints heldPoints } } }
  openCases { pattern open }
} }"""


async def test_the_operator_reads_the_compliance_report_in_pages(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    await _partner(hub, "tea")
    member = await _register(hub, store)
    await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=100, hard=200)
    await _gql(hub, AWARD, store, input=_award_input(member))
    await _gql(hub, AWARD, store, input=_award_input(member, key="k2", order="o2"))

    first = (await _gql(hub, REPORT, operator))["data"]["complianceReport"]
    second = await _gql(hub, REPORT, operator, after=first["budgets"]["pageInfo"]["endCursor"])
    unknown = await _gql(hub, '{ complianceReport(periodId: "UGVyaW9kOjE=") { asOf } }', operator)
    denied = await _gql(hub, "{ complianceReport { asOf } }", store)

    assert first["refusals"]["edges"] == [
        {"node": {"rule": "CR-08", "partnerCode": "store", "count": 1}}
    ]
    assert first["budgets"]["edges"] == [
        {
            "node": {
                "partnerCode": "store",
                "amountFen": 1_000_000,
                "issuedPoints": 123,
                "usedFen": 98,
                "remainingFen": 999_902,
            }
        }
    ]
    assert first["budgets"]["pageInfo"]["hasNextPage"] is True
    assert [
        e["node"]["partnerCode"] for e in second["data"]["complianceReport"]["budgets"]["edges"]
    ] == ["tea"]
    assert second["data"]["complianceReport"]["budgets"]["pageInfo"]["hasNextPage"] is False
    assert first["liability"]["edges"] == [
        {"node": {"partnerCode": "store", "spendablePoints": 123, "heldPoints": 0}}
    ]
    assert first["openCases"] == [{"pattern": "EARNED_PER_MEMBER_DAY", "open": 1}]
    assert unknown == {"data": {"complianceReport": None}}
    assert denied["errors"][0]["extensions"] == {"code": "FORBIDDEN", "scope": "operator:admin"}


PERIOD_REPORT = """query($id: ID) { complianceReport(periodId: $id) {
  periodStart periodEnd
  refusals { edges { node { rule partnerCode count } } }
  budgets { edges { node { partnerCode issuedPoints issuedInPeriodPoints } } }
  openCases { pattern open }
} }"""
OPEN_PERIOD = """mutation($input: OpenSettlementPeriodInput!) { openSettlementPeriod(input: $input) {
  period { id } userErrors { code } } }"""


async def test_the_compliance_report_for_a_settlement_period(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    started = utcnow()
    await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=100, hard=200)
    await _gql(hub, AWARD, store, input=_award_input(member))
    await _gql(hub, AWARD, store, input=_award_input(member, key="k2", order="o2"))
    ended = utcnow()

    async def period(starts: datetime, ends: datetime) -> str:
        body = await _gql(
            hub,
            OPEN_PERIOD,
            operator,
            input={"cycle": "MONTHLY", "startsAt": starts.isoformat(), "endsAt": ends.isoformat()},
        )
        return str(body["data"]["openSettlementPeriod"]["period"]["id"])

    inside = await period(started, ended)
    before = await period(started - timedelta(days=20), started - timedelta(days=10))

    report = (await _gql(hub, PERIOD_REPORT, operator, id=inside))["data"]["complianceReport"]
    earlier = (await _gql(hub, PERIOD_REPORT, operator, id=before))["data"]["complianceReport"]

    assert report["periodStart"] is not None
    assert report["refusals"]["edges"] == [
        {"node": {"rule": "CR-08", "partnerCode": "store", "count": 1}}
    ]
    assert report["budgets"]["edges"] == [
        {"node": {"partnerCode": "store", "issuedPoints": 123, "issuedInPeriodPoints": 123}}
    ]
    assert report["openCases"] == [{"pattern": "EARNED_PER_MEMBER_DAY", "open": 1}]
    assert earlier["refusals"]["edges"] == []
    assert earlier["openCases"] == []
    assert earlier["budgets"]["edges"] == []  # the store's budget began a day ago
