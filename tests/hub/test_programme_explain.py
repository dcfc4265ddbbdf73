"""Issue 14, explainable points: a history line links to its award's breakdown; the
programme's member fields are batched (statements counted)."""

from __future__ import annotations

import pytest

from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import _gql, _partner, _register
from tests.hub.test_programme_tiers import AWARD, _order, _schedule_in_force
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio

HISTORY = """query($id: ID!) { member(id: $id) { history { edges { node {
  code amount orderRef award { points exactPoints breakdown { sku tierMultiplier }
    factors { kind rule exactPoints } } } } } } }"""


async def test_a_history_line_says_why_the_member_got_these_points(hub: Hub) -> None:
    from tests.hub.test_member_self import PHONE, member_token

    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store, phone=PHONE)
    awarded = (await _gql(hub, AWARD, store, input=_order(member, 1, 120)))["data"]["awardPoints"]
    token = await member_token(hub)

    by_partner = await _gql(hub, HISTORY, store, id=member)
    by_member = await _gql(
        hub,
        "{ me { history { edges { node { code award { points factors { kind rule } } } } } } }",
        token,
    )

    line = by_partner["data"]["member"]["history"]["edges"][0]["node"]
    assert line["code"] == "earn"
    assert line["award"]["points"] == awarded["points"] == 120
    assert [f["kind"] for f in line["award"]["factors"]] == [f["kind"] for f in awarded["factors"]]
    assert line["award"]["factors"][3]["rule"] == "tier schedule v1: BASIC"
    mine = by_member["data"]["me"]["history"]["edges"][0]["node"]
    assert mine["award"]["points"] == 120


MEMBERS = """query({vars}) {{ {fields} }}"""
FIELDS = """m{n}: member(id: $m{n}) {{ tier {{ code since }}
  tierProgress {{ nextTier {{ code }} pointsToNext qualifyingPoints explanation }} }}"""


async def test_the_programme_fields_of_many_members_cost_what_two_cost(hub: Hub) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    members = []
    for n in range(6):
        member = await _register(hub, store, ref=f"m-{n}", phone=f"139 0013 90{n:02d}")
        await _gql(hub, AWARD, store, input=_order(member, n, 50 + 30 * n))
        members.append(member)

    counts = []
    for size in (2, 6):
        query = MEMBERS.format(
            vars=", ".join(f"$m{n}: ID!" for n in range(size)),
            fields=" ".join(FIELDS.format(n=n) for n in range(size)),
        )
        with counting_statements(hub.database) as log:
            body = await _gql(hub, query, store, **{f"m{n}": members[n] for n in range(size)})
        assert "errors" not in body, body
        counts.append(log.count)

    assert counts[0] == counts[1]
