"""Claiming due deliveries and recording each attempt: at least once, in order per
endpoint and member, with exponential backoff and jitter for up to three days.

A worker claims the earliest PENDING delivery of each (endpoint, member) that is due,
leasing it for ``LEASE`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers
share the work); it posts outside any transaction and records the outcome. A worker
killed mid-post leaves a lease that runs out: the delivery is posted again, with the same
``webhook-id``, which is what at-least-once means."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, exists, func, insert, select, update
from sqlalchemy.orm import Session, aliased

from core import metrics
from events import EventType, emit, global_id
from events.models import OutboxEvent
from webhooks.endpoints import signing_secrets
from webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

_attempts = cast(Table, WebhookAttempt.__table__)
_deliveries = cast(Table, WebhookDelivery.__table__)
_endpoints = cast(Table, WebhookEndpoint.__table__)

LEASE = timedelta(seconds=60)
FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=6)
# A delivery is retried for this long; an endpoint failing for this long is disabled.
GIVE_UP_AFTER = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    endpoint_id: int
    url: str
    event_id: str
    body: str
    secrets: list[str]


def body_of(event: OutboxEvent) -> str:
    """The JSON the receiver gets (Standard Webhooks' ``type``/``timestamp``/``data``)."""
    envelope = {
        "id": event.event_id,
        "type": event.type,
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": json.loads(event.payload),
    }
    if event.partner_id is not None:
        envelope["partnerId"] = global_id("Partner", event.partner_id)
    return json.dumps(envelope, separators=(",", ":"))


def claim(
    session: Session,
    secret_key: str,
    now: datetime,
    limit: int = 50,
    lease: timedelta = LEASE,
) -> list[Job]:
    """Lease up to ``limit`` due deliveries, each the head of its (endpoint, member) line."""
    earlier = aliased(WebhookDelivery)
    head = ~exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.order_key == WebhookDelivery.order_key,
        earlier.status == DeliveryStatus.PENDING,
        earlier.event_seq < WebhookDelivery.event_seq,
    )
    query = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= now,
            (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until <= now),
            WebhookEndpoint.status == EndpointStatus.ACTIVE,
            head,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
    ids = list(session.execute(query).scalars())
    if not ids:
        return []
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id.in_(ids)).values(lease_until=now + lease)
    )
    rows = session.execute(
        select(WebhookDelivery.id, WebhookEndpoint, OutboxEvent)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_seq)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.id)
    ).all()
    return [
        Job(
            delivery_id,
            endpoint.id,
            endpoint.url,
            event.event_id,
            body_of(event),
            signing_secrets(secret_key, endpoint, now),
        )
        for delivery_id, endpoint, event in rows
    ]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to. ``outcome`` is ``delivered``, ``http_error``, ``timeout``,
    ``connect_error``, ``refused_destination`` or ``error``."""

    outcome: str
    status_code: int | None
    latency_ms: int

    @property
    def delivered(self) -> bool:
        return self.outcome == "delivered"


def backoff(attempts: int, rng: random.Random) -> timedelta:
    """Exponential in the attempts made, capped, with jitter: half to the full delay."""
    ceiling: timedelta = min(FIRST_RETRY * 2 ** min(attempts - 1, 20), LONGEST_RETRY)
    jittered: timedelta = ceiling * (0.5 + rng.random() / 2)
    return jittered


def _attempt(delivery_id: int, outcome: Outcome, now: datetime) -> dict[str, object]:
    return {
        "delivery_id": delivery_id,
        "attempted_at": now,
        "outcome": outcome.outcome,
        "status_code": outcome.status_code,
        "latency_ms": outcome.latency_ms,
    }


def record(
    session: Session,
    delivery_id: int,
    outcome: Outcome,
    now: datetime,
    rng: random.Random | None = None,
) -> str:
    """Record an attempt and move the delivery on; returns the delivery's new status."""
    return record_all(session, [(delivery_id, outcome)], now, rng)[0]


