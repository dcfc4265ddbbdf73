"""Consent after registration, given by the member (CR-10; PIPL Art. 14, 15, 29).

A partner asks (``request_consent``): which partner, what data, whether the credit level
too, and why. The person with that phone is notified and answers in the alliance's app
(``answer_consent_request``), or gives the partner the code sent with the request, which
the partner submits (``confirm_consent``). A partner's own word is never consent. Asking
answers the same whether or not the phone belongs to a member. Every grant, denial and
withdrawal is kept as evidence (``ConsentEvent``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import keyed_hash
from core.notify import Notification
from events import EventType
from members.codes import (
    DEFAULT_BUDGETS,
    SendBudgets,
    check_served,
    issue_code,
    partner_sender,
    phone_budget,
    redeem_code,
)
from members.errors import MemberError, MemberNotFound
from members.events import emit_consent_event
from members.models import (
    CodePurpose,
    Consent,
    ConsentAction,
    ConsentChannel,
    ConsentRequest,
    ConsentRequestStatus,
    Member,
    MemberStatus,
)
from members.registration import (
    PHONE_PURPOSE,
    link_consent,
    normalise_phone,
    partner_name,
    record_consent_event,
)
from partners.models import Partner

REQUEST_TTL = timedelta(days=7)
MEMBERSHIP_DATA = "your points balance, lots and history"


class ConsentRequestNotFound(MemberError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such consent request of yours", ["requestId"])


class ConsentRequestClosed(MemberError):
    code = "CONFLICT"

    def __init__(self, reason: str) -> None:
        super().__init__(f"this consent request is {reason}", ["requestId"])


class ConsentFromMemberRequired(MemberError):
    """``recordMemberConsent`` let a partner state consent on the member's behalf; it is
    refused whatever it names, so it tells nothing about requests or phones."""

    code = "CONSENT_FROM_MEMBER_REQUIRED"

    def __init__(self) -> None:
        super().__init__(
            "a partner cannot record consent: the member approves your request in the "
            "alliance app, or gives you the code sent to their phone, which you submit "
            "with confirmMemberConsent"
        )


class NoMemberWithThisPhone(MemberError):
    """Only reachable with the right code, i.e. with the phone holder's own help."""

    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__(
            "the phone holder is not a member yet; register them with registerMember",
            ["requestId"],
        )


@dataclass(frozen=True, slots=True)
class ConsentRequestView:
    id: int
    status: str
    credit_level: bool
    requested_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    member_id: int | None
    partner_id: int
    purpose: str


@dataclass(frozen=True, slots=True)
class RequestedConsent:
    request: ConsentRequestView
    notification: Notification


def _view(row: ConsentRequest) -> ConsentRequestView:
    return ConsentRequestView(
        row.id,
        row.status,
        row.credit_level,
        row.requested_at,
        row.expires_at,
        row.answered_at,
        row.member_id,
        row.partner_id,
        row.purpose or "",
    )


def _text(value: str, field: str, limit: int) -> str:
    if not value.strip() or len(value) > limit:
        raise MemberError(f"{field} must be 1-{limit} characters", [field])
    return value.strip()


def request_consent(
    session: Session,
    secret_key: str,
    *,
    partner_id: int,
    phone: str,
    external_ref: str,
    credit_level: bool,
    purpose: str,
    now: datetime,
    budgets: SendBudgets = DEFAULT_BUDGETS,
) -> RequestedConsent:
    """Record what the partner asks of the person with this phone, and the message that
    tells them (with a code they may hand to the partner). Whether the phone belongs to a
    member changes nothing in the answer."""
    normalised = normalise_phone(phone)
    check_served(normalised, budgets)
    request = ConsentRequest(
        partner_id=partner_id,
        phone_hash=keyed_hash(secret_key, PHONE_PURPOSE, normalised),
        external_ref=_text(external_ref, "externalRef", 128),
        credit_level=credit_level,
        purpose=_text(purpose, "purpose", 200),
        status=ConsentRequestStatus.PENDING,
        requested_at=now,
        expires_at=now + REQUEST_TTL,
    )
    session.add(request)
    session.flush()
    issued = issue_code(
        session,
        secret_key,
        purpose=CodePurpose.CONSENT,
        subject_id=request.id,
        phone_hash=request.phone_hash,
        budget=phone_budget(CodePurpose.CONSENT, partner_id),
        sender=partner_sender(partner_id),
        now=now,
        budgets=budgets,
    )
    data = MEMBERSHIP_DATA + (" and your credit level" if credit_level else "")
    text = (
        f"{partner_name(session, partner_id)} asks to see {data}, for: {request.purpose}. "
        f"Approve or deny in the alliance app, or give them this code to approve: "
        f"{issued.code} (valid 5 minutes)."
    )
    return RequestedConsent(
        _view(request), Notification(to=normalised, kind="consent", text=text, code=issued.code)
    )


def refuse_partner_recorded_consent() -> None:
    raise ConsentFromMemberRequired()


def _open_request(
    session: Session, request: ConsentRequest | None, now: datetime
) -> ConsentRequest:
    if request is None:
        raise ConsentRequestNotFound()
    if request.status != ConsentRequestStatus.PENDING:
        raise ConsentRequestClosed(f"already {request.status.lower()}")
    if request.expires_at <= now:
        raise ConsentRequestClosed("expired; ask again")
    return request


