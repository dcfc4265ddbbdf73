"""Member prices (lower redemption thresholds): an item may carry published lower prices
for members of a tier (or above) and/or a credit level (or better, for members who
consented to credit-linked benefits). Anyone reads them; a redemption charges the lowest
price the member qualifies for and records the row that applied. A lower price applies
at once, a higher or removed one only after the operator's notice period (CR-07)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, delete, func, select
from sqlalchemy.orm import Session

from members.errors import MemberError
from members.models import (
    Consent,
    CreditLevel,
    Member,
    MemberPrice,
    MemberPriceSet,
    PrivacyPreferences,
)
from members.tiers import standing
from partners.catalog import DEFAULT_PRICE_NOTICE, ItemInput, upsert_items

MAX_ROWS = 10
MAX_POINTS = 2**31 - 1
LEVELS = "ABCD"  # best first
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


@dataclass(frozen=True, slots=True)
class PriceRow:
    id: int
    tier_code: str | None
    credit_level: str | None
    points: int


@dataclass(frozen=True, slots=True)
class PriceRowInput:
    tier_code: str | None
    credit_level: str | None
    points: int


def _check(item_index: int, rows: Sequence[PriceRowInput], base_points: int) -> None:
    where = ["items", str(item_index), "memberPrices"]
    if len(rows) > MAX_ROWS:
        raise MemberError(f"at most {MAX_ROWS} member prices per item", where)
    seen = set()
    for index, row in enumerate(rows):
        at = [*where, str(index)]
        if row.tier_code is not None and not _CODE.match(row.tier_code):
            raise MemberError("tierCode is a tier's code, e.g. GOLD", [*at, "tierCode"])
        if row.tier_code is None and row.credit_level is None:
            raise MemberError("a member price names a tierCode, a creditLevel or both", at)
        if row.credit_level is not None and row.credit_level not in CreditLevel.__members__:
            raise MemberError("creditLevel is A, B, C or D", [*at, "creditLevel"])
        if type(row.points) is not int or not 0 < row.points < base_points:
            raise MemberError(
                "a member price is a whole number of points below the base price",
                [*at, "points"],
            )
        key = (row.tier_code, row.credit_level)
        if key in seen:
            raise MemberError("one member price per tier and credit level", at)
        seen.add(key)


_LATEST_SETS = (
    select(MemberPriceSet.item_id, func.max(MemberPriceSet.effective_at).label("at"))
    .where(
        MemberPriceSet.item_id.in_(bindparam("item_ids", expanding=True)),
        MemberPriceSet.effective_at <= bindparam("at"),
    )
    .group_by(MemberPriceSet.item_id)
    .subquery()
)
# Built once (every redemption reads it): the rows of each item's set in force.
_ROWS_IN_FORCE = (
    select(
        MemberPriceSet.item_id,
        MemberPrice.id,
        MemberPrice.tier_code,
        MemberPrice.credit_level,
        MemberPrice.points,
    )
    .join(
        _LATEST_SETS,
        and_(
            MemberPriceSet.item_id == _LATEST_SETS.c.item_id,
            MemberPriceSet.effective_at == _LATEST_SETS.c.at,
        ),
    )
    .join(MemberPrice, MemberPrice.set_id == MemberPriceSet.id)
    .order_by(MemberPriceSet.item_id, MemberPrice.id)
)


def _rows_in_force(
    session: Session, item_ids: Sequence[int], at: datetime
) -> dict[int, list[PriceRow]]:
    found: dict[int, list[PriceRow]] = {item_id: [] for item_id in item_ids}
    for item_id, row_id, tier_code, credit_level, points in session.execute(
        _ROWS_IN_FORCE, {"item_ids": list(item_ids), "at": at}
    ):
        found[item_id].append(PriceRow(row_id, tier_code, credit_level, points))
    return found


def member_prices(
    session: Session, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], list[PriceRow]]:
    """Batched for the loaders: each ``(item id, as of)``'s member prices in force."""
    found: dict[tuple[int, datetime], list[PriceRow]] = {}
    by_time: dict[datetime, list[int]] = {}
    for item_id, at in keys:
        by_time.setdefault(at, []).append(item_id)
    for at, item_ids in by_time.items():
        for item_id, rows in _rows_in_force(session, item_ids, at).items():
            found[(item_id, at)] = rows
    return found


