"""Registering members: one person (one phone) is one member, linked by consent to each
partner that registers them (CR-10)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import ledger
from compliance.errors import ComplianceViolation
from compliance.rules import active_partner, consent_given, identified_member
from core.crypto import keyed_hash
from core.notify import Notification
from events import EventType
from ledger.accounts import member as member_account
from ledger.models import Account
from members.benefits import consent_to_credit_benefits
from members.codes import (
    DEFAULT_BUDGETS,
    SendBudgets,
    check_served,
    issue_code,
    partner_sender,
    phone_budget,
    redeem_code,
)
from members.errors import ExternalRefTaken, InvalidPhone, MemberError, MemberNotFound
from members.events import emit_consent_event
from members.models import (
    CodePurpose,
    Consent,
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    CreditLevel,
    Member,
    MemberStatus,
    Registration,
    RegistrationStatus,
)
from partners.models import Partner

PHONE_PURPOSE = "member-phone"
_PHONE = re.compile(r"^\+?\d{6,15}$")
_MAINLAND_MOBILE = re.compile(r"^1\d{10}$")


def normalise_phone(raw: str) -> str:
    """E.164-like: separators dropped; an 11-digit mainland mobile gets +86."""
    compact = re.sub(r"[\s\-().]", "", raw)
    if not _PHONE.fullmatch(compact):
        raise InvalidPhone()
    if _MAINLAND_MOBILE.fullmatch(compact):
        return f"+86{compact}"
    return compact if compact.startswith("+") else f"+{compact}"


REGISTRATION_TTL = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class StartedRegistration:
    """What the partner sees (the request and a PENDING member, the same whether or not
    the phone already belongs to someone) and the message for the phone."""

    request_id: int
    member_id: int
    notification: Notification


class RegistrationNotFound(MemberError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such registration of yours", ["requestId"])


class RegistrationClosed(MemberError):
    code = "CONFLICT"

    def __init__(self, reason: str) -> None:
        super().__init__(f"this registration is {reason}", ["requestId"])


def partner_name(session: Session, partner_id: int) -> str:
    return session.execute(select(Partner.name).where(Partner.id == partner_id)).scalar_one()


def start_registration(
    session: Session,
    secret_key: str,
    *,
    partner_id: int,
    external_ref: str,
    phone: str,
    display_name: str | None,
    consent: bool,
    now: datetime,
    identity_verified: bool = True,
    credit_level_consent: bool = False,
    budgets: SendBudgets = DEFAULT_BUDGETS,
    credit_benefits_consent: bool = False,
) -> StartedRegistration:
    """Start registering the person with this phone, and send them a code.

    The person proves the phone (and gives their consent to this partner, CR-10) by the
    code: in the app, or by telling it to the partner, who submits it with
    ``confirm_registration``. Until then the member is PENDING and receives nothing
    (CR-03). The answer is a fresh PENDING member whether or not the phone already
    belongs to a member, so registering cannot test phone numbers. With
    ``identity_verified`` the partner also attests it checked the person's identity."""
    violation = consent_given(consent)
    if violation is not None:
        raise ComplianceViolation(violation, ["consent"])
    if not external_ref.strip() or len(external_ref) > 128:
        raise MemberError("externalRef must be 1-128 characters", ["externalRef"])
    if display_name is not None and len(display_name) > 100:
        raise MemberError("displayName must be at most 100 characters", ["displayName"])
    normalised = normalise_phone(phone)
    check_served(normalised, budgets)
    phone_hash = keyed_hash(secret_key, PHONE_PURPOSE, normalised)
    member = Member(
        phone_hash=None, display_name=display_name, status=MemberStatus.PENDING, created_at=now
    )
    session.add(member)
    session.flush()
    registration = Registration(
        partner_id=partner_id,
        member_id=member.id,
        phone_hash=phone_hash,
        external_ref=external_ref,
        identity_verified=identity_verified,
        credit_level_consent=credit_level_consent,
        credit_benefits_consent=credit_benefits_consent,
        status=RegistrationStatus.PENDING,
        created_at=now,
        expires_at=now + REGISTRATION_TTL,
    )
    session.add(registration)
    session.flush()
    issued = issue_code(
        session,
        secret_key,
        purpose=CodePurpose.REGISTRATION,
        subject_id=registration.id,
        phone_hash=phone_hash,
        budget=phone_budget(CodePurpose.REGISTRATION, partner_id),
        sender=partner_sender(partner_id),
        now=now,
        budgets=budgets,
    )
    shared = " and your credit level" if credit_level_consent else ""
    benefits = (
        " You also agree that your credit level raises your points by the alliance's "
        "published credit schedule (you can turn this off in the app)."
        if credit_benefits_consent
        else ""
    )
    text = (
        f"{partner_name(session, partner_id)} registers you in the points alliance and asks "
        f"to see your points{shared}.{benefits} Your code: {issued.code} (valid 5 minutes). "
        "Give it to them only if you agree."
    )
    return StartedRegistration(
        registration.id,
        member.id,
        Notification(to=normalised, kind="registration", text=text, code=issued.code),
    )


