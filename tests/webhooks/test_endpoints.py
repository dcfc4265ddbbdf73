"""Managing endpoints: secrets shown once and rotated with a grace period, another
partner's endpoints read as not found, replays, and input a partner may not send."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.config import get_settings
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _register
from tests.webhooks.conftest import (
    CREATE,
    Clock,
    drain,
    register_endpoint,
    webhook_partner,
    worker,
)
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.anyio

ROTATE = """mutation($id: ID!) {
  rotateWebhookSecret(input: {endpointId: $id}) { endpoint { id } secret userErrors { code } }
}"""
DISABLE = """mutation($id: ID!) {
  disableWebhookEndpoint(input: {endpointId: $id}) { endpoint { status } userErrors { code } }
}"""
REPLAY = """mutation($id: ID!) {
  replayWebhookDelivery(input: {deliveryId: $id}) { deliveryId userErrors { code } }
}"""
DELIVERIES = """query($id: ID!) {
  webhookDeliveries(endpointId: $id) { edges { node { id eventId status } } }
}"""
ENDPOINTS = "{ webhookEndpoints { edges { node { id url eventTypes status } } } }"


async def test_after_a_rotation_both_secrets_verify_until_the_grace_period_ends(hub: Hub) -> None:
    store = await webhook_partner(hub, "store")
    member = await _register(hub, store)
    with Receiver() as receiver:
        created = await register_endpoint(hub, store, receiver.url, ["points.awarded"])
        old = created["secret"]
        rotated = await _gql(hub, ROTATE, store, id=created["endpoint"]["id"])
        new = rotated["data"]["rotateWebhookSecret"]["secret"]
        clock = Clock()
        run = worker(hub.database, clock)

        receiver.secret = old  # the receiver has not switched yet
        await _gql(hub, AWARD, store, input=_award_input(member, key="a", order="o1"))
        await drain(run, clock)
        receiver.secret = new  # it switched
        await _gql(hub, AWARD, store, input=_award_input(member, key="b", order="o2"))
        await drain(run, clock)
        receiver.secret = old  # past the grace period the old secret no longer verifies
        clock.advance(get_settings().secret_rotation_grace + timedelta(minutes=1))
        await _gql(hub, AWARD, store, input=_award_input(member, key="c", order="o3"))
        await run.deliver()

    assert new != old
    assert new.startswith("whsec_")
    assert [e["data"]["orderRef"] for e in receiver.received] == ["o1", "o2"]
    assert receiver.rejected == 1


async def test_another_partners_endpoints_and_deliveries_read_as_not_found(hub: Hub) -> None:
    store = await webhook_partner(hub, "store")
    cinema = await webhook_partner(hub, "cinema")
    member = await _register(hub, store)
    with Receiver() as receiver:
        created = await register_endpoint(hub, store, receiver.url, ["points.awarded"])
        receiver.secret = created["secret"]
        endpoint = created["endpoint"]["id"]
        await _gql(hub, AWARD, store, input=_award_input(member))
        await drain(worker(hub.database, Clock()), Clock())
        deliveries = await _gql(hub, DELIVERIES, store, id=endpoint)
        delivery = deliveries["data"]["webhookDeliveries"]["edges"][0]["node"]

        listing = await _gql(hub, ENDPOINTS, cinema)
        foreign_log = await _gql(hub, DELIVERIES, cinema, id=endpoint)
        foreign_rotate = await _gql(hub, ROTATE, cinema, id=endpoint)
        foreign_disable = await _gql(hub, DISABLE, cinema, id=endpoint)
        foreign_replay = await _gql(hub, REPLAY, cinema, id=delivery["id"])
        replayed = await _gql(hub, REPLAY, store, id=delivery["id"])
        await drain(worker(hub.database, Clock()), Clock())
        disabled = await _gql(hub, DISABLE, store, id=endpoint)

    assert listing["data"]["webhookEndpoints"]["edges"] == []
    assert foreign_log["data"]["webhookDeliveries"] is None
    assert foreign_rotate["data"]["rotateWebhookSecret"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert foreign_disable["data"]["disableWebhookEndpoint"]["userErrors"] == [
        {"code": "NOT_FOUND"}
    ]
    assert foreign_replay["data"]["replayWebhookDelivery"]["userErrors"] == [{"code": "NOT_FOUND"}]
    assert replayed["data"]["replayWebhookDelivery"]["userErrors"] == []
    # The replay carries the same webhook-id: a de-duplicating receiver acts once.
    assert len(receiver.received) == 2
    assert len(receiver.seen) == 1
    assert delivery["eventId"] in receiver.seen
    assert disabled["data"]["disableWebhookEndpoint"]["endpoint"] == {"status": "DISABLED"}


@pytest.mark.parametrize(
    ("types", "message"),
    [
        (["points.awarded", "points.stolen"], "unknown event types: points.stolen"),
        ([], "unknown event types: none given"),
        (["aml.case_opened"], "only the operator receives aml.case_opened"),
    ],
)
async def test_event_types_a_partner_may_not_subscribe_to(
    hub: Hub, types: list[str], message: str
) -> None:
    store = await webhook_partner(hub, "store")

    refused = await _gql(
        hub, CREATE, store, input={"url": "http://127.0.0.1:9/hooks", "eventTypes": types}
    )

    assert refused["data"]["createWebhookEndpoint"]["userErrors"] == [
        {"code": "BAD_USER_INPUT", "message": message, "field": ["eventTypes"]}
    ]


async def test_managing_endpoints_needs_the_webhooks_scope(hub: Hub) -> None:
    from tests.hub.test_graphql_members import _partner

    store = await _partner(hub, "store")

    refused = await _gql(hub, ENDPOINTS, store)

    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_secret_is_stored_sealed(hub: Hub) -> None:
    from sqlalchemy import select

    from webhooks.models import WebhookEndpoint

    store = await webhook_partner(hub, "store")
    created = await register_endpoint(hub, store, "http://127.0.0.1:9/hooks", ["points.awarded"])
    stored = await hub.database.read(
        lambda session: session.execute(select(WebhookEndpoint.secret_sealed)).scalar_one()
    )

    assert created["secret"] not in stored
    assert created["secret"][6:] not in stored


async def test_an_event_about_a_member_is_not_replayed_after_the_consent_is_withdrawn(
    hub: Hub,
) -> None:
    """CR-10: the withdrawal is the last thing the partner hears about the member; replaying
    an earlier event about them is refused, and the operator's audit sees the attempt
    (found by an outside attack)."""
    store = await webhook_partner(hub, "store")
    member = await _register(hub, store)
    with Receiver() as receiver:
        created = await register_endpoint(
            hub, store, receiver.url, ["points.awarded", "consent.withdrawn"]
        )
        receiver.secret = created["secret"]
        endpoint = created["endpoint"]["id"]
        await _gql(hub, AWARD, store, input=_award_input(member))
        await drain(worker(hub.database, Clock()), Clock())
        revoked = await _gql(hub, REVOKE, store, input={"memberId": member})
        await drain(worker(hub.database, Clock()), Clock())
        edges = (await _gql(hub, DELIVERIES, store, id=endpoint))["data"]["webhookDeliveries"]
        by_type = {edge["node"]["eventId"]: edge["node"]["id"] for edge in edges["edges"]}
        types = [event["type"] for event in receiver.received]

        awarded = by_type[receiver.received[types.index("points.awarded")]["id"]]
        withdrawn = by_type[receiver.received[types.index("consent.withdrawn")]["id"]]
        refused = await _gql(hub, REPLAY_WITH_RULE, store, id=awarded)
        notice_again = await _gql(hub, REPLAY_WITH_RULE, store, id=withdrawn)
        await drain(worker(hub.database, Clock()), Clock())

    assert revoked["data"]["revokeMemberConsent"]["userErrors"] == []
    assert refused["data"]["replayWebhookDelivery"] == {
        "deliveryId": None,
        "userErrors": [{"code": "COMPLIANCE_VIOLATION", "rule": "CR-10", "field": ["deliveryId"]}],
    }
    assert notice_again["data"]["replayWebhookDelivery"]["userErrors"] == []
    assert [event["type"] for event in receiver.received] == [
        "points.awarded",
        "consent.withdrawn",
        "consent.withdrawn",
    ]


REVOKE = """mutation($input: RevokeMemberConsentInput!) { revokeMemberConsent(input: $input) {
  member { id } userErrors { code } } }"""
REPLAY_WITH_RULE = """mutation($id: ID!) {
  replayWebhookDelivery(input: {deliveryId: $id}) { deliveryId userErrors { code rule field } }
}"""
