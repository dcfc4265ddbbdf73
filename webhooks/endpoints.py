"""Managing webhook endpoints: create (the secret is shown once), list, rotate the secret
with a grace period, disable; the delivery log and replays. A partner reaches only its own
endpoints (``owner`` is its id); the operator's are those with no partner (``owner`` None).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.errors import ComplianceViolation
from compliance.rules import member_visible
from core.crypto import seal, unseal
from events import EventType
from events.models import OutboxEvent
from events.types import OPERATOR_ONLY
from members.models import Consent
from webhooks.destinations import parse_destination
from webhooks.errors import DeliveryNotFound, EndpointNotFound, WebhookError
from webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

SECRET_PURPOSE = "webhook-signing-secret"
MAX_ENDPOINTS = 20


@dataclass(frozen=True, slots=True)
class EndpointView:
    id: int
    url: str
    event_types: list[str]
    status: str
    created_at: datetime
    disabled_reason: str | None


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: EndpointView
    secret: str


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def seal_secret(secret_key: str, secret: str) -> str:
    return seal(secret_key, SECRET_PURPOSE, secret.encode())


def unseal_secret(secret_key: str, sealed: str) -> str:
    return unseal(secret_key, SECRET_PURPOSE, sealed).decode()


def _view(row: WebhookEndpoint) -> EndpointView:
    return EndpointView(
        row.id,
        row.url,
        json.loads(row.event_types),
        row.status,
        row.created_at,
        row.disabled_reason,
    )


def _event_types(names: list[str], operator: bool) -> list[str]:
    known = {t.value for t in EventType}
    unknown = sorted(set(names) - known)
    if unknown or not names:
        raise WebhookError(
            f"unknown event types: {', '.join(unknown) or 'none given'}", ["eventTypes"]
        )
    if not operator:
        reserved = sorted(set(names) & {t.value for t in OPERATOR_ONLY})
        if reserved:
            raise WebhookError(f"only the operator receives {', '.join(reserved)}", ["eventTypes"])
    return sorted(set(names))


def _owned(session: Session, owner: int | None, endpoint_id: int) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    query = query.where(
        WebhookEndpoint.partner_id.is_(None)
        if owner is None
        else WebhookEndpoint.partner_id == owner
    )
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise EndpointNotFound()
    return row


def create_endpoint(
    session: Session,
    secret_key: str,
    *,
    owner: int | None,
    url: str,
    event_types: list[str],
    production: bool,
    now: datetime,
) -> CreatedEndpoint:
    """Register an endpoint. The caller has already checked where ``url`` resolves
    (``check_destination``, async); the URL's form is checked here again."""
    parse_destination(url, production=production)
    types = _event_types(event_types, operator=owner is None)
    mine = select(WebhookEndpoint.id).where(
        WebhookEndpoint.status == EndpointStatus.ACTIVE,
        WebhookEndpoint.partner_id.is_(None)
        if owner is None
        else WebhookEndpoint.partner_id == owner,
    )
    if len(session.execute(mine).all()) >= MAX_ENDPOINTS:
        raise WebhookError(f"at most {MAX_ENDPOINTS} active endpoints", ["url"])
    secret = new_secret()
    row = WebhookEndpoint(
        partner_id=owner,
        url=url,
        event_types=json.dumps(types),
        secret_sealed=seal_secret(secret_key, secret),
        status=EndpointStatus.ACTIVE,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return CreatedEndpoint(_view(row), secret)


def endpoints_page(
    session: Session, owner: int | None, *, limit: int, after_id: int | None
) -> list[EndpointView]:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.partner_id.is_(None)
        if owner is None
        else WebhookEndpoint.partner_id == owner
    )
    if after_id is not None:
        query = query.where(WebhookEndpoint.id > after_id)
    rows = session.execute(query.order_by(WebhookEndpoint.id).limit(limit + 1)).scalars()
    return [_view(row) for row in rows]


def rotate_secret(
    session: Session,
    secret_key: str,
    *,
    owner: int | None,
    endpoint_id: int,
    grace: timedelta,
    now: datetime,
) -> CreatedEndpoint:
    """A new signing secret; the old one keeps signing (beside the new) for ``grace``, so
    the receiver can switch without a gap."""
    row = _owned(session, owner, endpoint_id)
    secret = new_secret()
    row.previous_secret_sealed = row.secret_sealed
    row.previous_secret_until = now + grace
    row.secret_sealed = seal_secret(secret_key, secret)
    session.flush()
    return CreatedEndpoint(_view(row), secret)


