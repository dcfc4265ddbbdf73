"""The worker runs every scheduled job of issue 16, tier evaluation included."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from strawberry import relay

from core.config import get_settings
from core.db import utcnow
from events import EventType, emit, global_id
from hub.worker import Worker, schedule
from members.models import Award, TierChange
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import AWARD, _gql, _partner, _register
from tests.hub.test_programme_tiers import _age_tier, _order, _schedule_in_force
from tests.webhooks.conftest import Clock, register_endpoint, webhook_partner
from webhooks.delivery import Job, Outcome, pending_count
from webhooks.models import WebhookDelivery

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


class RecordingWorker(Worker):
    """Posts nothing: notes each batch as it leaves, and answers 204 for every job."""

    posted: list[list[int]]

    async def _post(self, jobs: list[Job]) -> list[Outcome]:
        self.posted.append([job.delivery_id for job in jobs])
        await asyncio.sleep(0.01)  # the next claim runs meanwhile
        return [Outcome("delivered", 204, 1) for _ in jobs]


async def test_pipelined_batches_keep_each_members_order(hub: Hub) -> None:
    """Twelve members, batches of 5, several batches per call: every member's events leave in event
    order, each once, and a member's next event never leaves before the one before it was
    recorded (it is not even claimable while that one is PENDING)."""
    token = await webhook_partner(hub, "store")
    await register_endpoint(hub, token, "http://127.0.0.1:9/hooks", ["points.awarded"])

    def events(session: Session) -> None:
        for n in range(60):
            member = 1 + n % 12
            emit(
                session,
                EventType.POINTS_AWARDED,
                now=utcnow(),
                payload={"memberId": global_id("Member", member), "points": n},
                member_id=member,
                audience=[1],
            )

    await hub.database.write(events)
    worker = RecordingWorker(hub.database, get_settings(), batch=5, pipeline=8)
    worker.posted = []
    calls = 0
    while await worker.deliver():
        calls += 1

    def lines(session: Session) -> dict[int, tuple[str, int]]:
        rows = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.order_key, WebhookDelivery.event_seq)
        )
        return {row.id: (row.order_key, row.event_seq) for row in rows}

    line_of = await hub.database.read(lines)
    sent = [delivery for batch in worker.posted for delivery in batch]
    assert len(line_of) == 60
    assert sorted(sent) == sorted(line_of)  # every delivery, once
    assert max(len(batch) for batch in worker.posted) == 5
    assert calls < len(worker.posted)  # several batches a call: pipelined
    for batch in worker.posted:
        keys = [line_of[d][0] for d in batch]
        assert len(keys) == len(set(keys))  # one event per member in a batch
    by_member: dict[str, list[int]] = {}
    for delivery in sent:
        key, seq = line_of[delivery]
        by_member.setdefault(key, []).append(seq)
    assert all(seqs == sorted(seqs) for seqs in by_member.values())
    assert await hub.database.read(pending_count) == 0