def confirm_registration(
    session: Session,
    secret_key: str,
    *,
    partner_id: int,
    request_id: int,
    code: str,
    client_id: str | None,
    now: datetime,
) -> int | None:
    """The member's id once the code proves the phone; None for a wrong code (commit
    anyway, so the attempt counts). A phone that already belongs to a member links that
    member, and the PENDING placeholder is dropped: one person, one member."""
    registration = session.execute(
        select(Registration)
        .where(Registration.id == request_id, Registration.partner_id == partner_id)
        .with_for_update()
    ).scalar_one_or_none()
    if registration is None:
        raise RegistrationNotFound()
    if registration.status != RegistrationStatus.PENDING:
        raise RegistrationClosed("already confirmed")
    if registration.expires_at <= now:
        raise RegistrationClosed("expired; register again")
    if not redeem_code(
        session,
        secret_key,
        purpose=CodePurpose.REGISTRATION,
        subject_id=registration.id,
        code=code,
        now=now,
    ):
        return None
    assert registration.phone_hash is not None
    assert registration.member_id is not None
    member_id = _claim_phone(session, registration.member_id, registration.phone_hash, now)
    if registration.identity_verified:
        session.execute(
            update(Member)
            .where(Member.id == member_id, Member.identity_attested_at.is_(None))
            .values(identity_attested_at=now, attested_by_partner_id=partner_id)
        )
    link_consent(
        session,
        member_id,
        partner_id,
        registration.external_ref,
        registration.credit_level_consent,
        now,
    )
    record_consent_event(
        session,
        member_id=member_id,
        partner_id=partner_id,
        request_id=None,
        action=ConsentAction.GRANTED,
        credit_level=registration.credit_level_consent,
        channel=ConsentChannel.SMS_CODE,
        client_id=client_id,
        now=now,
    )
    if registration.credit_benefits_consent:
        consent_to_credit_benefits(session, member_id, now)
    registration.status = RegistrationStatus.CONFIRMED
    registration.confirmed_at = now
    registration.member_id = member_id
    session.flush()
    return member_id


def _claim_phone(session: Session, placeholder_id: int, phone_hash: str, now: datetime) -> int:
    """The member with this phone: the existing one (the placeholder is removed), or the
    placeholder itself, now ACTIVE with its ledger accounts."""
    existing = session.execute(
        select(Member.id).where(Member.phone_hash == phone_hash)
    ).scalar_one_or_none()
    if existing is None:
        try:
            with session.begin_nested():
                session.execute(
                    update(Member)
                    .where(Member.id == placeholder_id)
                    .values(phone_hash=phone_hash, status=MemberStatus.ACTIVE)
                )
        except IntegrityError:  # another registration of this phone confirmed meanwhile
            existing = session.execute(
                select(Member.id).where(Member.phone_hash == phone_hash)
            ).scalar_one()
        else:
            ledger.open_member_accounts(session, placeholder_id, now)
            return placeholder_id
    session.execute(
        update(Registration)
        .where(Registration.member_id == placeholder_id)
        .values(member_id=existing)
    )
    session.execute(delete(Member).where(Member.id == placeholder_id))
    return existing


