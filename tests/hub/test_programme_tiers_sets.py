"""Issue 14, the yearly evaluation is set-based in the database (members.tiers
``evaluate_batch``): on a mixed population it writes exactly what a member-by-member
evaluation through the per-member building blocks (``_record``, ``emit_member_event``,
the ones upgrades use) writes: the same tiers, history rows and ``member.tier_changed``
events, payload and audience byte for byte."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from strawberry import relay

from core.db import utcnow
from events.models import OutboxEvent
from ledger.models import Lot
from members.models import Award, Consent, MemberTier, TierChange, TierChangeReason
from members.tiers import (
    GRACE,
    QUALIFYING_WINDOW,
    _record,
    evaluate_batch,
    evaluation_instant,
    schedule_in_force,
)
from partners.models import Partner
from tests.hub.conftest import Hub
from tests.hub.test_graphql_members import _gql, _partner, _register
from tests.hub.test_programme_tiers import AWARD, _order, _schedule_in_force

pytestmark = pytest.mark.anyio

# A version 7 UUID: the milliseconds of the write, then random bits.
EVENT_ID = re.compile(r"^evt_[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$")


class Captured(Exception):
    """Carries what a unit wrote out of it, and so rolls the unit back."""

    def __init__(self, state: dict[str, Any]) -> None:
        super().__init__("captured")
        self.state = state


def member_by_member(session: Session, day: date) -> None:
    """The reference: each due member on its own, with the per-member building blocks."""
    at = evaluation_instant(day)
    schedule = schedule_in_force(session, at)
    due = session.execute(
        select(MemberTier)
        .where(MemberTier.tier_rank > 0, MemberTier.qualified_at <= at - QUALIFYING_WINDOW - GRACE)
        .order_by(MemberTier.member_id)
    ).scalars()
    net = Lot.points - Lot.reversed_points
    for row in list(due):
        current = schedule.tier(row.tier_code, row.tier_rank)
        points, orders = session.execute(
            select(func.coalesce(func.sum(net), 0), func.count(Award.id).filter(net > 0))
            .select_from(Award)
            .join(Lot, Lot.id == Award.lot_id)
            .where(
                Award.member_id == row.member_id,
                Award.created_at > at - QUALIFYING_WINDOW,
                Award.created_at <= at,
            )
        ).one()
        reached = schedule.qualifying(int(points), int(orders))
        if reached.rank >= current.rank:
            row.qualified_at = at
            continue
        row.tier_code, row.tier_rank, row.since, row.qualified_at = (
            reached.code,
            reached.rank,
            at,
            at,
        )
        _record(
            session,
            row.member_id,
            before=current,
            after=reached,
            reason=TierChangeReason.DOWNGRADE,
            schedule=schedule,
            points=int(points),
            orders=int(orders),
            now=at,
            evaluated_on=day,
        )
    session.flush()


def written(session: Session, history_after: int, events_after: int) -> dict[str, Any]:
    tiers = [
        (row.member_id, row.tier_code, row.tier_rank, row.since, row.qualified_at)
        for row in session.execute(select(MemberTier).order_by(MemberTier.member_id)).scalars()
    ]
    history = [
        (
            row.member_id,
            row.from_code,
            row.to_code,
            row.reason,
            row.schedule_version,
            row.qualifying_points,
            row.qualifying_orders,
            row.award_id,
            row.evaluated_on,
            row.at,
        )
        for row in session.execute(
            select(TierChange).where(TierChange.id > history_after).order_by(TierChange.id)
        ).scalars()
    ]
    events = session.execute(
        select(OutboxEvent).where(OutboxEvent.id > events_after).order_by(OutboxEvent.id)
    ).scalars()
    found = [
        (
            row.event_id,
            row.once_key,
            row.type,
            row.occurred_at,
            row.partner_id,
            row.member_id,
            row.audience,
            row.payload,
        )
        for row in events
    ]
    return {"tiers": tiers, "history": history, "events": found}


async def _population(hub: Hub) -> dict[str, int]:
    """Members due and not, keeping, losing one tier or two, with and without earnings,
    consents to none, one or two partners, a code the schedule no longer has."""
    await _schedule_in_force(hub)
    store = await _partner(hub, "store")
    await _partner(hub, "mall")
    ids: dict[str, int] = {}
    orders = iter(range(1, 100))

    async def member(name: str, *yuan: int) -> int:
        n = len(ids) + 1
        token = await _register(hub, store, ref=f"m-{n}", phone=f"138 0013 80{n:02d}")
        for amount in yuan:
            found = await _gql(hub, AWARD, store, input=_order(token, next(orders), amount))
            assert found["data"]["awardPoints"]["userErrors"] == []
        ids[name] = int(relay.from_base64(token)[1])
        return ids[name]

    kept = await member("kept", 600, 600)  # GOLD reached again: 1,500 points in 2 orders
    one_order = await member("one_order", 1200)  # GOLD's points, not its 2 orders
    little = await member("little", 50)
    lapsed = await member("lapsed", 120)  # earned two years ago only
    grace = await member("grace", 120)
    refunded = await member("refunded", 120)
    renamed = await member("renamed", 150)
    silent = await member("silent")
    await member("base")  # never above the base tier: no row, never due
    now = utcnow()

    def shape(session: Session) -> None:
        mall = session.execute(select(Partner.id).where(Partner.code == "mall")).scalar_one()
        rows = {
            kept: ("GOLD", 2, 800),
            one_order: ("GOLD", 2, 800),
            little: ("GOLD", 2, 800),
            lapsed: ("SILVER", 1, 731),
            grace: ("GOLD", 2, 700),
            refunded: ("SILVER", 1, 800),
            renamed: ("PLATINUM", 3, 900),
            silent: ("SILVER", 1, 800),
        }
        for member_id, (code, rank, days) in rows.items():
            session.merge(
                MemberTier(
                    member_id=member_id,
                    tier_code=code,
                    tier_rank=rank,
                    since=now - timedelta(days=days),
                    qualified_at=now - timedelta(days=days),
                )
            )
        session.execute(
            update(Award)
            .where(Award.member_id == lapsed)
            .values(created_at=now - timedelta(days=731))
        )
        session.execute(
            update(Lot).where(Lot.member_id == refunded).values(reversed_points=Lot.points)
        )
        session.execute(update(Consent).where(Consent.member_id == little).values(revoked_at=now))
        for member_id in (one_order, renamed):
            session.add(
                Consent(
                    member_id=member_id,
                    partner_id=mall,
                    external_ref=f"mall-{member_id}",
                    credit_level=False,
                    granted_at=now,
                )
            )

    await hub.database.write(shape)
    return ids


async def test_the_set_based_evaluation_writes_what_a_member_by_member_one_writes(
    hub: Hub,
) -> None:
    ids = await _population(hub)
    day = utcnow().date() + timedelta(days=1)

    def marks(session: Session) -> tuple[int, int]:
        return (
            session.execute(select(func.coalesce(func.max(TierChange.id), 0))).scalar_one(),
            session.execute(select(func.coalesce(func.max(OutboxEvent.id), 0))).scalar_one(),
        )

    history_after, events_after = await hub.database.read(marks)

    def reference(session: Session) -> None:
        member_by_member(session, day)
        raise Captured(written(session, history_after, events_after))

    with pytest.raises(Captured) as captured:
        await hub.database.write(reference)
    expected = captured.value.state

    batches = []
    last = 0
    # Batches of 3: the population spans several, and a batch boundary falls between
    # members who move and members who stay.
    while (batch := await hub.database.write(evaluate_batch, day, last, 3)).members:
        batches.append(batch)
        last = batch.last_member
    again = await hub.database.write(evaluate_batch, day, 0, 3)
    found = await hub.database.read(written, history_after, events_after)

    by_id = {member_id: name for name, member_id in ids.items()}
    moves = {by_id[row[0]]: (row[1], row[2], row[5], row[6]) for row in expected["history"]}
    assert moves == {
        "one_order": ("GOLD", "SILVER", 1200, 1),
        "little": ("GOLD", "BASIC", 50, 1),
        "lapsed": ("SILVER", "BASIC", 0, 0),
        "refunded": ("SILVER", "BASIC", 0, 0),
        "renamed": ("GOLD", "SILVER", 150, 1),  # PLATINUM is not in the schedule: its top
        "silent": ("SILVER", "BASIC", 0, 0),
    }
    assert sum(b.members for b in batches) == 7  # all but the one in grace (and the base)
    assert sum(b.downgraded for b in batches) == 6
    assert sum(b.kept for b in batches) == 1
    assert again.members == 0  # idempotent for the day

    assert found["tiers"] == expected["tiers"]
    assert found["history"] == expected["history"]
    assert [e[1:] for e in found["events"]] == [e[1:] for e in expected["events"]]
    assert all(EVENT_ID.match(e[0]) for e in found["events"] + expected["events"])
    assert all(
        abs(int(e[0][4:16], 16) / 1000 - utcnow().timestamp()) < 3600
        for e in found["events"] + expected["events"]
    )
    assert len({e[0] for e in found["events"]}) == len(found["events"]) == 6
    audiences = {by_id[e[5]]: e[6] for e in found["events"]}
    assert audiences["little"] == "[]"  # withdrew the consent: only the operator hears
    assert audiences["one_order"] == audiences["renamed"] == "[1, 2]"
    assert audiences["silent"] == "[1]"


async def test_two_evaluations_of_a_day_at_once_move_each_member_once(hub: Hub) -> None:
    """The worker's hourly run and a backfill by hand racing over the same day: the due
    members are locked per batch (PostgreSQL; SQLite has one writer), and a member the
    other run moved is no longer due, so each moves once, with one history row and one
    event."""
    ids = await _population(hub)
    day = utcnow().date() + timedelta(days=1)

    async def run() -> int:
        moved, last = 0, 0
        while (batch := await hub.database.write(evaluate_batch, day, last, 2)).members:
            moved, last = moved + batch.downgraded, batch.last_member
        return moved

    first, second = await asyncio.gather(run(), run())

    def counts(session: Session) -> tuple[list[int], list[int]]:
        history = session.execute(
            select(TierChange.member_id).where(TierChange.reason == "DOWNGRADE")
        ).scalars()
        events = session.execute(
            select(OutboxEvent.member_id).where(
                OutboxEvent.type == "member.tier_changed",
                OutboxEvent.payload.contains('"reason":"DOWNGRADE"'),
            )
        ).scalars()
        return sorted(history), sorted(events)

    history, events = await hub.database.read(counts)
    moved = sorted(
        ids[name] for name in ("one_order", "little", "lapsed", "refunded", "renamed", "silent")
    )
    assert first + second == 6
    assert history == events == moved
