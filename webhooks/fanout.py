"""Fan-out: each new outbox event becomes one delivery per endpoint that may receive it.

An endpoint receives an event when it subscribes to its type, was registered before the
event happened, and is the operator's or belongs to a partner in the event's audience
(decided with the event, from the member's consents then: CR-10)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.orm import Session

from events.models import OutboxEvent
from webhooks.models import DeliveryStatus, EndpointStatus, WebhookDelivery, WebhookEndpoint

_deliveries = cast(Table, WebhookDelivery.__table__)
# One fan-out at a time on PostgreSQL, so deliveries are created in event order.
FAN_OUT_LOCK = 0x5745_4248


def _fan_out_lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: the write transaction is already the only one
    return bool(
        session.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": FAN_OUT_LOCK}
        ).scalar_one()
    )


def order_key(member_id: int | None) -> str:
    return "" if member_id is None else f"m{member_id}"


def fan_out(session: Session, now: datetime, limit: int = 500) -> int:
    """Fan out up to ``limit`` events, oldest first; returns how many."""
    if not _fan_out_lock(session):
        return 0
    events = session.execute(
        select(
            OutboxEvent.id,
            OutboxEvent.type,
            OutboxEvent.audience,
            OutboxEvent.member_id,
            OutboxEvent.occurred_at,
        )
        .where(OutboxEvent.fanned_out_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(limit)
    ).all()
    if not events:
        return 0
    endpoints = session.execute(
        select(
            WebhookEndpoint.id,
            WebhookEndpoint.partner_id,
            WebhookEndpoint.event_types,
            WebhookEndpoint.created_at,
        ).where(WebhookEndpoint.status == EndpointStatus.ACTIVE)
    ).all()
    subscribed = [
        (e.id, e.partner_id, set(json.loads(e.event_types)), e.created_at) for e in endpoints
    ]
    rows = []
    for event in events:
        audience = set(json.loads(event.audience))
        for endpoint_id, owner, types, created_at in subscribed:
            if event.type not in types or created_at > event.occurred_at:
                continue
            if owner is not None and owner not in audience:
                continue
            rows.append(
                {
                    "endpoint_id": endpoint_id,
                    "event_seq": event.id,
                    "order_key": order_key(event.member_id),
                    "replay_of_id": None,
                    "status": DeliveryStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "lease_until": None,
                    "created_at": now,
                    "delivered_at": None,
                }
            )
    if rows:
        session.execute(_deliveries.insert(), rows)
    session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_([event.id for event in events]))
        .values(fanned_out_at=now)
    )
    return len(events)


def unfanned_events(session: Session) -> int:
    return int(
        session.execute(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.fanned_out_at.is_(None))
        ).scalar_one()
    )