def record_consent_event(
    session: Session,
    *,
    member_id: int,
    partner_id: int,
    request_id: int | None,
    action: str,
    credit_level: bool,
    channel: str,
    client_id: str | None,
    now: datetime,
    credit_level_only: bool = False,
) -> None:
    """Keep the evidence of a grant, denial or withdrawal (who, when, which channel)."""
    session.add(
        ConsentEvent(
            member_id=member_id,
            partner_id=partner_id,
            request_id=request_id,
            action=action,
            credit_level=credit_level,
            credit_level_only=credit_level_only,
            channel=channel,
            client_id=client_id,
            at=now,
        )
    )
    session.flush()


def link_consent(
    session: Session,
    member_id: int,
    partner_id: int,
    external_ref: str,
    credit_level: bool,
    now: datetime,
) -> None:
    """Record the member's consent to the partner. A later consent never withdraws a
    credit-level consent already given; only ``revoke_consent`` does."""
    existing = session.execute(
        select(Consent).where(
            Consent.partner_id == partner_id, Consent.external_ref == external_ref
        )
    ).scalar_one_or_none()
    if existing is not None and existing.member_id != member_id:
        raise ExternalRefTaken()
    consent = session.execute(
        select(Consent).where(Consent.member_id == member_id, Consent.partner_id == partner_id)
    ).scalar_one_or_none()
    if consent is None:
        granted = True
        session.add(
            Consent(
                member_id=member_id,
                partner_id=partner_id,
                external_ref=external_ref,
                credit_level=credit_level,
                granted_at=now,
            )
        )
    else:
        previous = (consent.revoked_at is None, consent.credit_level)
        consent.credit_level = credit_level or (consent.credit_level and consent.revoked_at is None)
        consent.external_ref = external_ref
        consent.revoked_at = None
        consent.granted_at = now
        granted = previous != (True, consent.credit_level)
    session.flush()
    if granted:
        emit_consent_event(
            session,
            EventType.CONSENT_GRANTED,
            member_id=member_id,
            partner_id=partner_id,
            payload={"externalRef": external_ref, "creditLevel": credit_level},
            now=now,
        )


def member_of(session: Session, partner_id: int | None, member_id: int) -> Member | None:
    """The member, if the partner holds their consent (any member for the operator, None)."""
    query = select(Member).where(Member.id == member_id)
    if partner_id is not None:
        query = query.join(Consent, Consent.member_id == Member.id).where(
            Consent.partner_id == partner_id, Consent.revoked_at.is_(None)
        )
    return session.execute(query).scalar_one_or_none()


def identified(session: Session, partner_id: int, member_id: int) -> Member:
    """CR-03: the active, identity-attested member registered with this partner. An
    unknown id and another partner's member are refused alike."""
    member = member_of(session, partner_id, member_id)
    violation = identified_member(
        member is not None,
        None if member is None else member.status,
        member is not None and member.identity_attested_at is not None,
    )
    if violation is not None:
        raise ComplianceViolation(violation, ["memberId"])
    assert member is not None
    return member


def consented_member(session: Session, partner_id: int | None, member_id: int) -> Member:
    """The member, if the partner holds their consent; anything else reads as not found.
    A closed member's points are frozen: the member can be seen but not spend (CR-03)."""
    member = member_of(session, partner_id, member_id)
    if member is None:
        raise MemberNotFound()
    if member.status != MemberStatus.ACTIVE:
        violation = identified_member(True, member.status, True)
        assert violation is not None
        raise ComplianceViolation(violation, ["memberId"])
    return member


