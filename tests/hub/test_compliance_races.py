"""Red lines under concurrency: a budget is never overrun and an order is never awarded
twice, however requests race (real concurrent connections on PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

import ledger
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _partner, _register

pytestmark = pytest.mark.anyio


def _order(member: str, n: int, fen: int) -> dict:
    return _award_input(
        member,
        key=f"race-{n}",
        order=f"race-{n}",
        paidAmountFen=fen,
        lines=[{"sku": "x", "category": "c", "amountFen": fen}],
    )


async def test_racing_awards_never_exceed_the_budget(hub: Hub) -> None:
    # 0.8 fen per point and 8,000 fen of budget: at most 10,000 points; 12 awards of 1,000.
    store = await _partner(hub, "store", budget_fen=8_000)
    member = await _register(hub, store)

    outcomes = await asyncio.gather(
        *(_gql(hub, AWARD, store, input=_order(member, n, 100_000)) for n in range(12))
    )

    payloads = [o["data"]["awardPoints"] for o in outcomes]
    awarded = [p["points"] for p in payloads if not p["userErrors"]]
    refused = [p["userErrors"][0]["rule"] for p in payloads if p["userErrors"]]
    assert (sum(awarded), len(awarded)) == (10_000, 10)
    assert refused == ["CR-02", "CR-02"]
    assert (await hub.database.read(ledger.verify)).member_points == 10_000


async def test_two_awards_racing_on_one_order_award_once(hub: Hub) -> None:
    store = await _partner(hub, "store")
    member = await _register(hub, store)

    outcomes = await asyncio.gather(
        *(
            _gql(hub, AWARD, store, input=_award_input(member, key=f"k{n}", order="same-order"))
            for n in range(4)
        )
    )

    errors = sorted(
        tuple(e["rule"] for e in o["data"]["awardPoints"]["userErrors"]) for o in outcomes
    )
    assert errors == [(), ("CR-01",), ("CR-01",), ("CR-01",)]
    assert (await hub.database.read(ledger.verify)).member_points == 123
