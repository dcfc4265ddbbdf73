"""Registering members: one person (one phone) is one member, linked by consent to each
partner that registers them (CR-10)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

import ledger
from compliance.errors import ComplianceViolation
from compliance.rules import consent_given, identified_member
from core.crypto import keyed_hash
from core.db import insert_if_absent
from events import EventType
from members.errors import ExternalRefTaken, InvalidPhone, MemberError, MemberNotFound
from members.events import emit_consent_event
from members.models import Consent, CreditLevel, Member, MemberStatus

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


@dataclass(frozen=True, slots=True)
class Registration:
    member_id: int
    created: bool


def register_member(
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
) -> Registration:
    """Register a member, or link the existing member with this phone to the partner.

    With ``identity_verified`` the registering partner attests the person's identity
    (CR-03): it verified the phone at its counter or app. A member nobody has attested
    yet earns nothing until a partner registers them again as verified. The phone is
    stored only as a keyed hash. ``credit_level_consent`` is the member's separate consent
    to share their credit level with this partner (CR-10)."""
    violation = consent_given(consent)
    if violation is not None:
        raise ComplianceViolation(violation, ["consent"])
    if not external_ref.strip() or len(external_ref) > 128:
        raise MemberError("externalRef must be 1-128 characters", ["externalRef"])
    if display_name is not None and len(display_name) > 100:
        raise MemberError("displayName must be at most 100 characters", ["displayName"])
    phone_hash = keyed_hash(secret_key, PHONE_PURPOSE, normalise_phone(phone))
    created = insert_if_absent(
        session,
        cast(Table, Member.__table__),
        {
            "phone_hash": phone_hash,
            "display_name": display_name,
            "status": MemberStatus.ACTIVE,
            "identity_attested_at": now if identity_verified else None,
            "attested_by_partner_id": partner_id if identity_verified else None,
            "created_at": now,
        },
        conflict_on=["phone_hash"],
    )
    member_id = session.execute(
        select(Member.id).where(Member.phone_hash == phone_hash)
    ).scalar_one()
    if created:
        ledger.open_member_accounts(session, member_id, now)
    elif identity_verified:
        session.execute(
            update(Member)
            .where(Member.id == member_id, Member.identity_attested_at.is_(None))
            .values(identity_attested_at=now, attested_by_partner_id=partner_id)
        )
    link_consent(session, member_id, partner_id, external_ref, credit_level_consent, now)
    return Registration(member_id, created)


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