# The partner, the member's consent to it, the member and the member's spendable balance
# as last committed, in one statement: from the partner, so an unknown or suspended
# partner is told apart from a member it may not see.
_SPENDER = (
    select(
        Partner.status.label("partner_status"),
        Member.id.label("member_id"),
        Member.status.label("member_status"),
        select(Account.credits_posted - Account.debits_posted)
        .where(Account.id == bindparam("account"))
        .scalar_subquery()
        .label("balance"),
    )
    .select_from(Partner)
    .outerjoin(
        Consent,
        and_(
            Consent.partner_id == Partner.id,
            Consent.member_id == bindparam("member_id"),
            Consent.revoked_at.is_(None),
        ),
    )
    .outerjoin(Member, Member.id == Consent.member_id)
    .where(Partner.id == bindparam("partner_id"))
)


def consented_spender(session: Session, partner_id: int, member_id: int) -> int:
    """What ``require_active`` and :func:`consented_member` check, in one round trip, for
    a partner spending the member's points: CR-04 for the partner, then the member as
    the partner may see them (anything else reads as not found) and not closed (CR-03).
    Returns the member's spendable balance as last committed, before this transaction
    moved any points (for the ledger's fail-fast refusal, ``ledger.Take.balance_seen``)."""
    row = session.execute(
        _SPENDER,
        {"partner_id": partner_id, "member_id": member_id, "account": member_account(member_id)},
    ).first()
    violation = active_partner("UNKNOWN" if row is None else row.partner_status)
    if violation is not None:
        raise ComplianceViolation(violation)
    assert row is not None
    if row.member_id is None:
        raise MemberNotFound()
    if row.member_status != MemberStatus.ACTIVE:
        found = identified_member(True, row.member_status, True)
        assert found is not None
        raise ComplianceViolation(found, ["memberId"])
    return int(row.balance or 0)


def close_member(session: Session, member_id: int, now: datetime) -> int:
    """The operator closes a member (death, request, fraud): from now on the member earns
    and spends nothing (CR-03). Their points stay on the ledger as the issuers'
    liability until they expire. Closing twice is harmless."""
    member = session.get(Member, member_id)
    if member is None:
        raise MemberNotFound()
    if member.status != MemberStatus.CLOSED:
        member.status = MemberStatus.CLOSED
        member.closed_at = now
        session.flush()
    return member_id


def set_credit_level(session: Session, member_id: int, level: str | None) -> int:
    """The operator records a member's credit level (or clears it)."""
    if level is not None and level not in CreditLevel.__members__:
        raise MemberError("creditLevel must be one of A, B, C, D", ["creditLevel"])
    member = session.get(Member, member_id)
    if member is None:
        raise MemberNotFound()
    member.credit_level = level
    session.flush()
    return member_id


@dataclass(frozen=True, slots=True)
class VisibleMember:
    """What a caller may see of a member: the reference and status always; the credit
    level only under its own consent (CR-10). Never the phone or the name."""

    id: int
    status: str
    credit_level_consent: bool
    credit_level: str | None


def visible_members(
    session: Session, keys: Sequence[tuple[int | None, int]]
) -> dict[tuple[int | None, int], VisibleMember]:
    """For the loader: which ``(partner_id | None, member_id)`` pairs are visible, in one
    query per kind of caller: all existing members for the operator (None), consenting
    members for a partner."""
    found: dict[tuple[int | None, int], VisibleMember] = {}
    operator = {member for partner, member in keys if partner is None}
    if operator:
        for member_id, status, level in session.execute(
            select(Member.id, Member.status, Member.credit_level).where(Member.id.in_(operator))
        ):
            found[(None, member_id)] = VisibleMember(member_id, status, True, level)
    pairs = {(partner, member) for partner, member in keys if partner is not None}
    if pairs:
        rows = session.execute(
            select(
                Consent.partner_id,
                Consent.member_id,
                Consent.credit_level,
                Member.status,
                Member.credit_level,
            )
            .join(Member, Member.id == Consent.member_id)
            .where(
                Consent.partner_id.in_({p for p, _ in pairs}),
                Consent.member_id.in_({m for _, m in pairs}),
                Consent.revoked_at.is_(None),
            )
        )
        for partner_id, member_id, consent, status, level in rows:
            if (partner_id, member_id) in pairs:
                found[(partner_id, member_id)] = VisibleMember(
                    member_id, status, consent, level if consent else None
                )
    return found
