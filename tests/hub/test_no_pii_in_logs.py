"""CR-10: no personal data in any log line, over a full scenario at DEBUG level."""

from __future__ import annotations

import logging

import pytest

from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import (
    AWARD,
    PUBLISH,
    REDEEM,
    REGISTER,
    _award_input,
    _gql,
    _partner,
)

pytestmark = pytest.mark.anyio

PHONE = "13912345678"
NAME = "Han Meimei"


async def test_a_full_scenario_logs_no_phone_and_no_name(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = await _partner(hub, "store")
    cinema = await _partner(hub, "cinema")
    registered = await _gql(
        hub,
        REGISTER,
        store,
        input={
            "externalRef": "hm-1",
            "phone": f"+86 {PHONE}",
            "displayName": NAME,
            "consent": True,
        },
    )
    member = registered["data"]["registerMember"]["member"]["id"]
    await _gql(
        hub,
        REGISTER,
        cinema,
        input={"externalRef": "c-9", "phone": PHONE, "displayName": NAME, "consent": True},
    )
    await _gql(
        hub,
        REGISTER,
        cinema,
        input={"externalRef": "c-10", "phone": "12345", "displayName": NAME, "consent": True},
    )
    await _gql(hub, AWARD, store, input=_award_input(member))
    await _gql(hub, AWARD, store, input=_award_input(member, key="again"))
    ticket = (
        await _gql(
            hub,
            PUBLISH,
            cinema,
            items=[
                {
                    "sku": "t",
                    "title": "Ticket",
                    "category": "film",
                    "kind": "VOUCHER",
                    "green": False,
                    "basePoints": 35,
                }
            ],
        )
    )["data"]["upsertCatalogItems"]["items"][0]["id"]
    await _gql(
        hub,
        REDEEM,
        cinema,
        input={"idempotencyKey": "r", "memberId": member, "catalogItemId": ticket},
    )
    await _gql(
        hub,
        "query($id: ID!) { member(id: $id) { balance history { edges { node { code } } } } }",
        cinema,
        id=member,
    )
    optician = await _partner(hub, "optician")
    asked = await _gql(
        hub,
        """mutation($i: RequestMemberConsentInput!) { requestMemberConsent(input: $i) {
          request { id } } }""",
        optician,
        i={"phone": PHONE, "externalRef": "o-1", "creditLevel": True},
    )
    code = hub.last_message()["code"]
    await _gql(
        hub,
        """mutation($i: ConfirmMemberConsentInput!) { confirmMemberConsent(input: $i) {
          request { status } } }""",
        optician,
        i={"requestId": asked["data"]["requestMemberConsent"]["request"]["id"], "code": code},
    )
    await _gql(hub, "query($id: ID!) { member(id: $id) { creditLevel } }", store, id=member)
    # The request bodies above carry the phone and the name; only the hub's own loggers count,
    # not the test's HTTP client.
    logged = "\n".join(
        f"{record.name} {record.getMessage()} {record.exc_text or ''}"
        for record in caplog.records
        if not record.name.startswith("httpx")
    )

    assert "POST /graphql 200" in logged
    assert PHONE not in logged
    assert code not in logged
    assert PHONE.replace(" ", "") not in logged
    assert NAME not in logged
