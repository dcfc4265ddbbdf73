"""Registering members: one person (one phone) is one member, linked by consent to each
partner that registers them (CR-10)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

import ledger
from compliance.errors import ComplianceViolation
from compliance.rules import consent_given
from hub.crypto import keyed_hash
from hub.db import insert_if_absent
from members.errors import ExternalRefTaken, InvalidPhone, MemberError, MemberNotFound
from members.models import Consent, Member, MemberStatus

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
) -> Registration:
    """Register a member, or link the existing member with this phone to the partner.

    The registering partner attests the person's identity (CR-03): it verified the phone
    at its counter or app. The phone is stored only as a keyed hash."""
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
            "identity_attested_at": now,
            "attested_by_partner_id": partner_id,
            "created_at": now,
        },
        conflict_on=["phone_hash"],
    )
    member_id = session.execute(
        select(Member.id).where(Member.phone_hash == phone_hash)
    ).scalar_one()
    if created:
        ledger.open_member_accounts(session, member_id, now)
    _link(session, member_id, partner_id, external_ref, now)
    return Registration(member_id, created)


def _link(
    session: Session, member_id: int, partner_id: int, external_ref: str, now: datetime
) -> None:
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
        session.add(
            Consent(
                member_id=member_id,
                partner_id=partner_id,
                external_ref=external_ref,
                credit_level=False,
                granted_at=now,
            )
        )
    else:
        consent.external_ref = external_ref
        consent.revoked_at = None
    session.flush()


def consented_member(session: Session, partner_id: int | None, member_id: int) -> Member:
    """The member, if the partner holds their consent (any member for the operator, None).
    Anything else reads as not found."""
    query = select(Member).where(Member.id == member_id)
    if partner_id is not None:
        query = query.join(Consent, Consent.member_id == Member.id).where(
            Consent.partner_id == partner_id, Consent.revoked_at.is_(None)
        )
    member = session.execute(query).scalar_one_or_none()
    if member is None:
        raise MemberNotFound()
    return member


def visible_members(
    session: Session, keys: Sequence[tuple[int | None, int]]
) -> dict[tuple[int | None, int], int]:
    """For the loader: which ``(partner_id | None, member_id)`` pairs are visible, in one
    query per kind of caller: all existing members for the operator (None), consenting
    members for a partner."""
    found: dict[tuple[int | None, int], int] = {}
    operator = {member for partner, member in keys if partner is None}
    if operator:
        for (member_id,) in session.execute(select(Member.id).where(Member.id.in_(operator))):
            found[(None, member_id)] = member_id
    pairs = {(partner, member) for partner, member in keys if partner is not None}
    if pairs:
        rows = session.execute(
            select(Consent.partner_id, Consent.member_id).where(
                Consent.partner_id.in_({p for p, _ in pairs}),
                Consent.member_id.in_({m for _, m in pairs}),
                Consent.revoked_at.is_(None),
            )
        )
        for partner_id, member_id in rows:
            if (partner_id, member_id) in pairs:
                found[(partner_id, member_id)] = member_id
    return found