def _retry_or_give_up(
    session: Session, delivery_id: int, now: datetime, rng: random.Random | None
) -> str:
    """A failed attempt (already logged): retry later with backoff, or, after three days,
    give the delivery up (and disable an endpoint that failed all along)."""
    delivery = session.get_one(WebhookDelivery, delivery_id)
    endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id)
    delivery.attempts += 1
    delivery.lease_until = None
    if delivery.status != DeliveryStatus.PENDING:
        # A slower claim whose lease ran out: the delivery was settled meanwhile, so this
        # attempt is only logged.
        session.flush()
        return delivery.status
    jitter = rng or random.Random()  # noqa: S311 (jitter, not a secret)
    retry_at = now + backoff(delivery.attempts, jitter)
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    if retry_at - delivery.created_at <= GIVE_UP_AFTER:
        delivery.next_attempt_at = retry_at
    else:
        delivery.status = DeliveryStatus.FAILED
        first_attempt = session.execute(
            select(func.min(WebhookAttempt.attempted_at)).where(
                WebhookAttempt.delivery_id == delivery_id
            )
        ).scalar_one()
        if endpoint.failing_since <= first_attempt:
            _disable_failing(session, endpoint, now)
    session.flush()
    metrics.on_commit(
        session,
        metrics.WEBHOOK_DELIVERIES,
        {"DELIVERED": "delivered", "FAILED": "failed"}.get(str(delivery.status), "retrying"),
    )
    return delivery.status


def record_all(
    session: Session,
    outcomes: list[tuple[int, Outcome]],
    now: datetime,
    rng: random.Random | None = None,
) -> list[str]:
    """Record one round's attempts in one transaction; each delivery's new status.

    Set-based for the common case: one INSERT of every attempt, one UPDATE ... RETURNING
    of every delivered delivery (DELIVERED, unless it was settled meanwhile by a slower
    claim whose lease ran out: then the attempt is only logged), one UPDATE clearing
    ``failing_since`` of the endpoints that accepted a post. Failed attempts, rare when
    things are well, move on one by one (backoff, giving up, disabling)."""
    if not outcomes:
        return []
    session.execute(
        insert(_attempts),
        [_attempt(delivery_id, outcome, now) for delivery_id, outcome in outcomes],
    )
    status: dict[int, str] = {}
    delivered = [delivery_id for delivery_id, outcome in outcomes if outcome.delivered]
    if delivered:
        pending = _deliveries.c.status == DeliveryStatus.PENDING
        rows = session.execute(
            update(_deliveries)
            .where(_deliveries.c.id.in_(delivered))
            .values(
                attempts=_deliveries.c.attempts + 1,
                lease_until=None,
                status=case((pending, DeliveryStatus.DELIVERED.value), else_=_deliveries.c.status),
                delivered_at=case((pending, now), else_=_deliveries.c.delivered_at),
            )
            .returning(_deliveries.c.id, _deliveries.c.status, _deliveries.c.endpoint_id)
        ).all()
        status.update({row.id: row.status for row in rows})
        metrics.on_commit(session, metrics.WEBHOOK_DELIVERIES, "delivered", amount=len(delivered))
        session.execute(
            update(_endpoints)
            .where(
                _endpoints.c.id.in_({row.endpoint_id for row in rows}),
                _endpoints.c.failing_since.is_not(None),
            )
            .values(failing_since=None)
        )
    for delivery_id, outcome in outcomes:
        if not outcome.delivered:
            status[delivery_id] = _retry_or_give_up(session, delivery_id, now, rng)
    # A delivery no longer there reads as settled (nothing more to post).
    return [status.get(delivery_id, DeliveryStatus.DELIVERED) for delivery_id, _ in outcomes]


def _disable_failing(session: Session, endpoint: WebhookEndpoint, now: datetime) -> None:
    """An endpoint that failed every attempt while one delivery was retried for three days
    (no success in between) is disabled, and the operator hears of it (its owner sees the
    status in ``webhookEndpoints``)."""
    if endpoint.status != EndpointStatus.ACTIVE:
        return
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_at = now
    endpoint.disabled_reason = "FAILING"
    payload: dict[str, str | None] = {
        "endpointId": global_id("WebhookEndpoint", endpoint.id),
        "partnerId": None
        if endpoint.partner_id is None
        else global_id("Partner", endpoint.partner_id),
        "failingSince": endpoint.failing_since.isoformat() if endpoint.failing_since else None,
    }
    emit(
        session,
        EventType.WEBHOOK_ENDPOINT_DISABLED,
        now=now,
        payload=payload,
        partner_id=endpoint.partner_id,
    )


def pending_count(session: Session) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING)
        ).scalar_one()
    )
