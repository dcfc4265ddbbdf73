"""The outbox table: one row per event, insert-only but for the fan-out mark and the
erasure of a closed member's references (events.outbox.erase_member_references)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, one_of
from events.types import EventType

BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    """An event. ``audience`` is the JSON list of partner ids allowed to receive it,
    decided in the transaction that wrote it (CR-10: consent at the time of the event);
    the operator receives every event. ``fanned_out_at`` is set once the worker has made
    a delivery for each subscribed endpoint."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        one_of("type", EventType),
        Index(
            "ix_outbox_events_pending_fan_out",
            "id",
            postgresql_where=text("fanned_out_at IS NULL"),
            sqlite_where=text("fanned_out_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    # What the event is about, when that can happen only once (a hold's void, a member's
    # notice of the day): a replayed or re-run job writes no second event.
    once_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    partner_id: Mapped[int | None] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(BigInteger)
    audience: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
