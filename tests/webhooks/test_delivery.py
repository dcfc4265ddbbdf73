"""End to end: a partner registers an endpoint and receives its events, signed and in
order, verified by the standardwebhooks library; nothing about other partners' members."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.db import utcnow
from members.expiry_notices import send_expiry_notices
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, PUBLISH, _award_input, _gql, _register
from tests.hub.test_graphql_redemptions import REFUND
from tests.settlement.test_cycle import _item
from tests.webhooks.conftest import Clock, drain, register_endpoint, webhook_partner, worker
from tests.webhooks.receiver import Receiver
from webhooks.delivery import GIVE_UP_AFTER

pytestmark = pytest.mark.anyio

TYPES = ["points.awarded", "redemption.refunded", "points.expiring"]
REDEEM = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) { redemption { id } userErrors { code } }
}"""
DELIVERIES = """query($id: ID!) {
  webhookDeliveries(endpointId: $id) {
    edges { node { id eventType status attempts { outcome statusCode latencyMs } } }
  }
}"""


async def _publish_ticket(hub: Hub, token: str) -> str:
    published = await _gql(hub, PUBLISH, token, items=[_item("ticket", 35)])
    return str(published["data"]["upsertCatalogItems"]["items"][0]["id"])


async def test_a_partner_receives_its_consenting_members_events_and_nothing_else(
    hub: Hub,
) -> None:
    """Issue 16's first acceptance point."""
    store = await webhook_partner(hub, "store")
    cinema = await webhook_partner(hub, "cinema")
    with Receiver() as receiver, Receiver() as cinema_receiver:
        created = await register_endpoint(hub, store, receiver.url, TYPES)
        receiver.secret = created["secret"]
        cinema_created = await register_endpoint(hub, cinema, cinema_receiver.url, TYPES)
        cinema_receiver.secret = cinema_created["secret"]
        ours = await _register(hub, store, ref="s-1", phone="13800000001")
        theirs = await _register(hub, cinema, ref="c-2", phone="13800000002")
        await _gql(hub, AWARD, store, input=_award_input(ours))
        await _gql(hub, AWARD, cinema, input=_award_input(theirs, key="c-a", order="c-o"))
        ticket = await _publish_ticket(hub, store)
        redeemed = await _gql(
            hub,
            REDEEM,
            store,
            input={"idempotencyKey": "r-1", "memberId": ours, "catalogItemId": ticket},
        )
        redemption = redeemed["data"]["redeemPoints"]["redemption"]["id"]
        await _gql(
            hub,
            REFUND,
            store,
            input={"idempotencyKey": "f-1", "redemptionId": redemption, "compensationPoints": 0},
        )
        clock = Clock()
        notices = await hub.database.write(send_expiry_notices, clock.now + timedelta(days=340), 30)
        await drain(worker(hub.database, clock), clock)

    assert notices.noticed == 2
    assert receiver.rejected == 0
    assert receiver.types() == ["points.awarded", "redemption.refunded", "points.expiring"]
    assert {event["data"]["memberId"] for event in receiver.seen.values()} == {ours}
    refunded = next(e for e in receiver.seen.values() if e["type"] == "redemption.refunded")
    assert refunded["data"]["redemptionId"] == redemption
    assert refunded["data"]["points"] == 35
    expiring = next(e for e in receiver.seen.values() if e["type"] == "points.expiring")
    assert expiring["data"]["points"] == 123
    assert len(expiring["data"]["lots"]) == 1
    assert {event["data"]["memberId"] for event in cinema_receiver.seen.values()} == {theirs}


