"""No figure overflows GraphQL's 32-bit Int: a member account stops at its documented
ceiling (LIMIT_EXCEEDED), and totals across members are BigInt strings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from strawberry.relay import GlobalID

import ledger
from core.db import utcnow
from ledger.accounts import MEMBER_BALANCE_MAX
from ledger.errors import BalanceCeilingExceeded
from partners.registry import find_partner
from tests.hub.conftest import Hub
from tests.hub.test_aml import _operator
from tests.hub.test_graphql_members import _gql, _partner, _register

pytestmark = pytest.mark.anyio

LIABILITY = "{ complianceReport { liability { edges { node { partnerCode spendable held } } } } }"


async def _grant(hub: Hub, partner_id: int, member: str, points: int, key: str) -> None:
    now = utcnow()
    await hub.database.write(
        ledger.earn,
        ledger.IdempotencyKey("test", key),
        member_id=int(GlobalID.from_id(member).node_id),
        partner_id=partner_id,
        points=points,
        order_ref=key,
        expires_at=now + timedelta(days=30),
        now=now,
    )


async def test_a_member_stops_at_the_ceiling_and_the_liability_total_is_a_bigint(
    hub: Hub,
) -> None:
    operator = await _operator(hub)
    store = await _partner(hub, "store")
    store_id = (await hub.database.read(find_partner, "store")).id
    members = [
        await _register(hub, store, ref=f"m-{n}", phone=f"138 0013 800{n}") for n in range(2)
    ]
    for n, member in enumerate(members):
        await _grant(hub, store_id, member, MEMBER_BALANCE_MAX, key=f"max-{n}")

    with pytest.raises(BalanceCeilingExceeded):
        await _grant(hub, store_id, members[0], 1, key="one-more")
    report = await _gql(hub, LIABILITY, operator)
    balance = await _gql(
        hub, "query($id: ID!) { member(id: $id) { balance } }", store, id=members[0]
    )

    assert report["data"]["complianceReport"]["liability"]["edges"] == [
        {"node": {"partnerCode": "store", "spendable": str(2 * MEMBER_BALANCE_MAX), "held": "0"}}
    ]
    assert balance == {"data": {"member": {"balance": MEMBER_BALANCE_MAX}}}
    assert (await hub.database.read(ledger.verify)).clean


async def test_a_hold_of_a_member_at_the_ceiling_is_voided_by_the_sweep(hub: Hub) -> None:
    """The ceiling bounds spendable plus held points: a reservation and its void move points
    between the member's own accounts and are never refused by it, so one member at the
    ceiling cannot stop the hold sweep (found by an outside attack)."""
    store = await _partner(hub, "store")
    store_id = (await hub.database.read(find_partner, "store")).id
    member = await _register(hub, store, ref="m-hold", phone="138 0013 8009")
    other = await _register(hub, store, ref="m-other", phone="138 0013 8010")
    member_id = int(GlobalID.from_id(member).node_id)
    other_id = int(GlobalID.from_id(other).node_id)
    await _grant(hub, store_id, member, MEMBER_BALANCE_MAX - 90, key="near-max")
    await _grant(hub, store_id, other, 500, key="other")
    now = utcnow()
    for who, key in ((member_id, "hold-a"), (other_id, "hold-b")):
        await hub.database.write(
            ledger.reserve,
            ledger.IdempotencyKey("test", key),
            member_id=who,
            partner_id=store_id,
            amount=90,
            deadline=now + timedelta(minutes=1),
            now=now,
        )
    # 180 spendable points short of the ceiling, but 90 are held: 91 more is one too many.
    with pytest.raises(BalanceCeilingExceeded):
        await _grant(hub, store_id, member, 91, key="over-with-held")
    await _grant(hub, store_id, member, 90, key="up-to-the-ceiling")

    voided = await hub.database.write(ledger.void_lapsed_holds, now + timedelta(minutes=2))
    balances = await _gql(
        hub,
        "query($a: ID!, $b: ID!) { a: member(id: $a) { balance heldPoints } "
        "b: member(id: $b) { balance heldPoints } }",
        store,
        a=member,
        b=other,
    )

    assert voided == 2
    assert balances == {
        "data": {
            "a": {"balance": MEMBER_BALANCE_MAX, "heldPoints": 0},
            "b": {"balance": 500, "heldPoints": 0},
        }
    }
    assert (await hub.database.read(ledger.verify)).clean
