"""Consent after registration (CR-10): a partner asks a member for consent, then records
the member's answer with its evidence; a member may withdraw consent through a partner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.crypto import keyed_hash
from events import EventType
from members.errors import MemberError, MemberNotFound
from members.events import emit_consent_event
from members.models import Consent, ConsentRequest, ConsentRequestStatus, Member
from members.registration import PHONE_PURPOSE, link_consent, normalise_phone

REQUEST_TTL = timedelta(days=7)


class ConsentRequestNotFound(MemberError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such consent request of yours", ["requestId"])


class ConsentRequestClosed(MemberError):
    code = "CONFLICT"

    def __init__(self, reason: str) -> None:
        super().__init__(f"this consent request is {reason}", ["requestId"])


@dataclass(frozen=True, slots=True)
class ConsentRequestView:
    id: int
    status: str
    credit_level: bool
    requested_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    member_id: int | None


def _view(row: ConsentRequest) -> ConsentRequestView:
    return ConsentRequestView(
        row.id,
        row.status,
        row.credit_level,
        row.requested_at,
        row.expires_at,
        row.answered_at,
        row.member_id,
    )


def _reference(value: str, field: str) -> str:
    if not value.strip() or len(value) > 128:
        raise MemberError(f"{field} must be 1-128 characters", [field])
    return value.strip()


def request_consent(
    session: Session,
    secret_key: str,
    *,
    partner_id: int,
    phone: str,
    external_ref: str,
    credit_level: bool,
    now: datetime,
) -> ConsentRequestView:
    """Record what the partner asks of the person with this phone: consent to the
    partnership, and with ``credit_level`` also to their credit level. Whether the phone
    belongs to a member is not revealed here."""
    request = ConsentRequest(
        partner_id=partner_id,
        phone_hash=keyed_hash(secret_key, PHONE_PURPOSE, normalise_phone(phone)),
        external_ref=_reference(external_ref, "externalRef"),
        credit_level=credit_level,
        status=ConsentRequestStatus.PENDING,
        requested_at=now,
        expires_at=now + REQUEST_TTL,
    )
    session.add(request)
    session.flush()
    return _view(request)


def record_consent(
    session: Session,
    *,
    partner_id: int,
    request_id: int,
    granted: bool,
    evidence_ref: str,
    now: datetime,
) -> ConsentRequestView:
    """Record the member's answer to a pending request of this partner, with the partner's
    reference to its evidence (a signed form, an in-app confirmation). A grant links the
    member to the partner as asked; it needs an existing member (``registerMember``
    creates new ones)."""
    evidence = _reference(evidence_ref, "evidenceRef")
    request = session.execute(
        select(ConsentRequest).where(
            ConsentRequest.id == request_id, ConsentRequest.partner_id == partner_id
        )
    ).scalar_one_or_none()
    if request is None:
        raise ConsentRequestNotFound()
    if request.status != ConsentRequestStatus.PENDING:
        raise ConsentRequestClosed(f"already {request.status.lower()}")
    if request.expires_at <= now:
        raise ConsentRequestClosed("expired; ask again")
    member_id = None
    if granted:
        member_id = session.execute(
            select(Member.id).where(Member.phone_hash == request.phone_hash)
        ).scalar_one_or_none()
        if member_id is None:
            raise MemberError(
                "no member has this phone; register them with registerMember", ["requestId"]
            )
        link_consent(
            session, member_id, partner_id, request.external_ref, request.credit_level, now
        )
    answered = session.execute(
        update(ConsentRequest)
        .where(
            ConsentRequest.id == request_id,
            ConsentRequest.status == ConsentRequestStatus.PENDING,
        )
        .values(
            status=ConsentRequestStatus.GRANTED if granted else ConsentRequestStatus.DECLINED,
            answered_at=now,
            evidence_ref=evidence,
            member_id=member_id,
        )
        .returning(ConsentRequest.id)
    ).first()
    if answered is None:
        raise ConsentRequestClosed("already answered")
    session.refresh(request)
    return _view(request)


def revoke_consent(
    session: Session, *, partner_id: int, member_id: int, credit_level_only: bool, now: datetime
) -> int:
    """The member withdraws consent from this partner: to their credit level only, or to
    the partnership (after which the partner no longer sees or serves the member)."""
    consent = session.execute(
        select(Consent).where(
            Consent.partner_id == partner_id,
            Consent.member_id == member_id,
            Consent.revoked_at.is_(None),
        )
    ).scalar_one_or_none()
    if consent is None:
        raise MemberNotFound()
    consent.credit_level = False
    if not credit_level_only:
        consent.revoked_at = now
    session.flush()
    emit_consent_event(
        session,
        EventType.CONSENT_WITHDRAWN,
        member_id=member_id,
        partner_id=partner_id,
        payload={
            "externalRef": consent.external_ref,
            "scope": "CREDIT_LEVEL" if credit_level_only else "PARTNERSHIP",
        },
        now=now,
    )
    return member_id
