"""Members prove their phone and give consent themselves (CR-03, CR-10): registration and
consent by one-time code, answered alike for known and unknown phones."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session
from strawberry.relay import GlobalID

from core.db import utcnow
from members.consent import (
    ConsentRequestNotFound,
    answer_consent_request,
    pending_requests,
    withdraw_consent,
)
from members.models import ConsentEvent, OneTimeCode
from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import Alliance, _blocked
from tests.hub.test_graphql_members import (
    AWARD,
    CONFIRM_REGISTRATION,
    REGISTER,
    _award_input,
    _gql,
    _partner,
    _register,
)

pytestmark = pytest.mark.anyio

ASK = """mutation($input: RequestMemberConsentInput!) { requestMemberConsent(input: $input) {
  request { id status creditLevel purpose member { id } } userErrors { code message field } } }"""
CONFIRM = """mutation($input: ConfirmMemberConsentInput!) { confirmMemberConsent(input: $input) {
  request { id status member { id } } userErrors { code message field } } }"""
RECORD = """mutation($input: RecordMemberConsentInput!) { recordMemberConsent(input: $input) {
  request { id status } userErrors { code message field } } }"""
READ = "query($id: ID!) { member(id: $id) { balance } }"
KNOWN = "13800138000"
UNKNOWN = "13100131000"


def _without_ids(value: Any) -> Any:
    """The answer with every id blanked: what is left must not depend on the phone."""
    if isinstance(value, dict):
        return {
            k: "<id>" if k in {"id", "requestId"} else _without_ids(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


def _other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_a_pending_member_receives_nothing_until_the_code_is_confirmed(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    body = await _gql(
        hub,
        REGISTER,
        alliance.store,
        input={"externalRef": "p-1", "phone": "13600136000", "consent": True},
    )
    payload = body["data"]["registerMember"]
    assert payload["member"]["status"] == "PENDING"
    assert payload["userErrors"] == []

    await _blocked(
        alliance, "CR-03", alliance.award(key="p1", order="p1", memberId=payload["member"]["id"])
    )
    message = hub.last_message("+8613600136000")
    assert message["kind"] == "registration"
    assert message["code"] in message["text"]

    wrong = await _gql(
        hub,
        CONFIRM_REGISTRATION,
        alliance.store,
        input={"requestId": payload["requestId"], "code": _other(message["code"])},
    )
    assert [e["code"] for e in wrong["data"]["confirmMemberRegistration"]["userErrors"]] == [
        "INVALID_CODE"
    ]
    right = await _gql(
        hub,
        CONFIRM_REGISTRATION,
        alliance.store,
        input={"requestId": payload["requestId"], "code": message["code"]},
    )
    member = right["data"]["confirmMemberRegistration"]["member"]
    assert member == {"id": payload["member"]["id"], "status": "ACTIVE"}
    awarded = await _gql(hub, AWARD, alliance.store, input=_award_input(member["id"], key="p2"))
    assert awarded["data"]["awardPoints"]["userErrors"] == []
    # Another partner cannot confirm the store's registration.
    cinema = await _partner(hub, "cinema")
    foreign = await _gql(
        hub,
        CONFIRM_REGISTRATION,
        cinema,
        input={"requestId": payload["requestId"], "code": message["code"]},
    )
    assert [e["code"] for e in foreign["data"]["confirmMemberRegistration"]["userErrors"]] == [
        "NOT_FOUND"
    ]


async def test_registering_a_known_phone_answers_like_a_new_one_then_links_the_person(
    hub: Hub,
) -> None:
    alliance = await Alliance(hub).setup()  # KNOWN is the store's member
    cinema = await _partner(hub, "cinema")

    answers = [
        await _gql(
            hub,
            REGISTER,
            cinema,
            input={"externalRef": f"fan-{phone}", "phone": phone, "consent": True},
        )
        for phone in (KNOWN, UNKNOWN)
    ]

    assert _without_ids(answers[0]) == _without_ids(answers[1])
    assert answers[0]["data"]["registerMember"]["member"]["id"] != alliance.member
    code = hub.last_message("+86" + KNOWN)["code"]
    confirmed = await _gql(
        hub,
        CONFIRM_REGISTRATION,
        cinema,
        input={"requestId": answers[0]["data"]["registerMember"]["requestId"], "code": code},
    )
    assert confirmed["data"]["confirmMemberRegistration"]["member"] == {
        "id": alliance.member,
        "status": "ACTIVE",
    }
    assert (await _gql(hub, READ, cinema, id=alliance.member))["data"]["member"] == {"balance": 123}
    # The placeholder is gone: one person, one member.
    members = await hub.database.read(
        lambda s: s.execute(text("SELECT count(*) FROM members")).scalar_one()
    )
    assert members == 2  # the store's member and the unknown phone's pending one


async def test_the_self_granted_consent_and_the_phone_oracle_are_refused_alike(
    hub: Hub,
) -> None:
    """The issue's replay: ask for a known and an unknown phone, then record consent on
    the partner's own word. Both refused, and the answers differ only in ids."""
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    asked = [
        await _gql(
            hub,
            ASK,
            cinema,
            input={"phone": phone, "externalRef": f"x-{phone}", "creditLevel": True},
        )
        for phone in (KNOWN, UNKNOWN)
    ]
    recorded = [
        await _gql(
            hub,
            RECORD,
            cinema,
            input={
                "requestId": answer["data"]["requestMemberConsent"]["request"]["id"],
                "granted": True,
                "evidenceRef": "self-attested",
            },
        )
        for answer in asked
    ]
    wrong = [
        await _gql(
            hub,
            CONFIRM,
            cinema,
            input={
                "requestId": answer["data"]["requestMemberConsent"]["request"]["id"],
                "code": "000000",
            },
        )
        for answer in asked
    ]

    assert _without_ids(asked[0]) == _without_ids(asked[1])
    assert asked[0]["data"]["requestMemberConsent"]["request"]["status"] == "PENDING"
    assert recorded[0] == recorded[1]
    assert [e["code"] for e in recorded[0]["data"]["recordMemberConsent"]["userErrors"]] == [
        "CONSENT_FROM_MEMBER_REQUIRED"
    ]
    assert (
        "confirmMemberConsent"
        in recorded[0]["data"]["recordMemberConsent"]["userErrors"][0]["message"]
    )
    assert _without_ids(wrong[0]) == _without_ids(wrong[1])
    # Both phones were sent a message: nothing differs on the hub's side either.
    assert [m["to"] for m in hub.outbox.read()[-2:]] == ["+86" + KNOWN, "+86" + UNKNOWN]
    refused = await _gql(hub, READ, cinema, id=alliance.member)
    assert refused["data"] == {"member": None}
    assert refused["errors"][0]["extensions"]["rule"] == "CR-10"


