"""The member's own API (``me``, ``member:self``): exactly their own data, their consents
and choices; the acceptance path from sign-in to a withdrawn consent refused CR-10."""

from __future__ import annotations

from typing import Any

import pytest

from tests.hub.conftest import Hub
from tests.hub.oauth2.test_member_sign_in import app_sign_in
from tests.hub.test_compliance_table import Alliance
from tests.hub.test_graphql_members import PUBLISH, _gql, _partner, _register

pytestmark = pytest.mark.anyio

PHONE = "13800138000"  # the Alliance member's phone
ME = """{ me {
  id status balance heldPoints expiringPoints(withinDays: 400)
  lots { edges { node { points remaining expiresAt issuer { code } } } }
  history { edges { node { code amount partner { code } } } }
  consents { partner { code } creditLevel covers }
  pendingConsentRequests { id partner { code } purpose creditLevel }
  privacyPreferences { personalisedOffers marketingMessages }
} }"""
ASK = """mutation($input: RequestMemberConsentInput!) { requestMemberConsent(input: $input) {
  request { id status } userErrors { code } } }"""
APPROVE = """mutation($id: ID!) { approveConsentRequest(input: {requestId: $id}) {
  request { id status } userErrors { code message } } }"""
DENY = """mutation($id: ID!) { denyConsentRequest(input: {requestId: $id}) {
  request { id status } userErrors { code message } } }"""
WITHDRAW = """mutation($code: String!, $only: Boolean!) {
  withdrawConsent(input: {partnerCode: $code, creditLevelOnly: $only}) {
    consents { partner { code } creditLevel } userErrors { code } } }"""
PREFERENCES = """mutation($offers: Boolean!, $marketing: Boolean!) {
  setPrivacyPreferences(input: {personalisedOffers: $offers, marketingMessages: $marketing}) {
    preferences { personalisedOffers marketingMessages } userErrors { code } } }"""
READ = "query($id: ID!) { member(id: $id) { balance } }"


async def member_token(hub: Hub, phone: str = PHONE) -> str:
    app = await app_sign_in(hub)
    tokens = (await app.exchange(await app.authorization_code(phone))).json()
    return str(tokens["access_token"])


