"""CR-08's patterns beyond the daily counts: points earned and at once spent on a liquid
item, days ending just under the earning limit, a partner's issuance far above its own
average; and the operator's AML commands."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from strawberry.relay import GlobalID

import ledger
from compliance.errors import ComplianceViolation
from core.db import utcnow
from hub.cli import main
from members.earning import Line, award
from partners.registry import find_partner
from tests.hub.conftest import Hub
from tests.hub.test_aml import CASES, THRESHOLD, _operator
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


async def _item(hub: Hub, token: str, kind: str) -> str:
    body = await _gql(
        hub,
        PUBLISH,
        token,
        items=[
            {
                "sku": kind.lower(),
                "title": kind,
                "category": "c",
                "kind": kind,
                "green": False,
                "basePoints": 100,
            }
        ],
    )
    return str(body["data"]["upsertCatalogItems"]["items"][0]["id"])


async def _redeem(hub: Hub, token: str, member: str, item: str, key: str) -> dict:
    body = await _gql(
        hub,
        REDEEM,
        token,
        input={"idempotencyKey": key, "memberId": member, "catalogItemId": item},
    )
    return dict(body["data"]["redeemPoints"])


async def _cases(hub: Hub, operator: str) -> list[dict]:
    return [e["node"] for e in (await _gql(hub, CASES, operator))["data"]["amlCases"]["edges"]]


async def test_fresh_points_spent_at_once_on_a_voucher_open_a_case(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    voucher, goods = await _item(hub, store, "VOUCHER"), await _item(hub, store, "GOODS")
    await _gql(hub, THRESHOLD, operator, pattern="FAST_LIQUID_REDEMPTION", soft=50, hard=150)
    await _gql(hub, AWARD, store, input=_award_input(member))
    await _gql(hub, AWARD, store, input=_award_input(member, key="k2", order="o2"))  # 246 fresh

    on_goods = await _redeem(hub, store, member, goods, "g1")
    assert on_goods["userErrors"] == []
    assert await _cases(hub, operator) == []  # goods are not liquid: no case

    on_voucher = await _redeem(hub, store, member, voucher, "v1")  # 100 of the fresh points
    assert on_voucher["userErrors"] == []
    [case] = await _cases(hub, operator)
    assert (case["pattern"], case["observed"], case["status"]) == (
        "FAST_LIQUID_REDEMPTION",
        100,
        "OPEN",
    )
    assert len(case["evidence"]) == 3  # the two earns and the redemption


async def test_a_fast_voucher_redemption_over_the_hard_limit_is_refused(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    voucher = await _item(hub, store, "VOUCHER")
    await _gql(hub, THRESHOLD, operator, pattern="FAST_LIQUID_REDEMPTION", soft=10, hard=99)
    await _gql(hub, AWARD, store, input=_award_input(member))

    refused = await _redeem(hub, store, member, voucher, "v1")

    assert [(e["code"], e["rule"]) for e in refused["userErrors"]] == [
        ("COMPLIANCE_VIOLATION", "CR-08")
    ]
    balance = await _gql(hub, "query($id: ID!) { member(id: $id) { balance } }", store, id=member)
    assert balance["data"]["member"]["balance"] == 123


async def _seasoned_partner(hub: Hub, code: str, days: int) -> tuple[str, int]:
    """A partner whose terms and budget reach ``days`` back, so awards can be dated."""
    token = await _partner(hub, code, budget_fen=10_000_000, history=timedelta(days=days))
    return token, (await hub.database.read(find_partner, code)).id


async def _award_at(
    hub: Hub, partner_id: int, member: str, at: datetime, points_fen: int, ref: str
) -> None:
    await hub.database.write(
        award,
        ledger.IdempotencyKey("job", ref),
        partner_id=partner_id,
        member_id=int(GlobalID.from_id(member).node_id),
        order_ref=ref,
        paid_amount_fen=points_fen,
        lines=[Line("s", "c", points_fen, False)],
        now=at,
        expires_at=at + timedelta(days=365),
    )


def _midday(days_ago: int) -> datetime:
    day = utcnow().replace(hour=12, minute=0, second=0, microsecond=0)
    return day - timedelta(days=days_ago)


async def test_days_ending_just_under_the_earning_limit_open_a_case_then_refuse(
    hub: Hub,
) -> None:
    operator = await _operator(hub)
    store, store_id = await _seasoned_partner(hub, "store", days=10)
    member = await _register(hub, store)
    await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=130, hard=10_000)
    await _gql(hub, THRESHOLD, operator, pattern="DAYS_JUST_UNDER_LIMIT", soft=1, hard=2)

    # 125 points a day: at least 90 % of the soft limit of 130, and under it.
    await _award_at(hub, store_id, member, _midday(3), 12_500, "d3")
    assert await _cases(hub, operator) == []  # one such day: not over the soft limit of 1
    await _award_at(hub, store_id, member, _midday(2), 12_500, "d2")
    [case] = await _cases(hub, operator)
    assert (case["pattern"], case["observed"]) == ("DAYS_JUST_UNDER_LIMIT", 2)

    with pytest.raises(ComplianceViolation) as third_day:
        await _award_at(hub, store_id, member, _midday(1), 12_500, "d1")
    assert third_day.value.rule == "CR-08"
    # A day clearly under the band is normal use.
    await _award_at(hub, store_id, member, _midday(1), 5_000, "d1-small")
    assert len(await _cases(hub, operator)) == 1


async def test_a_partner_issuing_far_above_its_average_opens_a_case_then_is_refused(
    hub: Hub,
) -> None:
    operator = await _operator(hub)
    store, store_id = await _seasoned_partner(hub, "store", days=12)
    member = await _register(hub, store)
    for days_ago in range(10, 0, -1):  # ten days of 123 points a day
        await _award_at(hub, store_id, member, _midday(days_ago), 12_300, f"h{days_ago}")
    await _gql(hub, THRESHOLD, operator, pattern="PARTNER_ISSUANCE_SPIKE", soft=150, hard=250)

    first = await _gql(hub, AWARD, store, input=_award_input(member, key="t1", order="t1"))
    assert first["data"]["awardPoints"]["userErrors"] == []
    assert await _cases(hub, operator) == []  # 100 % of its average
    second = await _gql(hub, AWARD, store, input=_award_input(member, key="t2", order="t2"))
    assert second["data"]["awardPoints"]["userErrors"] == []
    [case] = await _cases(hub, operator)
    assert (case["pattern"], case["observed"], case["partner"]) == (
        "PARTNER_ISSUANCE_SPIKE",
        200,
        {"code": "store"},
    )
    third = await _gql(hub, AWARD, store, input=_award_input(member, key="t3", order="t3"))
    assert [e["rule"] for e in third["data"]["awardPoints"]["userErrors"]] == ["CR-08"]


async def test_a_new_partner_has_no_average_to_exceed(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, THRESHOLD, operator, pattern="PARTNER_ISSUANCE_SPIKE", soft=1, hard=2)

    body = await _gql(hub, AWARD, store, input=_award_input(member))

    assert body["data"]["awardPoints"]["userErrors"] == []
    assert await _cases(hub, operator) == []


async def test_repeated_crossings_in_a_day_join_one_case(hub: Hub) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, THRESHOLD, operator, pattern="EARNED_PER_MEMBER_DAY", soft=100, hard=10_000)

    for n in range(3):
        await _gql(hub, AWARD, store, input=_award_input(member, key=f"k{n}", order=f"o{n}"))

    [case] = await _cases(hub, operator)
    assert (case["observed"], len(case["evidence"])) == (369, 3)


async def test_the_operator_lists_resolves_and_sets_limits_from_the_cli(
    hub: Hub, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def cli(*words: str) -> int:
        return main([*words, "--database-url", database_url])

    store = await _partner(hub, "store")
    member = await _register(hub, store)
    assert (
        await asyncio.to_thread(
            cli,
            "compliance",
            "set-threshold",
            "EARNED_PER_MEMBER_DAY",
            "--soft",
            "100",
            "--hard",
            "900",
        )
        == 0
    )
    await _gql(hub, AWARD, store, input=_award_input(member))
    capsys.readouterr()

    assert await asyncio.to_thread(cli, "compliance", "cases", "--status", "OPEN") == 0
    [line] = capsys.readouterr().out.splitlines()
    case = json.loads(line)
    assert (case["pattern"], case["observed"], case["status"]) == (
        "EARNED_PER_MEMBER_DAY",
        123,
        "OPEN",
    )
    assert "phone" not in line

    assert (
        await asyncio.to_thread(
            cli, "compliance", "resolve-case", str(case["id"]), "--status", "CLOSED", "--note", "ok"
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == f"case {case['id']} CLOSED"
    assert await asyncio.to_thread(cli, "compliance", "cases", "--status", "OPEN") == 0
    assert capsys.readouterr().out == ""

    # Bad input: a closed case, an unknown pattern, soft above hard.
    assert (
        await asyncio.to_thread(
            cli, "compliance", "resolve-case", str(case["id"]), "--status", "REVIEWED"
        )
        == 1
    )
    assert "no such case" in capsys.readouterr().err
    assert (
        await asyncio.to_thread(
            cli, "compliance", "set-threshold", "NOPE", "--soft", "1", "--hard", "2"
        )
        == 1
    )
    assert "unknown pattern" in capsys.readouterr().err
    assert (
        await asyncio.to_thread(
            cli,
            "compliance",
            "set-threshold",
            "EARNED_PER_MEMBER_DAY",
            "--soft",
            "5",
            "--hard",
            "2",
        )
        == 1
    )
    assert "soft <= hard" in capsys.readouterr().err