async def test_consent_by_code_is_kept_with_its_evidence(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    asked = await _gql(
        hub, ASK, cinema, input={"phone": KNOWN, "externalRef": "fan-1", "purpose": "film club"}
    )
    request = asked["data"]["requestMemberConsent"]["request"]
    message = hub.last_message("+86" + KNOWN)
    assert (
        "Cinema asks to see your points balance, lots and history, for: film club"
        in message["text"]
    )

    granted = await _gql(
        hub, CONFIRM, cinema, input={"requestId": request["id"], "code": message["code"]}
    )

    assert granted["data"]["confirmMemberConsent"]["request"]["status"] == "GRANTED"
    events = await hub.database.read(
        lambda s: [
            (e.action, e.channel, e.client_id is not None, e.request_id is not None)
            for e in s.execute(select(ConsentEvent).order_by(ConsentEvent.id)).scalars()
        ]
    )
    # The store's registration, then the cinema's grant by code.
    assert events == [("GRANTED", "SMS_CODE", True, False), ("GRANTED", "SMS_CODE", True, True)]
    assert (await _gql(hub, READ, cinema, id=alliance.member))["data"]["member"] == {"balance": 123}


async def test_a_code_is_stored_hashed_and_allows_five_attempts(hub: Hub) -> None:
    await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    asked = await _gql(hub, ASK, cinema, input={"phone": KNOWN, "externalRef": "fan-1"})
    request_id = asked["data"]["requestMemberConsent"]["request"]["id"]
    code = hub.last_message()["code"]
    stored = await hub.database.read(
        lambda s: s.execute(select(OneTimeCode.code_hash).order_by(OneTimeCode.id.desc())).scalar()
    )
    assert code not in stored
    assert len(stored) == 64

    for _ in range(5):
        wrong = await _gql(
            hub, CONFIRM, cinema, input={"requestId": request_id, "code": _other(code)}
        )
        assert [e["code"] for e in wrong["data"]["confirmMemberConsent"]["userErrors"]] == [
            "INVALID_CODE"
        ]
    sixth = await _gql(hub, CONFIRM, cinema, input={"requestId": request_id, "code": code})

    assert [e["code"] for e in sixth["data"]["confirmMemberConsent"]["userErrors"]] == [
        "INVALID_CODE"
    ]


async def test_a_code_lapses_after_five_minutes(hub: Hub) -> None:
    await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    asked = await _gql(hub, ASK, cinema, input={"phone": KNOWN, "externalRef": "fan-1"})
    code = hub.last_message()["code"]
    lifetimes = await hub.database.read(
        lambda s: [
            (row.expires_at - row.created_at) for row in s.execute(select(OneTimeCode)).scalars()
        ]
    )
    assert set(lifetimes) == {timedelta(minutes=5)}

    def lapse(session: Session) -> None:
        session.execute(update(OneTimeCode).values(expires_at=utcnow() - timedelta(seconds=1)))

    await hub.database.write(lapse)
    late = await _gql(
        hub,
        CONFIRM,
        cinema,
        input={"requestId": asked["data"]["requestMemberConsent"]["request"]["id"], "code": code},
    )
    assert [e["code"] for e in late["data"]["confirmMemberConsent"]["userErrors"]] == [
        "INVALID_CODE"
    ]


async def test_codes_are_limited_per_phone_alike_for_known_and_unknown_phones(hub: Hub) -> None:
    await Alliance(hub).setup()  # KNOWN is a member (registered by another partner)
    cinema = await _partner(hub, "cinema")

    async def ask(phone: str, n: int) -> tuple[dict[str, Any], str | None]:
        response = await hub.http.post(
            "/graphql",
            json={"query": ASK, "variables": {"input": {"phone": phone, "externalRef": f"r{n}"}}},
            headers={"Authorization": f"Bearer {cinema}"},
        )
        return response.json(), response.headers.get("retry-after")

    for n in range(5):
        assert (await ask(KNOWN, n))[0]["data"]["requestMemberConsent"]["userErrors"] == []
    for n in range(5):
        assert (await ask(UNKNOWN, n))[0]["data"]["requestMemberConsent"]["userErrors"] == []
    known, known_wait = await ask(KNOWN, 9)
    unknown, unknown_wait = await ask(UNKNOWN, 9)

    # The wait counts from each phone's own oldest code, so only the seconds may differ.
    assert re.sub(r"\d+", "N", str(known)) == re.sub(r"\d+", "N", str(unknown))
    assert [e["code"] for e in known["data"]["requestMemberConsent"]["userErrors"]] == [
        "RATE_LIMITED"
    ]
    assert known_wait is not None
    assert unknown_wait is not None
    assert 0 < int(known_wait) <= 15 * 60


async def test_the_partner_cannot_read_a_member_before_the_member_approved(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    await _gql(hub, ASK, cinema, input={"phone": KNOWN, "externalRef": "fan-1"})

    before = await _gql(hub, READ, cinema, id=alliance.member)

    assert before["data"] == {"member": None}
    assert before["errors"][0]["extensions"]["rule"] == "CR-10"
    registered_twice = await _register(hub, cinema, ref="fan-2", phone=KNOWN)
    assert registered_twice == alliance.member


def _ids(global_id: str) -> int:
    return int(GlobalID.from_id(global_id).node_id)


async def test_the_member_answers_in_the_app_and_withdraws_as_easily(hub: Hub) -> None:
    """The member's own channel (the app's mutations call these services): approve one
    request, deny another, then withdraw; the partner's next read is refused CR-10."""
    alliance = await Alliance(hub).setup()
    cinema = await _partner(hub, "cinema")
    optician = await _partner(hub, "optician")
    member_id = _ids(alliance.member)
    asked = [
        await _gql(hub, ASK, partner, input={"phone": KNOWN, "externalRef": "x"})
        for partner in (cinema, optician)
    ]
    request_ids = [_ids(a["data"]["requestMemberConsent"]["request"]["id"]) for a in asked]
    pending = await hub.database.read(pending_requests, member_id, utcnow())
    assert [p.id for p in pending] == request_ids
    # Another member cannot answer them.
    other = _ids(await _register(hub, alliance.store, ref="m-2", phone="13900139000"))
    with pytest.raises(ConsentRequestNotFound):
        await hub.database.write(
            answer_consent_request,
            member_id=other,
            request_id=request_ids[0],
            approve=True,
            now=utcnow(),
        )

    for request_id, approve in zip(request_ids, (True, False), strict=True):
        await hub.database.write(
            answer_consent_request,
            member_id=member_id,
            request_id=request_id,
            approve=approve,
            now=utcnow(),
        )

    assert (await _gql(hub, READ, cinema, id=alliance.member))["data"]["member"] == {"balance": 123}
    denied = await _gql(hub, READ, optician, id=alliance.member)
    assert denied["errors"][0]["extensions"]["rule"] == "CR-10"
    await hub.database.write(
        withdraw_consent,
        member_id=member_id,
        partner_code="cinema",
        credit_level_only=False,
        now=utcnow(),
    )
    withdrawn = await _gql(hub, READ, cinema, id=alliance.member)
    assert withdrawn["data"] == {"member": None}
    assert withdrawn["errors"][0]["extensions"]["rule"] == "CR-10"
    events = await hub.database.read(
        lambda s: [
            (e.partner_id, e.action, e.channel)
            for e in s.execute(
                select(ConsentEvent)
                .where(ConsentEvent.member_id == member_id)
                .order_by(ConsentEvent.id)
            ).scalars()
        ]
    )
    assert [(action, channel) for _, action, channel in events] == [
        ("GRANTED", "SMS_CODE"),  # the store's registration
        ("GRANTED", "APP"),
        ("DENIED", "APP"),
        ("WITHDRAWN", "APP"),
    ]


async def test_a_code_works_only_for_its_own_purpose_and_request(hub: Hub) -> None:
    """A registration code (or one of another request) never confirms a consent request:
    each code is bound to its purpose and subject."""
    cinema = await _partner(hub, "cinema")
    started = await _gql(
        hub,
        REGISTER,
        cinema,
        input={"externalRef": "fan-0", "phone": KNOWN, "displayName": "Li", "consent": True},
    )
    registration_code = hub.last_message()["code"]
    first = await _gql(hub, ASK, cinema, input={"phone": KNOWN, "externalRef": "fan-1"})
    first_code = hub.last_message()["code"]
    second = await _gql(hub, ASK, cinema, input={"phone": KNOWN, "externalRef": "fan-2"})
    second_code = hub.last_message()["code"]
    second_id = second["data"]["requestMemberConsent"]["request"]["id"]
    assert started["data"]["registerMember"]["userErrors"] == []
    assert first["data"]["requestMemberConsent"]["userErrors"] == []

    for code in {registration_code, first_code} - {second_code}:
        tried = await _gql(hub, CONFIRM, cinema, input={"requestId": second_id, "code": code})
        assert [e["code"] for e in tried["data"]["confirmMemberConsent"]["userErrors"]] == [
            "INVALID_CODE"
        ]
