"""Registrations and consent requests nobody finished leave nothing behind: their PENDING
placeholder members, the registrations and requests (which hold a phone's hash and the
partner's reference) and old code counters are purged once they lapsed (issue 15, found by
an outside attack)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import utcnow
from hub.worker import schedule
from members.housekeeping import purge_abandoned
from members.models import ConsentRequest, Member, MemberStatus, OneTimeCode, Registration
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import REGISTER, _gql, _partner, _register

pytestmark = pytest.mark.anyio

ASK = """mutation($input: RequestMemberConsentInput!) { requestMemberConsent(input: $input) {
  request { id } userErrors { code } } }"""
KNOWN = "13800138000"


async def _counts(hub: Hub) -> dict[str, Any]:
    def read(session: Session) -> dict[str, Any]:
        return {
            "pending members": session.execute(
                select(func.count()).where(Member.status == MemberStatus.PENDING)
            ).scalar_one(),
            "members": session.execute(select(func.count()).select_from(Member)).scalar_one(),
            "registrations": session.execute(select(Registration.status).order_by(Registration.id))
            .scalars()
            .all(),
            "requests": session.execute(select(ConsentRequest.status).order_by(ConsentRequest.id))
            .scalars()
            .all(),
            "codes": session.execute(select(func.count()).select_from(OneTimeCode)).scalar_one(),
        }

    return await hub.database.read(read)


async def test_lapsed_registrations_and_requests_are_purged_with_their_placeholders(
    hub: Hub,
) -> None:
    store = await _partner(hub, "store")
    member = await _register(hub, store, phone=KNOWN)  # confirmed: stays
    for ref, phone in (("new-1", "13100131000"), ("again", KNOWN)):
        started = await _gql(
            hub,
            REGISTER,
            store,
            input={"externalRef": ref, "phone": phone, "displayName": "X", "consent": True},
        )
        assert started["data"]["registerMember"]["userErrors"] == []
    placeholder = started["data"]["registerMember"]["member"]["id"]
    await _gql(hub, ASK, store, input={"phone": "13100131000", "externalRef": "ask-1"})
    before = await _counts(hub)
    assert before["pending members"] == 2
    assert before["registrations"] == ["CONFIRMED", "PENDING", "PENDING"]
    assert before["requests"] == ["PENDING"]

    # Nothing lapsed yet: nothing goes.
    assert await hub.database.write(purge_abandoned, utcnow()) == 0
    assert await _counts(hub) == before

    purged = await hub.database.write(purge_abandoned, utcnow() + timedelta(days=8))

    after = await _counts(hub)
    assert purged == 2 + 2 + 1 + before["codes"]
    assert after == {
        "pending members": 0,
        "members": 1,
        "registrations": ["CONFIRMED"],
        "requests": [],
        "codes": 0,
    }
    # The confirmed member is untouched; the placeholder reads as not found.
    read = "query($id: ID!) { member(id: $id) { id status } }"
    assert (await _gql(hub, read, store, id=member))["data"]["member"]["status"] == "ACTIVE"
    gone = await _gql(hub, read, store, id=placeholder)
    assert gone["data"]["member"] is None


async def test_answered_requests_stay_as_evidence(hub: Hub) -> None:
    store = await _partner(hub, "store")
    await _register(hub, store, phone=KNOWN)
    cinema = await _partner(hub, "cinema")
    asked = await _gql(hub, ASK, cinema, input={"phone": KNOWN, "externalRef": "fan-1"})
    confirm = """mutation($input: ConfirmMemberConsentInput!) { confirmMemberConsent(
      input: $input) { request { status } userErrors { code } } }"""
    done = await _gql(
        hub,
        confirm,
        cinema,
        input={
            "requestId": asked["data"]["requestMemberConsent"]["request"]["id"],
            "code": hub.last_message()["code"],
        },
    )
    assert done["data"]["confirmMemberConsent"]["request"]["status"] == "GRANTED"

    await hub.database.write(purge_abandoned, utcnow() + timedelta(days=30))

    after = await _counts(hub)
    assert after["requests"] == ["GRANTED"]
    assert after["registrations"] == ["CONFIRMED"]


def test_the_worker_runs_the_purge() -> None:
    assert "purge-abandoned-requests" in {job.name for job in schedule(get_settings())}