def _worse_for_someone(old: list[PriceRow], new: Sequence[PriceRowInput]) -> bool:
    """Whether any published row disappears or rises: that needs the notice (CR-07)."""
    wanted = {(row.tier_code, row.credit_level): row.points for row in new}
    return any(
        wanted.get((row.tier_code, row.credit_level), MAX_POINTS) > row.points for row in old
    )


def _key(rows: Sequence[PriceRow] | Sequence[PriceRowInput]) -> list[tuple[str, str, int]]:
    return sorted((r.tier_code or "", r.credit_level or "", r.points) for r in rows)


@dataclass(frozen=True, slots=True)
class PendingSet:
    set_id: int
    item_id: int
    effective_at: datetime
    rows: list[PriceRow]


def _pending_sets(
    session: Session, item_ids: Sequence[int], at: datetime
) -> dict[int, list[PendingSet]]:
    """Each item's member-price sets published to take effect after ``at``, soonest first
    (an empty set is a pending removal)."""
    sets: dict[int, PendingSet] = {}
    for found in session.execute(
        select(MemberPriceSet)
        .where(MemberPriceSet.item_id.in_(list(item_ids)), MemberPriceSet.effective_at > at)
        .order_by(MemberPriceSet.item_id, MemberPriceSet.effective_at, MemberPriceSet.id)
    ).scalars():
        sets[found.id] = PendingSet(found.id, found.item_id, found.effective_at, [])
    if sets:
        for row in session.execute(
            select(MemberPrice)
            .where(MemberPrice.set_id.in_(list(sets)))
            .order_by(MemberPrice.set_id, MemberPrice.id)
        ).scalars():
            sets[row.set_id].rows.append(
                PriceRow(row.id, row.tier_code, row.credit_level, row.points)
            )
    by_item: dict[int, list[PendingSet]] = {}
    for pending in sets.values():
        by_item.setdefault(pending.item_id, []).append(pending)
    return by_item


@dataclass(frozen=True, slots=True)
class ScheduledRow:
    """A member price published to take effect at ``effective_at``; ``points`` None when
    the row is withdrawn then (a pending removal)."""

    tier_code: str | None
    credit_level: str | None
    points: int | None
    effective_at: datetime


def scheduled_member_prices(
    session: Session, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], list[ScheduledRow]]:
    """Batched for the loaders: each ``(item id, as of)``'s member prices published to
    take effect later (CR-07), soonest first: every row of each pending set, and each row
    of the set before it that the pending set drops, with no points."""
    found: dict[tuple[int, datetime], list[ScheduledRow]] = {key: [] for key in keys}
    by_time: dict[datetime, list[int]] = {}
    for item_id, at in keys:
        by_time.setdefault(at, []).append(item_id)
    for at, item_ids in by_time.items():
        pending = _pending_sets(session, item_ids, at)
        in_force = _rows_in_force(session, list(pending), at) if pending else {}
        for item_id, sets in pending.items():
            before = in_force[item_id]
            shown = found[(item_id, at)]
            for upcoming in sets:
                kept = {(row.tier_code, row.credit_level) for row in upcoming.rows}
                shown.extend(
                    ScheduledRow(row.tier_code, row.credit_level, row.points, upcoming.effective_at)
                    for row in upcoming.rows
                )
                shown.extend(
                    ScheduledRow(row.tier_code, row.credit_level, None, upcoming.effective_at)
                    for row in before
                    if (row.tier_code, row.credit_level) not in kept
                )
                before = upcoming.rows
    return found


