"""Who may hear about a member (CR-10), decided in the transaction that writes the event:
a partner receives an event about a member only while the member consents to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from events import EventType, emit, global_id
from events.outbox import Payload, sql_json_int_list
from members.models import Consent


def consenting_partners(session: Session, member_id: int) -> list[int]:
    """The partners the member consents to now."""
    return list(
        session.execute(
            select(Consent.partner_id).where(
                Consent.member_id == member_id, Consent.revoked_at.is_(None)
            )
        ).scalars()
    )


def sql_consenting_partners(dialect: str, member_id_sql: str) -> str:
    """SQL for the audience ``emit_member_event`` writes (the JSON list of the partners the
    member consents to now), of a member id column, for events built by the database."""
    return sql_json_int_list(
        dialect,
        "partner_id",
        f"FROM member_consents WHERE member_id = {member_id_sql} AND revoked_at IS NULL",
    )


def consents_to(session: Session, member_id: int, partner_id: int) -> bool:
    found = session.execute(
        select(Consent.id).where(
            Consent.member_id == member_id,
            Consent.partner_id == partner_id,
            Consent.revoked_at.is_(None),
        )
    ).first()
    return found is not None


def emit_partner_event(
    session: Session,
    type: EventType,
    *,
    member_id: int,
    partner_id: int,
    payload: Payload,
    now: datetime,
    once_key: str | None = None,
    consents: bool | None = None,
) -> str | None:
    """An event about the member's business with one partner: that partner hears of it
    if the member consents to it now (the operator always does). ``consents`` is what
    this transaction already found, when it checked the consent itself (a redemption
    requires it); otherwise the consent is read here."""
    if consents is None:
        consents = consents_to(session, member_id, partner_id)
    audience = [partner_id] if consents else []
    return emit(
        session,
        type,
        now=now,
        payload={"memberId": global_id("Member", member_id), **payload},
        partner_id=partner_id,
        member_id=member_id,
        audience=audience,
        once_key=once_key,
    )


def emit_member_event(
    session: Session,
    type: EventType,
    *,
    member_id: int,
    payload: Payload,
    now: datetime,
    once_key: str | None = None,
) -> str | None:
    """An event about the member's points as a whole (alliance points are spendable at
    every partner): each partner the member consents to now hears of it."""
    return emit(
        session,
        type,
        now=now,
        payload={"memberId": global_id("Member", member_id), **payload},
        member_id=member_id,
        audience=consenting_partners(session, member_id),
        once_key=once_key,
    )


def emit_consent_event(
    session: Session,
    type: EventType,
    *,
    member_id: int,
    partner_id: int,
    payload: Payload,
    now: datetime,
) -> str | None:
    """A grant or withdrawal concerns the partnership itself: the partner hears of it
    either way (a withdrawal is the last it hears about this member)."""
    return emit(
        session,
        type,
        now=now,
        payload={
            "memberId": global_id("Member", member_id),
            "partnerId": global_id("Partner", partner_id),
            **payload,
        },
        partner_id=partner_id,
        member_id=member_id,
        audience=[partner_id],
    )
