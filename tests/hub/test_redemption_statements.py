"""What a redemption and a member read cost in statements, pinned (docs/performance.md,
the contention section), and the abuse cases of the checks folded into fewer statements:
the partner's status, the member's consent and status and the fail-fast balance are one
read; the screening figures are one read; the event reuses what the redemption knows."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session
from strawberry.relay import GlobalID

import ledger
from compliance.errors import ComplianceViolation
from core.db import utcnow
from ledger.errors import InsufficientPoints
from members.errors import MemberNotFound
from members.models import Consent
from members.redemption import redeem_item
from members.registration import close_member
from partners.registry import suspend_partner
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import _gql
from tests.hub.test_graphql_redemptions import _alliance
from tests.statements import counting_statements

pytestmark = pytest.mark.anyio

REDEEM = """mutation($input: RedeemPointsInput!) {
  redeemPoints(input: $input) {
    redemption { id status points } member { balance heldPoints } userErrors { code }
  }
}"""
READ = """query($id: ID!) {
  member(id: $id) { balance heldPoints lots(first: 5) { edges { node { remaining } } } }
}"""


def _beyond_bearer(statements: list[str]) -> list[str]:
    """The request's own statements: the bearer check (hub/oauth2: the credentials'
    version, and the token's state when it moved) is counted apart."""
    return [s for s in statements if "oauth_" not in s and "credential_version" not in s]


async def test_a_redemption_and_a_member_read_cost_pinned_statements(hub: Hub) -> None:
    """A one-step redemption of a voucher (liquid, so AML reads the member's recent
    earnings and liquid redemptions, and records this one) is 20 statements in one
    transaction, the member's lock included; a member read with its balances and
    lots is 3, the visibility and the balances in one read transaction. The same for the
    second redemption as for the first."""
    store, cinema, member, ticket = await _alliance(hub)
    counts = []
    for key in ("r-1", "r-2"):
        with counting_statements(hub.database) as log:
            body = await _gql(
                hub,
                REDEEM,
                cinema,
                input={"idempotencyKey": key, "memberId": member, "catalogItemId": ticket},
            )
        assert body["data"]["redeemPoints"]["userErrors"] == [], body
        counts.append(len(_beyond_bearer(log.statements)))
    with counting_statements(hub.database) as log:
        read = await _gql(hub, READ, store, id=member)  # the lot's issuer sees it

    assert counts == [20, 20]
    assert len(_beyond_bearer(log.statements)) == 3
    assert read["data"]["member"]["balance"] == 123 - 2 * 35
    assert read["data"]["member"]["lots"]["edges"] == [{"node": {"remaining": 53}}]


async def test_the_redemption_event_goes_to_the_redeeming_partner(hub: Hub) -> None:
    """The event is written from what the redemption knows (its hold, the consent it
    checked), with the figures a re-read would have given."""
    _, cinema, member, ticket = await _alliance(hub)
    body = await _gql(
        hub,
        REDEEM,
        cinema,
        input={"idempotencyKey": "e-1", "memberId": member, "catalogItemId": ticket},
    )
    redemption = body["data"]["redeemPoints"]["redemption"]

    def events(session: Session) -> list[Any]:
        return list(
            session.execute(
                text(
                    "SELECT partner_id, member_id, audience, payload FROM outbox_events "
                    "WHERE type = 'points.redeemed'"
                )
            )
        )

    (partner_id, member_id, audience, payload), *others = await hub.database.read(events)
    assert others == []
    assert json.loads(audience) == [partner_id]
    shown = json.loads(payload)
    assert shown["redemptionId"] == redemption["id"]
    assert shown["points"] == 35
    assert shown["status"] == "CAPTURED"
    assert member_id == int(GlobalID.from_id(member).node_id)


def _ids(member: str, ticket: str) -> tuple[int, int]:
    return int(GlobalID.from_id(member).node_id), int(GlobalID.from_id(ticket).node_id)


def _partner_id(session: Session, code: str) -> int:
    return int(
        session.execute(text("SELECT id FROM partners WHERE code = :c"), {"c": code}).one()[0]
    )


def _operations(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM ledger_operations")).scalar_one())


def _holds(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM ledger_holds")).scalar_one())


async def _redeem(hub: Hub, key: str, partner_id: int, member_id: int, item_id: int) -> Any:
    return await hub.database.write(
        redeem_item,
        ledger.IdempotencyKey("cli", key),
        partner_id=partner_id,
        member_id=member_id,
        catalog_item_id=item_id,
        quantity=1,
        now=utcnow(),
    )


async def test_the_folded_checks_refuse_foreign_closed_short_and_suspended(hub: Hub) -> None:
    """Each refusal is the one the separate checks gave, in their order, and leaves
    nothing behind (no hold, no claimed key: a retry runs afresh)."""
    _, _, member, ticket = await _alliance(hub)
    member_id, item_id = _ids(member, ticket)
    cinema_id = await hub.database.read(_partner_id, "cinema")
    before = (await hub.database.read(_operations), await hub.database.read(_holds))

    # An unknown partner id: CR-04, as for a suspended one (not "member not found").
    with pytest.raises(ComplianceViolation) as unknown:
        await _redeem(hub, "x-1", 10_000, member_id, item_id)
    assert unknown.value.rule == "CR-04"
    # A member id that does not exist, and one whose consent was revoked: not found.
    with pytest.raises(MemberNotFound):
        await _redeem(hub, "x-2", cinema_id, 10_000, item_id)

    def revoke(session: Session, partner_id: int, at: datetime) -> None:
        session.execute(
            update(Consent)
            .where(Consent.member_id == member_id, Consent.partner_id == partner_id)
            .values(revoked_at=at)
        )

    def restore(session: Session, partner_id: int) -> None:
        session.execute(
            update(Consent)
            .where(Consent.member_id == member_id, Consent.partner_id == partner_id)
            .values(revoked_at=None)
        )

    await hub.database.write(revoke, cinema_id, utcnow())
    with pytest.raises(MemberNotFound):
        await _redeem(hub, "x-3", cinema_id, member_id, item_id)
    await hub.database.write(restore, cinema_id)

    # More than the member holds (123 points, 4 tickets of 35): the fourth is refused
    # from the balance read with the member, before the member's row is locked.
    for n in range(3):
        await _redeem(hub, f"ok-{n}", cinema_id, member_id, item_id)
    with pytest.raises(InsufficientPoints) as short:
        await _redeem(hub, "x-4", cinema_id, member_id, item_id)
    assert (short.value.requested, short.value.available) == (35, 18)
    after_spends = (await hub.database.read(_operations), await hub.database.read(_holds))
    assert after_spends == (before[0] + 3, before[1] + 3)

    # A closed member: CR-03; a suspended partner: CR-04, before anything about the member.
    await hub.database.write(close_member, member_id, utcnow())
    with pytest.raises(ComplianceViolation) as closed:
        await _redeem(hub, "x-5", cinema_id, member_id, item_id)
    assert closed.value.rule == "CR-03"
    await hub.database.write(suspend_partner, "cinema", utcnow())
    with pytest.raises(ComplianceViolation) as suspended:
        await _redeem(hub, "x-6", cinema_id, 10_000, item_id)
    assert suspended.value.rule == "CR-04"

    assert (await hub.database.read(_operations), await hub.database.read(_holds)) == after_spends
