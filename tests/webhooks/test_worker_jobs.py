"""The worker runs every scheduled job of issue 16, tier evaluation included."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from strawberry import relay

from core.config import get_settings
from core.db import utcnow
from hub.worker import Worker, schedule
from members.models import Award, TierChange
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _gql, _partner, _register
from tests.hub.test_programme_tiers import _age_tier, _order, _schedule_in_force
from tests.webhooks.conftest import Clock

pytestmark = pytest.mark.anyio


def test_the_schedule_names_every_job() -> None:
    assert [job.name for job in schedule(get_settings())] == [
        "void-overdue-holds",
        "expire-lapsed-lots",
        "expiry-notices",
        "evaluate-tiers",
        "forget-expired-ids",
        "purge-abandoned-requests",
    ]


async def test_the_worker_lowers_a_tier_past_its_year_of_grace_once(hub: Hub) -> None:
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    member = await _register(hub, store)
    await _gql(hub, AWARD, store, input=_order(member, 1, 120))  # SILVER
    member_id = int(relay.from_base64(member)[1])
    await _age_tier(hub, member_id, 731)

    def backdate(session: Session) -> None:
        session.execute(update(Award).values(created_at=utcnow() - timedelta(days=731)))

    await hub.database.write(backdate)
    clock = Clock(utcnow() + timedelta(days=1))
    worker = Worker(hub.database, get_settings(), clock=clock, jobs=schedule(get_settings()))

    await worker.run_due_jobs()
    clock.advance(timedelta(hours=1, seconds=1))
    await worker.run_due_jobs()  # the next hour's run finds no one due

    changes = await hub.database.read(
        lambda session: [
            (row.from_code, row.to_code, row.reason)
            for row in session.execute(select(TierChange).order_by(TierChange.id)).scalars()
        ]
    )
    assert changes[-1] == ("SILVER", "BASIC", "DOWNGRADE")
    assert [c for c in changes if c[2] == "DOWNGRADE"] == [("SILVER", "BASIC", "DOWNGRADE")]