async def test_a_receiver_down_for_ten_minutes_gets_every_event_afterwards(hub: Hub) -> None:
    """Issue 16's second acceptance point, on a simulated clock."""
    store = await webhook_partner(hub, "store")
    with Receiver() as receiver:
        created = await register_endpoint(hub, store, receiver.url, ["points.awarded"])
        receiver.secret = created["secret"]
        members = [
            await _register(hub, store, ref=f"m-{i}", phone=f"1380000000{i}") for i in range(3)
        ]
        for i, member in enumerate(members):
            for n in range(2):
                await _gql(
                    hub, AWARD, store, input=_award_input(member, key=f"k{i}{n}", order=f"o{i}{n}")
                )
        clock = Clock()
        outage_ends = clock.now + timedelta(minutes=10)
        receiver.down = True
        run = worker(hub.database, clock)
        while clock.now < outage_ends:
            await run.deliver()
            clock.advance(timedelta(seconds=15))
        failed_attempts = receiver.requests
        receiver.down = False
        await drain(run, clock)
        log = await _gql(hub, DELIVERIES, store, id=created["endpoint"]["id"])

    assert failed_attempts >= 3 * 5  # each member's first event retried through the outage
    assert len(receiver.seen) == 6
    assert len(receiver.received) == 6  # each once: a failed attempt delivered nothing
    for member in members:
        orders = [
            e["data"]["orderRef"] for e in receiver.received if e["data"]["memberId"] == member
        ]
        assert orders == sorted(orders)  # in order per member
    nodes = [edge["node"] for edge in log["data"]["webhookDeliveries"]["edges"]]
    assert {node["status"] for node in nodes} == {"DELIVERED"}
    first = nodes[-1]["attempts"]
    assert first[0]["outcome"] == "http_error"
    assert first[0]["statusCode"] == 503
    assert first[-1]["outcome"] == "delivered"
    assert first[-1]["statusCode"] == 204
    assert all(attempt["latencyMs"] >= 0 for attempt in first)


async def test_an_endpoint_failing_for_three_days_is_disabled_and_the_operator_told(
    hub: Hub,
) -> None:
    store = await webhook_partner(hub, "store")
    with Receiver() as receiver, Receiver() as operator_receiver:
        created = await register_endpoint(hub, store, receiver.url, ["points.awarded"])
        receiver.secret = created["secret"]
        operator = await hub.access_token(
            await hub.client(partner=None, scopes=("operator:admin",))
        )
        watching = await register_endpoint(
            hub, operator, operator_receiver.url, ["webhook.endpoint_disabled"]
        )
        operator_receiver.secret = watching["secret"]
        member = await _register(hub, store)
        await _gql(hub, AWARD, store, input=_award_input(member))
        receiver.down = True
        clock = Clock()
        run = worker(hub.database, clock)
        for _ in range(200):
            await run.deliver()
            clock.advance(timedelta(hours=1))
        endpoints = await _gql(
            hub, "{ webhookEndpoints { edges { node { status disabledReason } } } }", store
        )

    assert clock.now - utcnow() > GIVE_UP_AFTER
    assert endpoints["data"]["webhookEndpoints"]["edges"][0]["node"] == {
        "status": "DISABLED",
        "disabledReason": "FAILING",
    }
    assert operator_receiver.types() == ["webhook.endpoint_disabled"]
    assert receiver.seen == {}


async def test_two_workers_share_the_deliveries_without_posting_any_twice(hub: Hub) -> None:
    """On PostgreSQL the claims skip each other's locked rows; on SQLite they serialise."""
    import asyncio

    store = await webhook_partner(hub, "store")
    with Receiver() as receiver:
        created = await register_endpoint(hub, store, receiver.url, ["points.awarded"])
        receiver.secret = created["secret"]
        for i in range(6):
            member = await _register(hub, store, ref=f"m-{i}", phone=f"1380000000{i}")
            await _gql(hub, AWARD, store, input=_award_input(member, key=f"k{i}", order=f"o{i}"))
        clock = Clock()
        first, second = worker(hub.database, clock), worker(hub.database, clock)
        first.batch = second.batch = 2
        for _ in range(10):
            await asyncio.gather(first.deliver(), second.deliver())

    assert len(receiver.seen) == 6
    assert len(receiver.received) == 6