def set_member_prices(
    session: Session,
    item_id: int,
    rows: Sequence[PriceRowInput],
    now: datetime,
    notice: timedelta,
) -> None:
    """Publish an item's member prices. A new publication replaces whatever was still
    pending: a set equal to the one in force cancels a pending change (an increase or a
    removal), publishing the pending set again keeps its date, any other set is scheduled
    afresh (at once when it is no worse for anyone than the set in force, else after the
    notice, CR-07)."""
    old = _rows_in_force(session, [item_id], now)[item_id]
    pending = _pending_sets(session, [item_id], now).get(item_id, [])
    wanted = _key(rows)
    if pending and len(pending) == 1 and _key(pending[0].rows) == wanted:
        return  # the pending change published again: it keeps its date
    if pending:
        ids = [found.set_id for found in pending]
        session.execute(delete(MemberPrice).where(MemberPrice.set_id.in_(ids)))
        session.execute(delete(MemberPriceSet).where(MemberPriceSet.id.in_(ids)))
        session.flush()
    if _key(old) == wanted:
        return  # unchanged, and nothing pending any longer
    effective = now + notice if _worse_for_someone(old, rows) else now
    published = MemberPriceSet(item_id=item_id, effective_at=effective, created_at=now)
    session.add(published)
    session.flush()
    session.add_all(
        MemberPrice(
            set_id=published.id,
            tier_code=row.tier_code,
            credit_level=row.credit_level,
            points=row.points,
        )
        for row in rows
    )
    session.flush()


def upsert_items_with_member_prices(
    session: Session,
    partner_id: int,
    items: Sequence[ItemInput],
    member_price_rows: Sequence[Sequence[PriceRowInput] | None],
    now: datetime,
    notice: timedelta = DEFAULT_PRICE_NOTICE,
) -> list[tuple[int, str]]:
    """``upsert_items``, then each item's member prices (None keeps them as published)."""
    for index, (item, rows) in enumerate(zip(items, member_price_rows, strict=True)):
        if rows is not None:
            _check(index, rows, item.base_points)
    published = upsert_items(session, partner_id, items, now, notice)
    for (item_id, _), rows in zip(published, member_price_rows, strict=True):
        if rows is not None:
            set_member_prices(session, item_id, rows, now, notice)
    return published


@dataclass(frozen=True, slots=True)
class MemberPriceApplied:
    row_id: int
    tier_code: str | None
    credit_level: str | None
    points: int


def best_member_price(
    session: Session, item_id: int, member_id: int, points: int, at: datetime
) -> MemberPriceApplied | None:
    """The lowest member price below ``points`` the member qualifies for now: a tier row
    for their tier or a lower one in the schedule in force; a credit row only with their
    consent to credit-linked benefits, for their level or a lower (worse) one."""
    rows = _rows_in_force(session, [item_id], at)[item_id]
    if not rows:
        return None
    held = standing(session, member_id, at)
    ranks = {tier.code: tier.rank for tier in held.schedule.tiers}
    row = session.execute(
        select(Member.credit_level, PrivacyPreferences.credit_benefits)
        .outerjoin(PrivacyPreferences, PrivacyPreferences.member_id == Member.id)
        .where(Member.id == member_id)
    ).one()
    level = row.credit_level if row.credit_benefits else None
    best: PriceRow | None = None
    for price in rows:
        if price.tier_code is not None:
            rank = ranks.get(price.tier_code)
            if rank is None or held.tier.rank < rank:
                continue
        if price.credit_level is not None and (
            level is None or LEVELS.index(level) > LEVELS.index(price.credit_level)
        ):
            continue
        if price.points < points and (best is None or price.points < best.points):
            best = price
    if best is None:
        return None
    return MemberPriceApplied(best.id, best.tier_code, best.credit_level, best.points)


def credit_level_shared(session: Session, partner_id: int, member_id: int) -> bool:
    """Whether the member lets this partner see their credit level (CR-10)."""
    return bool(
        session.execute(
            select(Consent.credit_level).where(
                Consent.member_id == member_id,
                Consent.partner_id == partner_id,
                Consent.revoked_at.is_(None),
            )
        ).scalar_one_or_none()
    )
