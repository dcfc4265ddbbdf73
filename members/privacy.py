"""The member's rights to a copy and to deletion (PIPL Art. 44-45, 47).

``export_member_data`` reads every row the hub holds about the member, table by table:
rows that name the member's id, rows keyed by their phone's hash, their ledger accounts
and transfers, and the events about them with what hangs off those (webhook deliveries
and their attempts). Secret hashes (codes, tokens) are withheld: they are credentials, not
information about the person; so is the sealed phone kept for expiry reminders (the
member gave it, and the copy says that it is kept).

``close_account`` erases the personal data (name, phone hash, credit level, the
partners' references, also inside the events about the member, preferences, the phone
sealed for expiry reminders, sign-ins)
and keeps, under the member's opaque id, what the law and the ledger need: transfers,
lots, awards, redemptions, events, and the evidence of consent (who granted what, when,
by which channel), which names no one. The remaining points go to breakage first, after
the member confirmed it. See docs/privacy.md."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, Table, cast, delete, literal, or_, select, update
from sqlalchemy.orm import Session

import ledger
from core.db import Base
from events import EventType, erase_member_references
from ledger.models import Hold, HoldStatus
from ledger.queries import balances
from members.errors import MemberError
from members.events import consenting_partners, emit_consent_event
from members.models import (
    Consent,
    ConsentRequest,
    Member,
    MemberSignIn,
    MemberStatus,
    OneTimeCode,
    PrivacyPreferences,
    RefreshToken,
    Registration,
)
from members.reminders import forget_reminders

EXPORT_FORMAT = "alliance-hub/member-export/1"
SECRET_COLUMNS = frozenset({"code_hash", "token_hash", "handle_hash", "sealed_phone"})
WITHHELD = "(withheld: a credential)"


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def member_accounts(member_id: int) -> list[str]:
    return [
        ledger.accounts.member(member_id),
        ledger.accounts.member_held(member_id),
        ledger.accounts.member_debt(member_id),
    ]


def _rows_about(
    session: Session, table: Table, member_id: int, phone_hash: str | None
) -> list[Any]:
    columns = table.c
    conditions = []
    if table.name == Member.__tablename__:
        conditions.append(columns.id == member_id)
    if "member_id" in columns:
        conditions.append(columns.member_id == member_id)
    if phone_hash is not None and "phone_hash" in columns:
        conditions.append(columns.phone_hash == phone_hash)
    if table.name == "ledger_accounts":
        conditions.append(columns.id.in_(member_accounts(member_id)))
    if "debit_account_id" in columns:
        addresses = member_accounts(member_id)
        conditions.append(columns.debit_account_id.in_(addresses))
        conditions.append(columns.credit_account_id.in_(addresses))
    if not conditions:
        return []
    order = list(table.primary_key.columns)
    return list(session.execute(select(table).where(or_(*conditions)).order_by(*order)))


EVENTS_TABLE = "outbox_events"


def _key(table: Table, row: Any) -> tuple[Any, ...]:
    return tuple(row._mapping[column.name] for column in table.primary_key.columns)


def _rows_hanging_off(session: Session, found: dict[str, list[Any]]) -> None:
    """Add the rows that point, by a foreign key, at the member's events (an event's
    webhook deliveries, a delivery's attempts), and so on down: they are about the member
    too, though they name only the event."""
    frontier = [EVENTS_TABLE] if EVENTS_TABLE in found else []
    followed = set(frontier)
    while frontier:
        target = frontier.pop()
        for table in Base.metadata.sorted_tables:
            for foreign in table.foreign_keys:
                if foreign.column.table.name != target:
                    continue
                ids = [row._mapping[foreign.column.name] for row in found[target]]
                rows = session.execute(select(table).where(foreign.parent.in_(ids))).all()
                merged = {_key(table, row): row for row in found.get(table.name, [])}
                merged.update((_key(table, row), row) for row in rows)
                if merged:
                    found[table.name] = [merged[key] for key in sorted(merged)]
                if rows and table.name not in followed:
                    followed.add(table.name)
                    frontier.append(table.name)


def export_member_data(session: Session, member_id: int, now: datetime) -> dict[str, Any]:
    """One JSON-ready document of everything the hub holds about the member."""
    member = session.get(Member, member_id)
    if member is None:
        raise MemberError("no such member")
    found: dict[str, list[Any]] = {}
    for table in Base.metadata.sorted_tables:
        rows = _rows_about(session, table, member_id, member.phone_hash)
        if rows:
            found[table.name] = rows
    _rows_hanging_off(session, found)
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, rows in found.items():
        tables[name] = [
            {
                key: WITHHELD if key in SECRET_COLUMNS and value is not None else _value(value)
                for key, value in row._mapping.items()
            }
            for row in rows
        ]
    return {
        "format": EXPORT_FORMAT,
        "memberId": member_id,
        "exportedAt": now.isoformat(),
        "tables": tables,
    }


class ClosureNeedsConfirmation(MemberError):
    code = "CONFIRMATION_REQUIRED"

    def __init__(self, points: int) -> None:
        super().__init__(
            f"closing erases your personal data for good, and your remaining {points} points "
            "go to breakage (they cannot be restored); send confirm: true to close",
            ["confirm"],
        )
        self.points = points


class PendingRedemptions(MemberError):
    code = "CONFLICT"

    def __init__(self) -> None:
        super().__init__(
            "you have reserved points for a redemption; wait until it completes or is "
            "cancelled, then close"
        )


@dataclass(frozen=True, slots=True)
class Closure:
    member_id: int
    points_forfeited: int


def close_account(
    session: Session, *, member_id: int, confirm: bool, client_id: str, now: datetime
) -> Closure:
    """The member closes their account (PIPL Art. 47). Without ``confirm`` nothing happens
    and the answer says what would be lost."""
    member = session.get(Member, member_id, with_for_update=True)
    if member is None or member.status == MemberStatus.CLOSED:
        raise MemberError("this account is already closed")
    balance = balances(session, [member_id]).get(member_id)
    points = 0 if balance is None else balance.balance
    if not confirm:
        raise ClosureNeedsConfirmation(points)
    pending = session.execute(
        select(Hold.id)
        .where(Hold.member_id == member_id, Hold.status == HoldStatus.PENDING)
        .limit(1)
    ).first()
    if pending is not None:
        raise PendingRedemptions()
    forfeited = ledger.forfeit_member_points(
        session, ledger.IdempotencyKey(client_id, f"close-account:{member_id}"), member_id, now
    )
    phone_hash = member.phone_hash
    for asked in (ConsentRequest, Registration):
        about = asked.member_id == member_id
        if phone_hash is not None:
            about = or_(about, asked.phone_hash == phone_hash)
        session.execute(
            update(asked)
            .where(about)
            .values(
                phone_hash=None, external_ref=literal("erased:", String) + cast(asked.id, String)
            )
            .execution_options(synchronize_session=False)
        )
    if phone_hash is not None:
        session.execute(
            update(OneTimeCode).where(OneTimeCode.phone_hash == phone_hash).values(phone_hash=None)
        )
    for partner_id in consenting_partners(session, member_id):
        # Each partner still holding consent hears it ends; the event names no one.
        emit_consent_event(
            session,
            EventType.CONSENT_WITHDRAWN,
            member_id=member_id,
            partner_id=partner_id,
            payload={"externalRef": None, "scope": "PARTNERSHIP", "accountClosed": True},
            now=now,
        )
    session.execute(
        update(Consent)
        .where(Consent.member_id == member_id)
        .values(
            external_ref=literal("erased:", String) + cast(Consent.id, String),
            credit_level=False,
            revoked_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    erase_member_references(session, member_id)
    forget_reminders(session, member_id)
    for owned in (PrivacyPreferences, RefreshToken, MemberSignIn):
        session.execute(delete(owned).where(owned.member_id == member_id))
    member.display_name = None
    member.phone_hash = None
    member.credit_level = None
    member.status = MemberStatus.CLOSED
    member.closed_at = now
    session.flush()
    return Closure(member_id, forfeited.points)
