"""Who may receive, spend and be seen: identified members (CR-03), active partners (CR-04),
no member-to-member transfers (CR-06), and consent (CR-10), through GraphQL where the API
can express the attempt."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session
from strawberry.relay import GlobalID

import ledger
from compliance.errors import ComplianceViolation
from core.db import utcnow
from ledger.errors import MemberToMemberTransfer
from ledger.repository import post_transfer
from members.earning import Line, award
from members.models import ConsentRequest
from members.redemption import redeem_item
from partners.registry import find_partner, suspend_partner
from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import Alliance, _allowed, _blocked
from tests.hub.test_graphql_members import AWARD, REGISTER, _award_input, _gql, _partner, _register

pytestmark = pytest.mark.anyio

CLOSE = """mutation($id: ID!) { closeMember(input: {memberId: $id}) {
  member { status } userErrors { code } } }"""
READ = "query($id: ID!) { member(id: $id) { balance status } }"
CREDIT = "query($id: ID!) { member(id: $id) { creditLevel } }"
SET_CREDIT = """mutation($id: ID!) { setMemberCreditLevel(input: {memberId: $id, creditLevel: B}) {
  userErrors { code } } }"""
ASK = """mutation($input: RequestMemberConsentInput!) { requestMemberConsent(input: $input) {
  request { id status creditLevel expiresAt member { id } } userErrors { code field } } }"""
CONFIRM = """mutation($input: ConfirmMemberConsentInput!) { confirmMemberConsent(input: $input) {
  request { id status answeredAt member { id } } userErrors { code message field } } }"""
REVOKE = """mutation($input: RevokeMemberConsentInput!) { revokeMemberConsent(input: $input) {
  member { id } userErrors { code } } }"""


async def test_cr03_a_closed_member_earns_and_spends_nothing(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    other = await _register(alliance.hub, alliance.store, ref="m-2", phone="13900139000")
    closed = await _gql(hub, CLOSE, alliance.operator, id=other)
    assert closed["data"]["closeMember"] == {"member": {"status": "CLOSED"}, "userErrors": []}

    await _blocked(alliance, "CR-03", alliance.award(key="c1", order="c1", memberId=other))
    await _allowed(alliance, alliance.award(key="c2", order="c2"))  # the active member
    # Closing again is harmless; a partner cannot close members.
    again = await _gql(hub, CLOSE, alliance.operator, id=other)
    assert again["data"]["closeMember"]["userErrors"] == []
    refused = await _gql(hub, CLOSE, alliance.store, id=other)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_cr03_an_unverified_member_earns_once_a_partner_verifies_them(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    unverified = {
        "externalRef": "m-3",
        "phone": "13700137000",
        "consent": True,
        "identityVerified": False,
    }
    body = await _gql(hub, REGISTER, alliance.store, input=unverified)
    pending = body["data"]["registerMember"]["member"]["id"]
    await _blocked(alliance, "CR-03", alliance.award(key="u0", order="u0", memberId=pending))
    member = await _register(
        hub, alliance.store, ref="m-3", phone="13700137000", identityVerified=False
    )

    await _blocked(alliance, "CR-03", alliance.award(key="u1", order="u1", memberId=member))

    verified = await _register(
        hub, alliance.store, ref="m-3", phone="13700137000", identityVerified=True
    )
    assert verified == member
    await _allowed(alliance, alliance.award(key="u2", order="u2", memberId=member))


async def test_cr04_a_suspended_partner_neither_issues_nor_redeems(hub: Hub) -> None:
    """Over the API a suspended partner cannot even authenticate (tests/hub/oauth2); the
    services refuse it too, so the CLI and jobs pass the same check."""
    alliance = await Alliance(hub).setup()
    member_id = int(ledger_id(alliance.member))
    item_id = int(ledger_id(alliance.lens))
    partner_id = await hub.database.read(_partner_id, "store")
    await hub.database.write(suspend_partner, "store", utcnow())
    before = await alliance.state()

    with pytest.raises(ComplianceViolation) as issuing:
        await hub.database.write(
            award,
            ledger.IdempotencyKey("cli", "s1"),
            partner_id=partner_id,
            member_id=member_id,
            order_ref="s1",
            paid_amount_fen=1_000,
            lines=[Line("s", "c", 1_000, False)],
            now=utcnow(),
            expires_at=utcnow() + timedelta(days=30),
        )
    with pytest.raises(ComplianceViolation) as redeeming:
        await hub.database.write(
            redeem_item,
            ledger.IdempotencyKey("cli", "s2"),
            partner_id=partner_id,
            member_id=member_id,
            catalog_item_id=item_id,
            quantity=1,
            now=utcnow(),
        )

    assert (issuing.value.rule, redeeming.value.rule) == ("CR-04", "CR-04")
    assert (await alliance.state())[:3] == before[:3]
    token_refused = await _gql(hub, READ, alliance.store, id=alliance.member)
    assert "data" not in token_refused or token_refused.get("data") is None


def ledger_id(global_id: str) -> str:
    return GlobalID.from_id(global_id).node_id


def _partner_id(session: Session, code: str) -> int:
    return find_partner(session, code).id


async def test_cr06_the_ledger_refuses_any_member_to_member_transfer(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    giver = int(ledger_id(alliance.member))
    other = await _register(hub, alliance.store, ref="m-2", phone="13900139000")
    receiver = int(ledger_id(other))
    before = await alliance.state()

    def gift(session: Session) -> Any:
        return post_transfer(
            session,
            operation_id=0,
            debit=ledger.accounts.member(giver),
            credit=ledger.accounts.member(receiver),
            amount=10,
            code="adjust",
            now=utcnow(),
        )

    with pytest.raises(MemberToMemberTransfer) as refused:
        await hub.database.write(gift)

    assert (refused.value.code, refused.value.rule) == ("COMPLIANCE_VIOLATION", "CR-06")
    assert await alliance.state() == before
    # No mutation of the API takes two members: nothing can express a transfer.
    schema = (await _gql(hub, "{ _service { sdl } }"))["data"]["_service"]["sdl"]
    for word in ("transferPoints", "giftPoints", "toMemberId", "recipient"):
        assert word not in schema


async def test_cr10_partner_b_reading_a_member_who_consented_only_to_a(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    before = await alliance.state()

    seen = await _gql(hub, READ, cinema, id=alliance.member)

    assert seen["data"] == {"member": None}
    assert [(e["extensions"]["code"], e["extensions"]["rule"]) for e in seen["errors"]] == [
        ("COMPLIANCE_VIOLATION", "CR-10")
    ]
    after = await alliance.state()
    assert after[:3] == before[:3]
    assert after[3] == before[3] + 1  # one audit row
    allowed = await _gql(hub, READ, alliance.store, id=alliance.member)
    assert allowed == {"data": {"member": {"balance": 123, "status": "ACTIVE"}}}


async def test_cr10_the_credit_level_needs_its_own_consent(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    await _gql(hub, SET_CREDIT, alliance.operator, id=alliance.member)
    before = await alliance.state()

    refused = await _gql(hub, CREDIT, alliance.store, id=alliance.member)

    assert refused["data"] == {"member": {"creditLevel": None}}
    assert refused["errors"][0]["extensions"]["rule"] == "CR-10"
    assert refused["errors"][0]["path"] == ["member", "creditLevel"]
    assert (await alliance.state())[3] == before[3] + 1

    asked = await _gql(
        hub,
        ASK,
        alliance.store,
        input={"phone": "138-0013-8000", "externalRef": "m-1", "creditLevel": True},
    )
    request = asked["data"]["requestMemberConsent"]["request"]
    assert (request["status"], request["creditLevel"], request["member"]) == (
        "PENDING",
        True,
        None,
    )
    granted = await _gql(
        hub,
        CONFIRM,
        alliance.store,
        input={"requestId": request["id"], "code": hub.last_message("+8613800138000")["code"]},
    )
    assert granted["data"]["confirmMemberConsent"]["request"]["status"] == "GRANTED"
    assert granted["data"]["confirmMemberConsent"]["request"]["member"] == {"id": alliance.member}
    assert await _gql(hub, CREDIT, alliance.store, id=alliance.member) == {
        "data": {"member": {"creditLevel": "B"}}
    }
    operator = await _gql(hub, CREDIT, alliance.operator, id=alliance.member)
    assert operator == {"data": {"member": {"creditLevel": "B"}}}

    # Withdrawing the credit-level consent only: the member stays visible, the level not.
    revoked = await _gql(
        hub, REVOKE, alliance.store, input={"memberId": alliance.member, "creditLevelOnly": True}
    )
    assert revoked["data"]["revokeMemberConsent"]["userErrors"] == []
    again = await _gql(hub, CREDIT, alliance.store, id=alliance.member)
    assert again["errors"][0]["extensions"]["rule"] == "CR-10"
    assert (await _gql(hub, READ, alliance.store, id=alliance.member))["data"]["member"]


async def test_a_consent_request_lets_a_second_partner_serve_the_member(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")

    asked = await _gql(hub, ASK, cinema, input={"phone": "+8613800138000", "externalRef": "fan-1"})
    request = asked["data"]["requestMemberConsent"]["request"]
    assert request["status"] == "PENDING"
    # Still no consent: the cinema sees nothing until the member's answer is recorded.
    assert (await _gql(hub, READ, cinema, id=alliance.member))["data"]["member"] is None

    answer = {"requestId": request["id"], "code": hub.last_message("+8613800138000")["code"]}
    granted = await _gql(hub, CONFIRM, cinema, input=answer)
    assert granted["data"]["confirmMemberConsent"]["request"]["status"] == "GRANTED"

    seen = await _gql(hub, READ, cinema, id=alliance.member)
    assert seen == {"data": {"member": {"balance": 123, "status": "ACTIVE"}}}
    awarded = await _gql(hub, AWARD, cinema, input=_award_input(alliance.member, key="f1"))
    assert awarded["data"]["awardPoints"]["userErrors"] == []

    # An answered request cannot be answered again; another partner cannot answer it.
    twice = await _gql(hub, CONFIRM, cinema, input=answer)
    assert [e["code"] for e in twice["data"]["confirmMemberConsent"]["userErrors"]] == ["CONFLICT"]
    foreign = await _gql(hub, CONFIRM, alliance.store, input=answer)
    assert [e["code"] for e in foreign["data"]["confirmMemberConsent"]["userErrors"]] == [
        "NOT_FOUND"
    ]

    # Withdrawal: the cinema no longer sees or serves the member.
    revoked = await _gql(hub, REVOKE, cinema, input={"memberId": alliance.member})
    assert revoked["data"]["revokeMemberConsent"]["userErrors"] == []
    after = await _gql(hub, AWARD, cinema, input=_award_input(alliance.member, key="f2"))
    assert [e["rule"] for e in after["data"]["awardPoints"]["userErrors"]] == ["CR-03"]


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        ("wrong code", "INVALID_CODE", ["code"]),
        ("unknown phone, right code", "NOT_FOUND", ["requestId"]),
        ("expired", "CONFLICT", ["requestId"]),
    ],
)
async def test_consent_answers_that_link_nothing(
    hub: Hub, case: str, code: str, field: list[str]
) -> None:
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    phone = "13100131000" if case.startswith("unknown") else "13800138000"
    asked = await _gql(hub, ASK, cinema, input={"phone": phone, "externalRef": "fan-1"})
    request = asked["data"]["requestMemberConsent"]["request"]
    sent = hub.last_message()["code"]
    if case == "expired":
        await hub.database.write(
            lambda s: s.execute(
                update(ConsentRequest).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        )
    given = f"{(int(sent) + 1) % 1_000_000:06d}" if case == "wrong code" else sent

    answer = await _gql(hub, CONFIRM, cinema, input={"requestId": request["id"], "code": given})

    payload = answer["data"]["confirmMemberConsent"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [(code, field)]
    assert (await _gql(hub, READ, cinema, id=alliance.member))["data"]["member"] is None


async def test_a_consent_request_needs_a_valid_phone_and_reference(hub: Hub) -> None:
    cinema = await _partner(hub, "cinema")

    bad_phone = await _gql(hub, ASK, cinema, input={"phone": "abc", "externalRef": "x"})
    bad_ref = await _gql(hub, ASK, cinema, input={"phone": "13800138000", "externalRef": ""})

    assert [e["field"] for e in bad_phone["data"]["requestMemberConsent"]["userErrors"]] == [
        ["phone"]
    ]
    assert [e["field"] for e in bad_ref["data"]["requestMemberConsent"]["userErrors"]] == [
        ["externalRef"]
    ]
