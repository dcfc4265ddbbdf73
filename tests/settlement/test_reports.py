"""Partner-posted settlement reports: bad input is refused whole, with a typed error, and
nothing is half-written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core.db import utcnow
from settlement.models import ReportLine
from tests.hub.conftest import Hub
from tests.settlement.test_cycle import CLOSE, OPEN, POST, RECONCILE, RESOLVE, Cycle

pytestmark = pytest.mark.anyio


async def _posted(hub: Hub) -> int:
    def count(session: Any) -> int:
        return int(session.execute(select(func.count(ReportLine.id))).scalar_one())

    return await hub.database.read(count)


def _line(reference: str = "o1", points: int = 123, amount: int = 98, kind: str = "AWARD") -> dict:
    return {"kind": kind, "reference": reference, "points": points, "amountFen": amount}


@pytest.fixture
async def cycle(hub: Hub) -> Cycle:
    found = Cycle(hub)
    await found.trade()
    found.period = await found.open(found.started, found.ended)
    return found


@pytest.mark.parametrize(
    ("lines", "code", "field"),
    [
        ([_line(points=-5)], "BAD_USER_INPUT", ["lines", "0", "points"]),
        ([_line(amount=-1)], "BAD_USER_INPUT", ["lines", "0", "amountFen"]),
        ([_line(), _line(reference="")], "BAD_USER_INPUT", ["lines", "1", "reference"]),
        ([_line(), _line(points=124)], "CONFLICT", ["lines", "1"]),  # one key, two figures
        ([], "BAD_USER_INPUT", ["lines"]),
        ([_line(f"o{n}") for n in range(5_001)], "BAD_USER_INPUT", ["lines"]),
    ],
    ids=["negative points", "negative amount", "no reference", "conflict", "none", "5001"],
)
async def test_bad_lines_are_refused_whole(
    hub: Hub, cycle: Cycle, lines: list[dict], code: str, field: list[str]
) -> None:
    body = await cycle.gql(POST, cycle.store, id=cycle.period, lines=lines)

    payload = body["data"]["postSettlementReport"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert payload["accepted"] is None
    assert await _posted(hub) == 0


async def test_five_thousand_lines_in_one_call_and_a_replay(hub: Hub, cycle: Cycle) -> None:
    lines = [_line(f"bulk-{n}", points=n + 1, amount=n) for n in range(5_000)]

    first = await cycle.gql(POST, cycle.store, id=cycle.period, lines=lines)
    replay = await cycle.gql(POST, cycle.store, id=cycle.period, lines=lines[:10])

    assert first["data"]["postSettlementReport"] == {
        "accepted": 5_000,
        "alreadyPosted": 0,
        "userErrors": [],
    }
    assert replay["data"]["postSettlementReport"]["alreadyPosted"] == 10
    assert await _posted(hub) == 5_000


async def test_a_line_posted_again_with_other_figures_is_a_conflict(hub: Hub, cycle: Cycle) -> None:
    await cycle.gql(POST, cycle.store, id=cycle.period, lines=[_line()])

    changed = await cycle.gql(
        POST,
        cycle.store,
        id=cycle.period,
        lines=[_line("o9"), _line(points=1)],
    )

    assert [e["code"] for e in changed["data"]["postSettlementReport"]["userErrors"]] == [
        "CONFLICT"
    ]
    assert await _posted(hub) == 1  # o9 was not written either


async def test_another_partners_references_never_match(hub: Hub, cycle: Cycle) -> None:
    """The optician claims the store's order and the cinema's redemption: its lines are
    missing in the hub, and nothing of the other partners' lines is revealed to it."""
    lines = [_line("o1"), _line(cycle.ticket, points=100, amount=75, kind="REDEMPTION")]
    await cycle.gql(POST, cycle.optician, id=cycle.period, lines=lines)
    await cycle.gql(RECONCILE, cycle.operator, id=cycle.period)

    seen = await cycle.lines(cycle.period, cycle.optician)

    assert sorted((line["reference"], line["status"]) for line in seen) == sorted(
        [
            ("o1", "MISSING_IN_HUB"),
            (cycle.ticket, "MISSING_IN_HUB"),
            (cycle.lens, "MISSING_IN_PARTNER"),
        ]
    )
    assert all(line["hubPoints"] is None for line in seen if line["status"] == "MISSING_IN_HUB")


