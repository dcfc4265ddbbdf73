"""The outbox: events are written with the change that causes them, never without it."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from strawberry.relay import GlobalID

from core.db import utcnow
from events import EventType, emit
from events.models import OutboxEvent
from events.outbox import PersonalDataInEvent, global_id
from members.holds import expire_lapsed_lots, void_lapsed_holds
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _partner, _register
from tests.hub.test_graphql_redemptions import REFUND, RESERVE, _alliance

pytestmark = pytest.mark.anyio

REVOKE = """mutation($input: RevokeMemberConsentInput!) {
  revokeMemberConsent(input: $input) { userErrors { code } }
}"""


def _events(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(OutboxEvent).order_by(OutboxEvent.id)).scalars()
    return [
        {
            "type": row.type,
            "partner_id": row.partner_id,
            "member_id": row.member_id,
            "audience": json.loads(row.audience),
            "payload": json.loads(row.payload),
        }
        for row in rows
    ]


async def events(hub: Hub) -> list[dict[str, Any]]:
    return await hub.database.read(_events)


def test_global_ids_are_the_graphql_ones() -> None:
    assert global_id("Member", 42) == str(GlobalID("Member", "42"))


async def test_an_award_writes_one_event_for_its_partner_and_a_replay_none(hub: Hub) -> None:
    store = await _partner(hub, "store")
    member = await _register(hub, store)

    await _gql(hub, AWARD, store, input=_award_input(member))
    await _gql(hub, AWARD, store, input=_award_input(member))
    found = [e for e in await events(hub) if e["type"] == "points.awarded"]

    assert len(found) == 1
    assert found[0]["audience"] == [found[0]["partner_id"]]
    assert found[0]["payload"]["memberId"] == member
    assert found[0]["payload"]["points"] == 123
    assert found[0]["payload"]["orderRef"] == "order-1"
    assert "Li Lei" not in json.dumps(found[0])
    assert "138" not in json.dumps(found[0]["payload"])


async def test_a_refused_award_writes_no_event(hub: Hub) -> None:
    store = await _partner(hub, "store")
    member = await _register(hub, store)

    refused = await _gql(hub, AWARD, store, input=_award_input(member, paidAmountFen=0))

    assert refused["data"]["awardPoints"]["userErrors"]
    assert [e["type"] for e in await events(hub)] == ["consent.granted"]


async def test_refund_and_sweep_write_their_events(hub: Hub) -> None:
    _, cinema, member, ticket = await _alliance(hub)
    redeemed = await _gql(
        hub,
        """mutation($input: RedeemPointsInput!) { redeemPoints(input: $input) { redemption { id } } }""",
        cinema,
        input={"idempotencyKey": "r-1", "memberId": member, "catalogItemId": ticket},
    )
    redemption = redeemed["data"]["redeemPoints"]["redemption"]["id"]
    await _gql(
        hub,
        REFUND,
        cinema,
        input={"idempotencyKey": "f-1", "redemptionId": redemption, "compensationPoints": 5},
    )
    reserved = await _gql(
        hub,
        RESERVE,
        cinema,
        input={"idempotencyKey": "res-1", "memberId": member, "catalogItemId": ticket},
    )
    hold = reserved["data"]["reserveRedemption"]["redemption"]["id"]
    voided = await hub.database.write(void_lapsed_holds, utcnow() + timedelta(days=1))
    again = await hub.database.write(void_lapsed_holds, utcnow() + timedelta(days=1))
    by_type = {e["type"]: e for e in await events(hub)}

    assert (voided, again) == (1, 0)
    assert by_type["points.redeemed"]["payload"]["redemptionId"] == redemption
    assert by_type["redemption.refunded"]["payload"] == {
        "memberId": member,
        "partnerId": by_type["redemption.refunded"]["payload"]["partnerId"],
        "redemptionId": redemption,
        "points": 35,
        "compensationPoints": 5,
    }
    assert by_type["redemption.voided"]["payload"]["redemptionId"] == hold
    assert by_type["redemption.voided"]["payload"]["reason"] == "DEADLINE"


async def test_after_a_withdrawal_the_partner_hears_nothing_more_of_the_member(hub: Hub) -> None:
    store, _, member, _ = await _alliance(hub)
    revoked = await _gql(hub, REVOKE, store, input={"memberId": member, "creditLevelOnly": False})
    assert revoked["data"]["revokeMemberConsent"]["userErrors"] == []

    batch = await hub.database.write(expire_lapsed_lots, utcnow() + timedelta(days=3650))
    found = await events(hub)
    withdrawn = next(e for e in found if e["type"] == "consent.withdrawn")
    store_id = withdrawn["partner_id"]
    granted = {e["partner_id"] for e in found if e["type"] == "consent.granted"}
    expired = next(e for e in found if e["type"] == "points.expired")

    assert batch.points == 123
    assert withdrawn["audience"] == [store_id]
    assert withdrawn["payload"]["scope"] == "PARTNERSHIP"
    assert expired["payload"] == {"memberId": member, "points": 123}
    assert expired["audience"] == sorted(granted - {store_id})


async def test_personal_data_never_enters_an_event(db: Any, now: Any) -> None:
    def write(session: Session) -> None:
        emit(session, EventType.POINTS_AWARDED, now=now, payload={"phone": "13800138000"})

    with pytest.raises(PersonalDataInEvent):
        await db.write(write)


async def test_operator_only_events_have_no_partner_audience(db: Any, now: Any) -> None:
    def write(session: Session) -> list[dict[str, Any]]:
        emit(session, EventType.AML_CASE_OPENED, now=now, payload={"caseId": "x"}, audience=[1])
        return _events(session)

    assert (await db.write(write))[0]["audience"] == []