def _answer(
    session: Session,
    request: ConsentRequest,
    member_id: int,
    *,
    grant: bool,
    channel: str,
    client_id: str | None,
    now: datetime,
) -> ConsentRequestView:
    if grant:
        link_consent(
            session, member_id, request.partner_id, request.external_ref, request.credit_level, now
        )
    request.status = ConsentRequestStatus.GRANTED if grant else ConsentRequestStatus.DECLINED
    request.answered_at = now
    request.member_id = member_id
    request.channel = channel
    request.evidence_ref = f"{channel.lower()}:{client_id}" if client_id else channel.lower()
    record_consent_event(
        session,
        member_id=member_id,
        partner_id=request.partner_id,
        request_id=request.id,
        action=ConsentAction.GRANTED if grant else ConsentAction.DENIED,
        credit_level=request.credit_level,
        channel=channel,
        client_id=client_id,
        now=now,
    )
    session.flush()
    return _view(request)


def confirm_consent(
    session: Session,
    secret_key: str,
    *,
    partner_id: int,
    request_id: int,
    code: str,
    client_id: str | None,
    now: datetime,
) -> ConsentRequestView | None:
    """The partner submits the code the member gave it: the member's grant, by the
    SMS_CODE channel. None for a wrong code (commit anyway, so the attempt counts)."""
    request = _open_request(
        session,
        session.execute(
            select(ConsentRequest)
            .where(ConsentRequest.id == request_id, ConsentRequest.partner_id == partner_id)
            .with_for_update()
        ).scalar_one_or_none(),
        now,
    )
    if not redeem_code(
        session, secret_key, purpose=CodePurpose.CONSENT, subject_id=request.id, code=code, now=now
    ):
        return None
    member_id = session.execute(
        select(Member.id).where(
            Member.phone_hash == request.phone_hash, Member.status == MemberStatus.ACTIVE
        )
    ).scalar_one_or_none()
    if member_id is None:
        raise NoMemberWithThisPhone()
    return _answer(
        session,
        request,
        member_id,
        grant=True,
        channel=ConsentChannel.SMS_CODE,
        client_id=client_id,
        now=now,
    )


def _members_request(session: Session, member_id: int, request_id: int) -> ConsentRequest | None:
    """A request addressed to this member's phone (anyone else's reads as not found)."""
    return session.execute(
        select(ConsentRequest)
        .join(Member, Member.phone_hash == ConsentRequest.phone_hash)
        .where(ConsentRequest.id == request_id, Member.id == member_id)
        .with_for_update(of=ConsentRequest)
    ).scalar_one_or_none()


def answer_consent_request(
    session: Session, *, member_id: int, request_id: int, approve: bool, now: datetime
) -> ConsentRequestView:
    """The signed-in member approves or denies a request in the app (channel APP)."""
    request = _open_request(session, _members_request(session, member_id, request_id), now)
    return _answer(
        session,
        request,
        member_id,
        grant=approve,
        channel=ConsentChannel.APP,
        client_id=None,
        now=now,
    )


def pending_requests(session: Session, member_id: int, now: datetime) -> list[ConsentRequestView]:
    rows = session.execute(
        select(ConsentRequest)
        .join(Member, Member.phone_hash == ConsentRequest.phone_hash)
        .where(
            Member.id == member_id,
            ConsentRequest.status == ConsentRequestStatus.PENDING,
            ConsentRequest.expires_at > now,
        )
        .order_by(ConsentRequest.id)
        .limit(100)
    ).scalars()
    return [_view(row) for row in rows]


def _withdraw(
    session: Session,
    consent: Consent | None,
    *,
    credit_level_only: bool,
    channel: str,
    client_id: str | None,
    now: datetime,
) -> int:
    if consent is None:
        raise MemberNotFound()
    record_consent_event(
        session,
        member_id=consent.member_id,
        partner_id=consent.partner_id,
        request_id=None,
        action=ConsentAction.WITHDRAWN,
        credit_level=consent.credit_level,
        credit_level_only=credit_level_only,
        channel=channel,
        client_id=client_id,
        now=now,
    )
    consent.credit_level = False
    if not credit_level_only:
        consent.revoked_at = now
    session.flush()
    emit_consent_event(
        session,
        EventType.CONSENT_WITHDRAWN,
        member_id=consent.member_id,
        partner_id=consent.partner_id,
        payload={
            "externalRef": consent.external_ref,
            "scope": "CREDIT_LEVEL" if credit_level_only else "PARTNERSHIP",
        },
        now=now,
    )
    return consent.member_id


def _live_consent(session: Session, member_id: int, partner_id: int) -> Consent | None:
    return session.execute(
        select(Consent)
        .where(
            Consent.partner_id == partner_id,
            Consent.member_id == member_id,
            Consent.revoked_at.is_(None),
        )
        .with_for_update()
    ).scalar_one_or_none()


def revoke_consent(
    session: Session,
    *,
    partner_id: int,
    member_id: int,
    credit_level_only: bool,
    now: datetime,
    client_id: str | None = None,
) -> int:
    """The partner records that the member withdrew consent from it: to their credit level
    only, or to the partnership (after which the partner no longer sees or serves them)."""
    return _withdraw(
        session,
        _live_consent(session, member_id, partner_id),
        credit_level_only=credit_level_only,
        channel=ConsentChannel.PARTNER,
        client_id=client_id,
        now=now,
    )


class PartnerNotConsented(MemberError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("you have no consent to that partner", ["partnerCode"])


def withdraw_consent(
    session: Session, *, member_id: int, partner_code: str, credit_level_only: bool, now: datetime
) -> int:
    """The signed-in member withdraws their consent in the app (PIPL Art. 15): as easy as
    the grant, and effective for the partner's next read."""
    partner_id = session.execute(
        select(Partner.id).where(Partner.code == partner_code)
    ).scalar_one_or_none()
    consent = None if partner_id is None else _live_consent(session, member_id, partner_id)
    if consent is None:
        raise PartnerNotConsented()
    return _withdraw(
        session,
        consent,
        credit_level_only=credit_level_only,
        channel=ConsentChannel.APP,
        client_id=None,
        now=now,
    )