async def test_a_member_sees_exactly_their_own_data(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    await _register(hub, alliance.store, ref="m-2", phone="13900139000")  # someone else
    token = await member_token(hub)

    body = await _gql(hub, ME, token)

    assert body == {
        "data": {
            "me": {
                "id": alliance.member,
                "status": "ACTIVE",
                "balance": 123,
                "heldPoints": 0,
                "expiringPoints": 123,
                "lots": {
                    "edges": [
                        {
                            "node": {
                                "points": 123,
                                "remaining": 123,
                                "expiresAt": body["data"]["me"]["lots"]["edges"][0]["node"][
                                    "expiresAt"
                                ],
                                "issuer": {"code": "store"},
                            }
                        }
                    ]
                },
                "history": {
                    "edges": [
                        {"node": {"code": "earn", "amount": 123, "partner": {"code": "store"}}}
                    ]
                },
                "consents": [
                    {
                        "partner": {"code": "store"},
                        "creditLevel": False,
                        "covers": [
                            "balance",
                            "heldPoints",
                            "lots",
                            "expiringPoints",
                            "history",
                            "status",
                        ],
                    }
                ],
                "pendingConsentRequests": [],
                "privacyPreferences": {"personalisedOffers": False, "marketingMessages": False},
            }
        }
    }


async def test_sign_in_approve_withdraw_and_the_partners_next_read_is_refused(hub: Hub) -> None:
    """Acceptance: a partner cannot read a member until the member approved; the member
    signs in, approves, withdraws; the partner's next read is refused with CR-10."""
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    optician = await _partner(hub, "optician")
    asked = await _gql(
        hub, ASK, cinema, input={"phone": PHONE, "externalRef": "fan-1", "purpose": "film club"}
    )
    request_id = asked["data"]["requestMemberConsent"]["request"]["id"]
    other = await _gql(hub, ASK, optician, input={"phone": PHONE, "externalRef": "eye-1"})
    other_id = other["data"]["requestMemberConsent"]["request"]["id"]
    before = await _gql(hub, READ, cinema, id=alliance.member)
    assert before["errors"][0]["extensions"]["rule"] == "CR-10"
    token = await member_token(hub)

    pending = (await _gql(hub, ME, token))["data"]["me"]["pendingConsentRequests"]
    assert pending == [
        {
            "id": request_id,
            "partner": {"code": "cinema"},
            "purpose": "film club",
            "creditLevel": False,
        },
        {
            "id": other_id,
            "partner": {"code": "optician"},
            "purpose": "to serve you as their member: earning and redeeming points",
            "creditLevel": False,
        },
    ]
    approved = await _gql(hub, APPROVE, token, id=request_id)
    denied = await _gql(hub, DENY, token, id=other_id)
    assert approved["data"]["approveConsentRequest"]["request"]["status"] == "GRANTED"
    assert denied["data"]["denyConsentRequest"]["request"]["status"] == "DECLINED"
    assert (await _gql(hub, READ, cinema, id=alliance.member))["data"] == {
        "member": {"balance": 123}
    }
    assert (await _gql(hub, READ, optician, id=alliance.member))["data"] == {"member": None}

    withdrawn = await _gql(hub, WITHDRAW, token, code="cinema", only=False)

    assert withdrawn["data"]["withdrawConsent"] == {
        "consents": [{"partner": {"code": "store"}, "creditLevel": False}],
        "userErrors": [],
    }
    after = await _gql(hub, READ, cinema, id=alliance.member)
    assert after["data"] == {"member": None}
    assert after["errors"][0]["extensions"]["rule"] == "CR-10"
    twice = await _gql(hub, APPROVE, token, id=request_id)
    assert [e["code"] for e in twice["data"]["approveConsentRequest"]["userErrors"]] == ["CONFLICT"]


async def test_a_member_cannot_answer_another_members_requests(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    await _register(hub, alliance.store, ref="m-2", phone="13900139000")
    asked = await _gql(hub, ASK, cinema, input={"phone": "13900139000", "externalRef": "f"})
    token = await member_token(hub)  # the first member

    refused = await _gql(
        hub, APPROVE, token, id=asked["data"]["requestMemberConsent"]["request"]["id"]
    )

    assert [e["code"] for e in refused["data"]["approveConsentRequest"]["userErrors"]] == [
        "NOT_FOUND"
    ]
    assert (await _gql(hub, ME, token))["data"]["me"]["pendingConsentRequests"] == []


async def test_privacy_preferences_are_the_members_to_set(hub: Hub) -> None:
    await Alliance(hub).setup()
    token = await member_token(hub)

    changed = await _gql(hub, PREFERENCES, token, offers=True, marketing=False)
    read = (await _gql(hub, ME, token))["data"]["me"]["privacyPreferences"]
    again = await _gql(hub, PREFERENCES, token, offers=False, marketing=True)

    assert changed["data"]["setPrivacyPreferences"]["preferences"] == {
        "personalisedOffers": True,
        "marketingMessages": False,
    }
    assert read == {"personalisedOffers": True, "marketingMessages": False}
    assert again["data"]["setPrivacyPreferences"]["preferences"] == {
        "personalisedOffers": False,
        "marketingMessages": True,
    }


CHOICES = "query($id: ID!) { member(id: $id) { marketingChoices { personalisedOffers marketingMessages } } }"


async def test_the_members_marketing_choices_reach_the_partners_they_consented_to(
    hub: Hub,
) -> None:
    alliance = await Alliance(hub).setup()
    stranger = await _partner(hub, "cinema")
    before = await _gql(hub, CHOICES, alliance.store, id=alliance.member)
    token = await member_token(hub)
    await _gql(hub, PREFERENCES, token, offers=False, marketing=True)

    after = await _gql(hub, CHOICES, alliance.store, id=alliance.member)
    refused = await _gql(hub, CHOICES, stranger, id=alliance.member)

    off = {"personalisedOffers": False, "marketingMessages": False}
    assert before == {"data": {"member": {"marketingChoices": off}}}
    assert after == {
        "data": {
            "member": {"marketingChoices": {"personalisedOffers": False, "marketingMessages": True}}
        }
    }
    assert refused["data"] == {"member": None}
    assert refused["errors"][0]["extensions"]["rule"] == "CR-10"


async def test_partners_and_the_operator_have_no_me(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    for token in (alliance.store, alliance.operator):
        refused = await _gql(hub, "{ me { id } }", token)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        mutation = await _gql(hub, PREFERENCES, token, offers=True, marketing=True)
        assert mutation["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_member_donates_their_own_points_once_per_key(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    charity = await _partner(hub, "charity", kind="CHARITY")
    published = await _gql(
        hub,
        PUBLISH,
        charity,
        items=[
            {
                "sku": "trees",
                "title": "Plant trees",
                "category": "charity",
                "kind": "CHARITY",
                "green": True,
                "basePoints": 1,
            }
        ],
    )
    project = published["data"]["upsertCatalogItems"]["items"][0]["id"]
    token = await member_token(hub)
    other = await _register(hub, alliance.store, ref="m-2", phone="13900139000")
    donate = """mutation($input: DonatePointsInput!) { donatePoints(input: $input) {
      points userErrors { code } } }"""

    def payload(member: str, points: int = 20) -> dict[str, Any]:
        return {
            "idempotencyKey": "d-1",
            "memberId": member,
            "charityProjectId": project,
            "points": points,
        }

    first = await _gql(hub, donate, token, input=payload(alliance.member))
    replay = await _gql(hub, donate, token, input=payload(alliance.member))
    reused = await _gql(hub, donate, token, input=payload(alliance.member, 30))
    someone_else = await _gql(hub, donate, token, input=payload(other))

    assert first["data"]["donatePoints"] == {"points": 20, "userErrors": []}
    assert replay["data"]["donatePoints"] == {"points": 20, "userErrors": []}
    assert [e["code"] for e in reused["data"]["donatePoints"]["userErrors"]] == [
        "IDEMPOTENCY_KEY_REUSED"
    ]
    assert [e["code"] for e in someone_else["data"]["donatePoints"]["userErrors"]] == ["NOT_FOUND"]
    assert (await _gql(hub, "{ me { balance } }", token))["data"]["me"]["balance"] == 103