async def test_unknown_period_and_the_operator_cannot_post(hub: Hub, cycle: Cycle) -> None:
    unknown = await cycle.gql(POST, cycle.store, id="U2V0dGxlbWVudFBlcmlvZDo5OTk=", lines=[_line()])
    operator = await cycle.gql(POST, cycle.operator, id=cycle.period, lines=[_line()])

    assert [e["code"] for e in unknown["data"]["postSettlementReport"]["userErrors"]] == [
        "NOT_FOUND"
    ]
    assert operator["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_running_period_cannot_be_reconciled_or_closed(hub: Hub, cycle: Cycle) -> None:
    running = await cycle.open(utcnow() + timedelta(days=40), utcnow() + timedelta(days=41))

    early = await cycle.gql(RECONCILE, cycle.operator, id=running)
    closing = await cycle.gql(CLOSE, cycle.operator, id=running)

    assert [e["code"] for e in early["data"]["reconcileSettlementPeriod"]["userErrors"]] == [
        "PERIOD_NOT_ENDED"
    ]
    assert [e["code"] for e in closing["data"]["closeSettlementPeriod"]["userErrors"]] == [
        "PERIOD_NOT_RECONCILING"
    ]


async def test_overlapping_and_overlong_periods_are_refused(hub: Hub, cycle: Cycle) -> None:
    async def open_(starts: Any, ends: Any | None) -> list[dict]:
        body = await cycle.gql(
            OPEN,
            cycle.operator,
            input={
                "cycle": "MONTHLY",
                "startsAt": starts.isoformat(),
                "endsAt": None if ends is None else ends.isoformat(),
            },
        )
        return list(body["data"]["openSettlementPeriod"]["userErrors"])

    overlapping = await open_(cycle.started + timedelta(seconds=1), None)
    overlong = await open_(cycle.ended + timedelta(days=100), cycle.ended + timedelta(days=140))
    backwards = await open_(cycle.ended + timedelta(days=200), cycle.ended + timedelta(days=199))

    assert [e["field"] for e in overlapping] == [["startsAt"]]
    assert [e["field"] for e in overlong] == [["endsAt"]]
    assert [e["field"] for e in backwards] == [["endsAt"]]


async def test_resolving_a_matched_or_unknown_line_is_not_found(hub: Hub, cycle: Cycle) -> None:
    await cycle.gql(POST, cycle.store, id=cycle.period, lines=[_line()])
    await cycle.gql(RECONCILE, cycle.operator, id=cycle.period)
    matched = await cycle.lines(cycle.period, cycle.operator, "MATCHED")

    for line_id in (matched[0]["id"], "UmVjb25jaWxpYXRpb25MaW5lOjk5OQ=="):
        body = await cycle.gql(RESOLVE, cycle.operator, id=line_id, resolution="ACCEPT_HUB")
        assert [e["code"] for e in body["data"]["resolveReconciliationLine"]["userErrors"]] == [
            "NOT_FOUND"
        ]


BULK = """mutation($input: ResolveReconciliationLinesInput!) {
  resolveReconciliationLines(input: $input) { resolved remaining userErrors { code field } } }"""


async def test_the_operator_resolves_lines_in_bulk(hub: Hub, cycle: Cycle) -> None:
    await cycle.gql(RECONCILE, cycle.operator, id=cycle.period)

    async def bulk(**filters: Any) -> dict:
        body = await cycle.gql(
            BULK,
            cycle.operator,
            input={"periodId": cycle.period, "resolution": "ACCEPT_HUB", **filters},
        )
        return dict(body["data"]["resolveReconciliationLines"])

    store_only = await bulk(partnerCode="store", status="MISSING_IN_PARTNER")
    unknown_partner = await bulk(partnerCode="nobody")
    rest = await bulk()
    nothing_left = await bulk()
    closed = await cycle.gql(CLOSE, cycle.operator, id=cycle.period)

    assert store_only == {"resolved": 2, "remaining": 0, "userErrors": []}
    assert [e["code"] for e in unknown_partner["userErrors"]] == ["NOT_FOUND"]
    assert rest == {"resolved": 4, "remaining": 0, "userErrors": []}
    assert nothing_left["resolved"] == 0
    assert closed["data"]["closeSettlementPeriod"]["period"]["status"] == "CLOSED"
    partner = await cycle.gql(
        BULK, cycle.store, input={"periodId": cycle.period, "resolution": "ADJUST"}
    )
    assert partner["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_line_posted_after_reconciling_is_classified_by_the_close(
    hub: Hub, cycle: Cycle
) -> None:
    await cycle.gql(RECONCILE, cycle.operator, id=cycle.period)
    await cycle.gql(
        BULK, cycle.operator, input={"periodId": cycle.period, "resolution": "ACCEPT_HUB"}
    )
    await cycle.gql(POST, cycle.store, id=cycle.period, lines=[_line("late-order")])

    refused = await cycle.gql(CLOSE, cycle.operator, id=cycle.period)
    late = await cycle.lines(cycle.period, cycle.operator, "MISSING_IN_HUB")

    assert [e["code"] for e in refused["data"]["closeSettlementPeriod"]["userErrors"]] == [
        "UNRESOLVED_LINES"
    ]
    assert [line["reference"] for line in late] == []  # the refused close rolled back
    await cycle.gql(RECONCILE, cycle.operator, id=cycle.period)
    [line] = await cycle.lines(cycle.period, cycle.operator, "MISSING_IN_HUB")
    assert line["reference"] == "late-order"
