"""Expiry notices: one points.expiring a day per member, never twice for the same lots."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from strawberry.relay import GlobalID

from core.db import utcnow
from events.models import OutboxEvent
from ledger import IdempotencyKey
from members.earning import Line, award
from members.expiry_notices import send_expiry_notices
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _award_input, _gql, _register
from tests.webhooks.conftest import webhook_partner

pytestmark = pytest.mark.anyio


async def _notices(hub: Hub) -> list[dict]:
    rows = await hub.database.read(
        lambda session: list(
            session.execute(
                select(OutboxEvent.payload)
                .where(OutboxEvent.type == "points.expiring")
                .order_by(OutboxEvent.id)
            ).scalars()
        )
    )
    return [json.loads(row) for row in rows]


async def test_one_notice_a_day_and_never_twice_for_the_same_lots(hub: Hub) -> None:
    store = await webhook_partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_award_input(member))  # 123 points for 365 days
    day = utcnow() + timedelta(days=340)  # 25 days before they expire

    too_early = await hub.database.write(send_expiry_notices, day - timedelta(days=10), 30)
    first = await hub.database.write(send_expiry_notices, day, 30)
    again_today = await hub.database.write(send_expiry_notices, day + timedelta(hours=3), 30)
    tomorrow = await hub.database.write(send_expiry_notices, day + timedelta(days=1), 30)
    notices = await _notices(hub)

    assert (too_early.noticed, first.noticed, again_today.noticed, tomorrow.noticed) == (0, 1, 0, 0)
    assert notices == [
        {
            "memberId": member,
            "points": 123,
            "lots": [
                {
                    "expiresOn": notices[0]["lots"][0]["expiresOn"],
                    "points": 123,
                }
            ],
        }
    ]


async def test_lots_found_after_the_days_notice_wait_for_the_next_day(hub: Hub) -> None:
    store = await webhook_partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_award_input(member))
    day = utcnow() + timedelta(days=340)
    await hub.database.write(send_expiry_notices, day, 30)
    await hub.database.write(
        award,
        IdempotencyKey("test", "short"),
        partner_id=1,
        member_id=int(GlobalID.from_id(member).node_id),
        order_ref="short",
        paid_amount_fen=1_000,
        lines=[Line("tea", "food", 1_000, False)],
        now=utcnow(),
        expires_at=utcnow() + timedelta(days=345),
    )

    same_day = await hub.database.write(send_expiry_notices, day + timedelta(hours=1), 30)
    next_day = await hub.database.write(send_expiry_notices, day + timedelta(days=1), 30)
    notices = await _notices(hub)

    assert (same_day.noticed, next_day.noticed) == (0, 1)
    assert [n["points"] for n in notices] == [123, 10]
