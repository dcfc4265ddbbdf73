"""Expiry reminders to the member's own phone (CR-11, 到期提醒), for members who opted in.

The hub keeps a member's phone only as a keyed hash, so it cannot text anyone by itself.
A signed-in member who wants reminders turns them on with their phone, which must be the
one they proved (its hash is the member's); the hub then keeps that phone sealed
(AES-GCM under ``HUB_SECRET_KEY``) for this one purpose, and drops it when the member
turns reminders off or closes the account.

When the daily expiry notice (``members.expiry_notices``) writes a member's
``points.expiring`` event, the same transaction queues one message for the member if
they opted in: a transactional outbox, keyed by the event, so there is one message per
notice (never twice for the same lots and day) and none for rolled-back work. The
worker claims due messages with a lease, reads the member's row and sealed phone at send
time (a member who closed the account or turned reminders off meanwhile is skipped),
sends through the notifier, and records the outcome; a worker killed mid-send leaves the
lease to run out and the message is sent again (at least once). A message carries the
points and the first expiry day: no name, no other personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, Table, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.crypto import hashes_equal, keyed_hash, seal, unseal
from core.db import Base, UTCDateTime, insert_if_absent, one_of
from core.notify import Notification
from members.errors import MemberError
from members.models import Member, MemberStatus
from members.registration import PHONE_PURPOSE, normalise_phone

BigId = BigInteger().with_variant(Integer(), "sqlite")
SEAL_PURPOSE = "member-reminder-phone"
MAX_ATTEMPTS = 12  # about three days of backoff (1 min doubling, capped at 12 h)
KIND = "points.expiring"


class MessageStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    SKIPPED = "SKIPPED"  # the member closed the account or turned reminders off
    FAILED = "FAILED"  # the gateway refused every attempt


class ExpiryReminderOptIn(Base):
    """A member's opt-in to expiry reminders, with the phone to send them to, sealed."""

    __tablename__ = "member_expiry_reminders"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    sealed_phone: Mapped[str] = mapped_column(String(200))
    enabled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberMessage(Base):
    """One message to a member's phone, queued with the event it tells of."""

    __tablename__ = "member_messages"
    __table_args__ = (one_of("status", MessageStatus),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(BigInteger)
    first_expiry: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


_messages = cast(Table, MemberMessage.__table__)
_opt_ins = cast(Table, ExpiryReminderOptIn.__table__)


class NotYourPhone(MemberError):
    def __init__(self) -> None:
        super().__init__("give the phone you signed in with", ["phone"])


def expiry_reminders_enabled(session: Session, member_id: int) -> bool:
    return session.get(ExpiryReminderOptIn, member_id) is not None


def set_expiry_reminders(
    session: Session,
    *,
    secret_key: str,
    member_id: int,
    enabled: bool,
    phone: str | None,
    now: datetime,
) -> bool:
    """Turn reminders on (with the member's own proven phone) or off (the phone is
    dropped, and messages not yet sent are skipped). Returns whether they are on."""
    if not enabled:
        session.execute(delete(_opt_ins).where(_opt_ins.c.member_id == member_id))
        return False
    if phone is None:
        raise NotYourPhone()
    normalised = normalise_phone(phone)
    member = session.get(Member, member_id)
    if (
        member is None
        or member.status != MemberStatus.ACTIVE
        or member.phone_hash is None
        or not hashes_equal(member.phone_hash, keyed_hash(secret_key, PHONE_PURPOSE, normalised))
    ):
        raise NotYourPhone()
    sealed = seal(secret_key, SEAL_PURPOSE, f"{member_id}:{normalised}".encode())
    row = {"member_id": member_id, "sealed_phone": sealed, "enabled_at": now}
    if not insert_if_absent(session, _opt_ins, row):
        session.execute(
            update(_opt_ins)
            .where(_opt_ins.c.member_id == member_id)
            .values(sealed_phone=sealed, enabled_at=now)
        )
    return True


def queue_expiry_reminder(
    session: Session,
    *,
    member_id: int,
    event_id: str,
    points: int,
    first_expiry: date,
    now: datetime,
) -> bool:
    """Queue the member's message for a ``points.expiring`` event, if they opted in;
    once per event. Returns whether one was queued."""
    if not expiry_reminders_enabled(session, member_id):
        return False
    return insert_if_absent(
        session,
        _messages,
        {
            "member_id": member_id,
            "event_id": event_id,
            "kind": KIND,
            "points": points,
            "first_expiry": first_expiry,
            "status": MessageStatus.PENDING,
            "attempts": 0,
            "created_at": now,
            "next_attempt_at": now,
            "sent_at": None,
        },
        conflict_on=["event_id"],
    )


def reminder_text(points: int, first_expiry: date) -> str:
    """The text: the points and the first day they expire; nothing about the person."""
    day = first_expiry.isoformat()
    return (
        f"【积分联盟】您有 {points} 积分将于 {day} 起到期，请及时使用。"  # noqa: RUF001 (Chinese punctuation)
        f"Alliance points: {points} points expire from {day}. "
        "可在联盟 App 中关闭到期提醒 / turn reminders off in the alliance app."
    )


@dataclass(frozen=True, slots=True)
class Outgoing:
    message_id: int
    notification: Notification


def claim_messages(
    session: Session, secret_key: str, now: datetime, limit: int, lease: timedelta
) -> list[Outgoing]:
    """Due messages, each leased to this worker (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so several workers share them). The member's row and sealed phone are
    read now: a closed account or a withdrawn opt-in skips the message."""
    rows = session.execute(
        select(
            _messages.c.id,
            _messages.c.points,
            _messages.c.first_expiry,
            Member.status,
            _opt_ins.c.sealed_phone,
        )
        .join(Member, Member.id == _messages.c.member_id)
        .outerjoin(_opt_ins, _opt_ins.c.member_id == _messages.c.member_id)
        .where(_messages.c.status == MessageStatus.PENDING, _messages.c.next_attempt_at <= now)
        .order_by(_messages.c.next_attempt_at, _messages.c.id)
        .limit(limit)
        .with_for_update(of=_messages, skip_locked=True)
    ).all()
    outgoing: list[Outgoing] = []
    skipped: list[int] = []
    for message_id, points, first_expiry, status, sealed in rows:
        if status != MemberStatus.ACTIVE or sealed is None:
            skipped.append(message_id)
            continue
        member_phone = unseal(secret_key, SEAL_PURPOSE, sealed).decode()
        phone = member_phone.split(":", 1)[1]
        outgoing.append(
            Outgoing(
                message_id,
                Notification(
                    to=phone,
                    kind="expiry-reminder",
                    text=reminder_text(points, first_expiry),
                    code="",
                ),
            )
        )
    if skipped:
        session.execute(
            update(_messages)
            .where(_messages.c.id.in_(skipped))
            .values(status=MessageStatus.SKIPPED)
        )
    if outgoing:
        session.execute(
            update(_messages)
            .where(_messages.c.id.in_([o.message_id for o in outgoing]))
            .values(next_attempt_at=now + lease, attempts=_messages.c.attempts + 1)
        )
    return outgoing


def record_messages(session: Session, outcomes: list[tuple[int, bool]], now: datetime) -> None:
    """Sent, or due again after a backoff (1 minute doubling, at most 12 hours), or
    FAILED after MAX_ATTEMPTS."""
    sent = [message_id for message_id, ok in outcomes if ok]
    if sent:
        session.execute(
            update(_messages)
            .where(_messages.c.id.in_(sent), _messages.c.status == MessageStatus.PENDING)
            .values(status=MessageStatus.SENT, sent_at=now)
        )
    for message_id, ok in outcomes:
        if ok:
            continue
        attempts = session.execute(
            select(_messages.c.attempts).where(_messages.c.id == message_id)
        ).scalar_one()
        if attempts >= MAX_ATTEMPTS:
            values: dict[str, object] = {"status": MessageStatus.FAILED}
        else:
            delay = min(timedelta(minutes=2 ** (attempts - 1)), timedelta(hours=12))
            values = {"next_attempt_at": now + delay}
        session.execute(
            update(_messages)
            .where(_messages.c.id == message_id, _messages.c.status == MessageStatus.PENDING)
            .values(**values)
        )


def forget_reminders(session: Session, member_id: int) -> None:
    """Closing the account: drop the phone; messages not yet sent are skipped."""
    session.execute(delete(_opt_ins).where(_opt_ins.c.member_id == member_id))
    session.execute(
        update(_messages)
        .where(_messages.c.member_id == member_id, _messages.c.status == MessageStatus.PENDING)
        .values(status=MessageStatus.SKIPPED)
    )