def disable_endpoint(
    session: Session, *, owner: int | None, endpoint_id: int, now: datetime
) -> EndpointView:
    row = _owned(session, owner, endpoint_id)
    if row.status == EndpointStatus.ACTIVE:
        row.status = EndpointStatus.DISABLED
        row.disabled_at = now
        row.disabled_reason = "BY_OWNER"
        session.flush()
    return _view(row)


def signing_secrets(secret_key: str, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    found = [unseal_secret(secret_key, endpoint.secret_sealed)]
    if (
        endpoint.previous_secret_sealed is not None
        and endpoint.previous_secret_until is not None
        and endpoint.previous_secret_until > now
    ):
        found.append(unseal_secret(secret_key, endpoint.previous_secret_sealed))
    return found


@dataclass(frozen=True, slots=True)
class AttemptView:
    attempted_at: datetime
    outcome: str
    status_code: int | None
    latency_ms: int


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    event_id: str
    event_type: str
    status: str
    attempts: list[AttemptView]
    next_attempt_at: datetime | None
    delivered_at: datetime | None


def deliveries_page(
    session: Session,
    *,
    owner: int | None,
    endpoint_id: int,
    limit: int,
    before_id: int | None,
) -> list[DeliveryView]:
    """The endpoint's deliveries, newest first, each with its attempts (no bodies)."""
    _owned(session, owner, endpoint_id)
    query = (
        select(WebhookDelivery, OutboxEvent.event_id, OutboxEvent.type)
        .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.event_seq)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
    )
    if before_id is not None:
        query = query.where(WebhookDelivery.id < before_id)
    rows = session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit + 1)).all()
    ids = [delivery.id for delivery, _, _ in rows]
    attempts: dict[int, list[AttemptView]] = {i: [] for i in ids}
    if ids:
        for attempt in session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.id)
        ).scalars():
            attempts[attempt.delivery_id].append(
                AttemptView(
                    attempt.attempted_at, attempt.outcome, attempt.status_code, attempt.latency_ms
                )
            )
    return [
        DeliveryView(
            delivery.id,
            event_id,
            event_type,
            delivery.status,
            attempts[delivery.id],
            delivery.next_attempt_at if delivery.status == DeliveryStatus.PENDING else None,
            delivery.delivered_at,
        )
        for delivery, event_id, event_type in rows
    ]


def _refuse_replay_without_consent(
    session: Session, partner_id: int | None, event_seq: int
) -> None:
    """A partner hears about a member only while the member consents to it (CR-10): an
    event about a member is sent again only if that consent stands now. The withdrawal's
    own notice is the exception: it is the last thing the partner hears about the member."""
    if partner_id is None:
        return  # the operator's endpoints
    event = session.execute(
        select(OutboxEvent.type, OutboxEvent.member_id).where(OutboxEvent.id == event_seq)
    ).one()
    if event.member_id is None or event.type == EventType.CONSENT_WITHDRAWN:
        return
    consenting = session.execute(
        select(Consent.id).where(
            Consent.member_id == event.member_id,
            Consent.partner_id == partner_id,
            Consent.revoked_at.is_(None),
        )
    ).first()
    refused = member_visible(consenting is not None)
    if refused is not None:
        raise ComplianceViolation(refused, ["deliveryId"])


def replay_delivery(session: Session, *, owner: int | None, delivery_id: int, now: datetime) -> int:
    """Send a delivery's event again, as a new delivery with the same ``webhook-id`` (the
    receiver's de-duplication decides whether to act on it again). Returns its id."""
    found = session.execute(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    ).scalar_one_or_none()
    if found is None:
        raise DeliveryNotFound()
    try:
        endpoint = _owned(session, owner, found.endpoint_id)
    except EndpointNotFound:
        raise DeliveryNotFound() from None
    if endpoint.status != EndpointStatus.ACTIVE:
        raise WebhookError("the endpoint is disabled", ["deliveryId"])
    _refuse_replay_without_consent(session, endpoint.partner_id, found.event_seq)
    replay = WebhookDelivery(
        endpoint_id=found.endpoint_id,
        event_seq=found.event_seq,
        order_key=found.order_key,
        replay_of_id=found.id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(replay)
    session.flush()
    return replay.id
