"""Read models of the ledger for members: balances, lots, history, what expires soon."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.models import Account, Hold, Lot, Transfer


@dataclass(frozen=True, slots=True)
class Balances:
    member_id: int
    balance: int
    held: int


# Built once: every member read and every points-moving write's payload reads it.
_BALANCES = select(Account.id, Account.credits_posted - Account.debits_posted).where(
    Account.id.in_(bindparam("addresses", expanding=True))
)


def balances(session: Session, member_ids: Sequence[int]) -> dict[int, Balances]:
    addresses = {accounts.member(m): m for m in member_ids} | {
        accounts.member_held(m): m for m in member_ids
    }
    rows = session.execute(_BALANCES, {"addresses": list(addresses)}).all()
    spendable = {addresses[a]: int(v) for a, v in rows if not a.endswith(":held")}
    held = {addresses[a]: int(v) for a, v in rows if a.endswith(":held")}
    return {
        m: Balances(m, spendable.get(m, 0), held.get(m, 0)) for m in member_ids if m in spendable
    }


@dataclass(frozen=True, slots=True)
class LotView:
    id: int
    issuer_partner_id: int
    points: int
    remaining: int
    green: bool
    earned_at: datetime
    expires_at: datetime


def lots_page(
    session: Session, member_id: int, limit: int, after_id: int | None, issuer: int | None = None
) -> list[LotView]:
    """A member's lots, first to expire first (CR-11), ``limit + 1`` of them; only those
    ``issuer`` issued when given."""
    query = select(Lot).where(Lot.member_id == member_id)
    if issuer is not None:
        query = query.where(Lot.issuer_partner_id == issuer)
    if after_id is not None:
        anchor = select(Lot.expires_at).where(Lot.id == after_id).scalar_subquery()
        query = query.where(
            or_(Lot.expires_at > anchor, (Lot.expires_at == anchor) & (Lot.id > after_id))
        )
    rows = session.execute(query.order_by(Lot.expires_at, Lot.id).limit(limit + 1)).scalars()
    return [
        LotView(
            r.id, r.issuer_partner_id, r.points, r.remaining, r.green, r.earned_at, r.expires_at
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class ExpiringDay:
    day: date
    points: int


def expiring_elsewhere(
    session: Session, keys: Sequence[tuple[int, int, datetime]]
) -> dict[tuple[int, int, datetime], list[ExpiringDay]]:
    """For each (partner id, member id, as of): the points left in the member's lots that
    other partners issued, summed by the day (UTC) they expire, soonest first: no issuer,
    no lot, no time of day (CR-10 minimisation)."""
    groups: dict[tuple[int, datetime], list[int]] = {}
    for partner_id, member_id, at in keys:
        groups.setdefault((partner_id, at), []).append(member_id)
    found: dict[tuple[int, int, datetime], list[ExpiringDay]] = {}
    for (partner_id, at), member_ids in groups.items():
        sums: dict[int, dict[date, int]] = {member_id: {} for member_id in member_ids}
        for member_id, expires_at, remaining in session.execute(
            select(Lot.member_id, Lot.expires_at, Lot.remaining).where(
                Lot.member_id.in_(member_ids),
                Lot.issuer_partner_id != partner_id,
                Lot.remaining > 0,
                Lot.expires_at > at,
            )
        ):
            by_day = sums[member_id]
            by_day[expires_at.date()] = by_day.get(expires_at.date(), 0) + int(remaining)
        for member_id, by_day in sums.items():
            found[(partner_id, member_id, at)] = [
                ExpiringDay(day, by_day[day]) for day in sorted(by_day)
            ]
    return found


def expiring_points(session: Session, member_id: int, now: datetime, until: datetime) -> int:
    """Points in the member's lots that expire between now and ``until`` (CR-11)."""
    total = session.execute(
        select(func.coalesce(func.sum(Lot.remaining), 0)).where(
            Lot.member_id == member_id, Lot.expires_at > now, Lot.expires_at <= until
        )
    ).scalar_one()
    return int(total)


@dataclass(frozen=True, slots=True)
class Entry:
    """One transfer as the member sees it: ``amount`` is signed from their spendable side."""

    id: int
    code: str
    amount: int
    partner_id: int | None
    order_ref: str | None
    hold_id: int | None
    created_at: datetime


