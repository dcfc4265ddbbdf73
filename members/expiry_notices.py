"""Expiry notices (CR-11, 到期提醒): N days before a member's lots expire (the operator's
``HUB_EXPIRY_NOTICE_DAYS``, 30 by default) the member's consenting partners receive one
``points.expiring`` event a day for that member, aggregating the points that expire and
when. Each lot is announced once; a member is announced at most once a day, and a lot
that turns up after that day's notice waits for the next day's. A member who opted in to
reminders also gets a message on their phone, queued with the event (members.reminders)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import BigInteger, Date, Integer, Table, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base
from events import EventType
from ledger.queries import ExpiringLot, lots_expiring, members_with_lots_expiring
from members.events import emit_member_event
from members.reminders import queue_expiry_reminder

BigId = BigInteger().with_variant(Integer(), "sqlite")


class LotExpiryNotice(Base):
    """A lot whose coming expiry was announced, and on which day."""

    __tablename__ = "lot_expiry_notices"

    lot_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigInteger, index=True)
    noticed_on: Mapped[date] = mapped_column(Date)


_notices = cast(Table, LotExpiryNotice.__table__)


@dataclass(frozen=True, slots=True)
class NoticeBatch:
    members: int  # members looked at; 0 when the sweep is done
    noticed: int  # members sent a notice
    last_member: int


def _expiring_by_day(lots: list[ExpiringLot]) -> list[dict[str, int | str | None]]:
    by_day: dict[date, int] = defaultdict(int)
    for lot in lots:
        by_day[lot.expires_at.date()] += lot.remaining
    return [{"expiresOn": day.isoformat(), "points": by_day[day]} for day in sorted(by_day)]


def send_expiry_notices(
    session: Session, now: datetime, days: int, after_member: int = 0, limit: int = 200
) -> NoticeBatch:
    """One batch of members (ids above ``after_member``); call again with ``last_member``
    until ``members`` is 0. Idempotent: a re-run the same day sends nothing new."""
    members = members_with_lots_expiring(
        session, now, now + timedelta(days=days), after_member, limit
    )
    if not members:
        return NoticeBatch(0, 0, after_member)
    lots = lots_expiring(session, members, now, now + timedelta(days=days))
    announced = set(
        session.execute(
            select(LotExpiryNotice.lot_id).where(
                LotExpiryNotice.lot_id.in_([lot.id for lot in lots])
            )
        ).scalars()
    )
    fresh: dict[int, list[ExpiringLot]] = defaultdict(list)
    for lot in lots:
        if lot.id not in announced:
            fresh[lot.member_id].append(lot)
    today = now.date()
    noticed = 0
    for member_id, member_lots in fresh.items():
        event = emit_member_event(
            session,
            EventType.POINTS_EXPIRING,
            member_id=member_id,
            payload={
                "points": sum(lot.remaining for lot in member_lots),
                "lots": _expiring_by_day(member_lots),
            },
            now=now,
            once_key=f"points.expiring:{member_id}:{today.isoformat()}",
        )
        if event is None:
            continue  # already told today; these lots go in tomorrow's notice
        queue_expiry_reminder(
            session,
            member_id=member_id,
            event_id=event,
            points=sum(lot.remaining for lot in member_lots),
            first_expiry=min(lot.expires_at for lot in member_lots).date(),
            now=now,
        )
        session.execute(
            _notices.insert(),
            [
                {"lot_id": lot.id, "member_id": member_id, "noticed_on": today}
                for lot in member_lots
            ],
        )
        noticed += 1
    return NoticeBatch(len(members), noticed, members[-1])
