"""What a signed-in member sees and decides for themselves (``member:self``): their
consents, their privacy preferences, and donations they make on their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from compliance.errors import ComplianceViolation
from compliance.rules import identified_member
from core.db import insert_if_absent
from members.errors import ItemNotRedeemable
from members.models import Consent, Member, MemberStatus, PrivacyPreferences
from members.redemption import donate_to_project
from members.reminders import expiry_reminders_enabled
from partners.models import CatalogItem, Partner
from partners.registry import require_active


@dataclass(frozen=True, slots=True)
class ConsentView:
    partner_id: int
    partner_code: str
    credit_level: bool
    granted_at: datetime


def consents_of(session: Session, member_id: int) -> list[ConsentView]:
    """The partners the member consented to, and whether each may see the credit level."""
    rows = session.execute(
        select(Consent.partner_id, Partner.code, Consent.credit_level, Consent.granted_at)
        .join(Partner, Partner.id == Consent.partner_id)
        .where(Consent.member_id == member_id, Consent.revoked_at.is_(None))
        .order_by(Partner.code)
    )
    return [ConsentView(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Preferences:
    personalised_offers: bool
    marketing_messages: bool
    updated_at: datetime | None
    credit_benefits: bool = False
    expiry_reminders: bool = False  # members.reminders


@dataclass(frozen=True, slots=True)
class MarketingChoices:
    """What a member allows the partners they consented to: personalised offers and
    marketing messages (PIPL Art. 24). Both off unless the member turned them on."""

    personalised_offers: bool = False
    marketing_messages: bool = False


def marketing_choices(session: Session, member_ids: Sequence[int]) -> dict[int, MarketingChoices]:
    """The members' choices in one read; a member who never chose has none (all off)."""
    rows = session.execute(
        select(
            PrivacyPreferences.member_id,
            PrivacyPreferences.personalised_offers,
            PrivacyPreferences.marketing_messages,
        ).where(PrivacyPreferences.member_id.in_(list(member_ids)))
    )
    return {row[0]: MarketingChoices(row[1], row[2]) for row in rows}


def privacy_preferences(session: Session, member_id: int) -> Preferences:
    """Off unless the member turned them on (PIPL Art. 24: an opt-in, easy to refuse)."""
    row = session.get(PrivacyPreferences, member_id)
    reminders = expiry_reminders_enabled(session, member_id)
    if row is None:
        return Preferences(False, False, None, False, reminders)
    return Preferences(
        row.personalised_offers,
        row.marketing_messages,
        row.updated_at,
        row.credit_benefits,
        reminders,
    )


def set_privacy_preferences(
    session: Session,
    *,
    member_id: int,
    personalised_offers: bool,
    marketing_messages: bool,
    now: datetime,
    credit_benefits: bool | None = None,
) -> Preferences:
    """``credit_benefits`` None keeps the member's choice about credit-linked benefits."""
    values = {
        "personalised_offers": personalised_offers,
        "marketing_messages": marketing_messages,
        "credit_benefits": bool(credit_benefits),
        "updated_at": now,
    }
    if not insert_if_absent(
        session,
        PrivacyPreferences.__table__,  # type: ignore[arg-type]
        {"member_id": member_id, **values},
    ):
        row = session.get(PrivacyPreferences, member_id, with_for_update=True)
        assert row is not None
        row.personalised_offers = personalised_offers
        row.marketing_messages = marketing_messages
        if credit_benefits is not None:
            row.credit_benefits = credit_benefits
        row.updated_at = now
    session.flush()
    return privacy_preferences(session, member_id)


def member_donation(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    member_id: int,
    project_item_id: int,
    points: int,
    now: datetime,
) -> int:
    """The member donates their own points to a registered charity project (CR-06): the
    project's charity partner is reimbursed as for any donation. Returns the transfer id."""
    status = session.execute(
        select(Member.status).where(Member.id == member_id)
    ).scalar_one_or_none()
    if status != MemberStatus.ACTIVE:
        violation = identified_member(status is not None, status, True)
        assert violation is not None
        raise ComplianceViolation(violation, ["memberId"])
    partner_id = session.execute(
        select(CatalogItem.partner_id).where(CatalogItem.id == project_item_id)
    ).scalar_one_or_none()
    if partner_id is None:
        raise ItemNotRedeemable()
    require_active(session, partner_id)
    return donate_to_project(
        session,
        key,
        partner_id=partner_id,
        member_id=member_id,
        project_item_id=project_item_id,
        points=points,
        now=now,
    )


def member_status(session: Session, member_id: int) -> str:
    status = session.execute(select(Member.status).where(Member.id == member_id)).scalar_one()
    return str(status)