def history_page(
    session: Session,
    member_id: int,
    limit: int,
    before_id: int | None,
    partner_id: int | None = None,
) -> list[Entry]:
    """Transfers touching the member's spendable account, newest first; with
    ``partner_id``, only those with that partner (CR-10 minimisation)."""
    mine = accounts.member(member_id)
    query = select(Transfer).where(
        or_(Transfer.debit_account_id == mine, Transfer.credit_account_id == mine)
    )
    if partner_id is not None:
        query = query.where(Transfer.partner_id == partner_id)
    if before_id is not None:
        query = query.where(Transfer.id < before_id)
    rows = session.execute(query.order_by(Transfer.id.desc()).limit(limit + 1)).scalars()
    return [
        Entry(
            t.id,
            t.code,
            t.amount if t.credit_account_id == mine else -t.amount,
            t.partner_id,
            t.order_ref,
            t.hold_id,
            t.created_at,
        )
        for t in rows
    ]


@dataclass(frozen=True, slots=True)
class HoldParties:
    hold_id: int
    member_id: int
    partner_id: int
    amount: int


def hold_parties(session: Session, hold_id: int) -> HoldParties | None:
    """Whose redemption a hold is, and at which partner."""
    row = session.execute(
        select(Hold.id, Hold.member_id, Hold.partner_id, Hold.amount).where(Hold.id == hold_id)
    ).first()
    return None if row is None else HoldParties(*row)


@dataclass(frozen=True, slots=True)
class ExpiringLot:
    id: int
    member_id: int
    remaining: int
    expires_at: datetime


def lots_expiring(
    session: Session, members: Sequence[int], now: datetime, until: datetime
) -> list[ExpiringLot]:
    """The members' lots with points left that expire after ``now`` and by ``until``."""
    rows = session.execute(
        select(Lot.id, Lot.member_id, Lot.remaining, Lot.expires_at)
        .where(
            Lot.member_id.in_(members),
            Lot.remaining > 0,
            Lot.expires_at > now,
            Lot.expires_at <= until,
        )
        .order_by(Lot.member_id, Lot.expires_at, Lot.id)
    ).all()
    return [ExpiringLot(*row) for row in rows]


def members_with_lots_expiring(
    session: Session, now: datetime, until: datetime, after_member: int, limit: int
) -> list[int]:
    """Members (ascending, after ``after_member``) with points expiring in ``(now, until]``."""
    return list(
        session.execute(
            select(Lot.member_id)
            .where(
                Lot.remaining > 0,
                Lot.expires_at > now,
                Lot.expires_at <= until,
                Lot.member_id > after_member,
            )
            .group_by(Lot.member_id)
            .order_by(Lot.member_id)
            .limit(limit)
        ).scalars()
    )


@dataclass(frozen=True, slots=True)
class ActivityTotals:
    """A member's points in and out with everyone but one partner: totals only, with no
    partner, order, item or time (CR-10 minimisation)."""

    points_in: int
    points_out: int


def activity_elsewhere(
    session: Session, keys: Sequence[tuple[int, int]]
) -> dict[tuple[int, int], ActivityTotals]:
    """For each (partner id, member id): the member's spendable-account totals with every
    other partner and with no partner (expiry, the operator's adjustments)."""
    by_partner: dict[int, list[int]] = {}
    for partner_id, member_id in keys:
        by_partner.setdefault(partner_id, []).append(member_id)
    found: dict[tuple[int, int], ActivityTotals] = {}
    for partner_id, member_ids in by_partner.items():
        owners = {accounts.member(m): m for m in member_ids}
        elsewhere = or_(Transfer.partner_id.is_(None), Transfer.partner_id != partner_id)

        def totals(side: Any) -> dict[int, int]:
            rows = session.execute(
                select(side, func.sum(Transfer.amount))
                .where(side.in_(list(owners)), elsewhere)  # noqa: B023
                .group_by(side)
            ).all()
            return {owners[account]: int(total) for account, total in rows}  # noqa: B023

        points_in = totals(Transfer.credit_account_id)
        points_out = totals(Transfer.debit_account_id)
        for member_id in member_ids:
            found[(partner_id, member_id)] = ActivityTotals(
                points_in.get(member_id, 0), points_out.get(member_id, 0)
            )
    return found
