"""Closing a period tells each partner its statement is ready, and all of them it closed."""

from __future__ import annotations

import pytest

from tests.events.test_outbox import events
from tests.hub.conftest import Hub
from tests.settlement.test_cycle import CLOSE, RECONCILE, Cycle

pytestmark = pytest.mark.anyio

RESOLVE_ALL = """mutation($id: ID!) {
  resolveReconciliationLines(input: {periodId: $id, resolution: ACCEPT_HUB}) {
    resolved userErrors { code } } }"""


async def test_closing_a_period_writes_statement_ready_per_partner_and_period_closed(
    hub: Hub,
) -> None:
    cycle = Cycle(hub)
    await cycle.trade()
    period = await cycle.open(cycle.started, cycle.ended)
    await cycle.gql(RECONCILE, cycle.operator, id=period)
    await cycle.gql(RESOLVE_ALL, cycle.operator, id=period)
    closed = await cycle.gql(CLOSE, cycle.operator, id=period)
    assert closed["data"]["closeSettlementPeriod"]["userErrors"] == []

    found = await events(hub)
    ready = [e for e in found if e["type"] == "settlement.statement_ready"]
    closing = [e for e in found if e["type"] == "settlement.period_closed"]

    assert len(ready) == 3
    assert all(e["audience"] == [e["partner_id"]] for e in ready)
    assert {e["payload"]["periodId"] for e in ready} == {period}
    assert all(isinstance(e["payload"]["netFen"], int) for e in ready)
    assert len(closing) == 1
    assert closing[0]["payload"] == {"periodId": period, "statements": 3}
    assert closing[0]["audience"] == sorted(e["partner_id"] for e in ready)
