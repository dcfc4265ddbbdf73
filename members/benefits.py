"""Credit-linked benefits (信用+积分): the operator's published credit schedule raises
accrual by credit level, only for members who consented to credit-linked benefits.

The schedule is the same for everyone at a level, published ahead (CR-07) and never a
price per person. The member's consent to the benefits is their own, kept in their
preferences and separate from any partner's consent to see the level (CR-10); a partner
sees only a "member benefits" factor in an award's breakdown, never the level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from compliance.errors import ComplianceViolation
from compliance.rules import Violation, no_retroactive_change
from core.db import insert_if_absent
from members.errors import MemberError
from members.models import (
    CreditLevel,
    CreditLevelBenefit,
    CreditSchedule,
    Member,
    PrivacyPreferences,
)
from members.tiers import (
    EPOCH,
    MAX_PROGRAMME_MULTIPLIER,
    TierError,
    version_in_force,
    versions_upcoming,
)
from partners.errors import PartnerError
from partners.terms import exact_decimal, plain


@dataclass(frozen=True, slots=True)
class CreditScheduleView:
    version: int
    effective_at: datetime
    levels: dict[str, Decimal]  # a level not listed earns x1

    def multiplier(self, level: str | None) -> Decimal:
        return Decimal(1) if level is None else self.levels.get(level, Decimal(1))


# Until the operator publishes one, credit levels change nothing.
DEFAULT_CREDIT_SCHEDULE = CreditScheduleView(0, EPOCH, {})


def _multiplier(field: list[str], value: object) -> Decimal:
    try:
        number = exact_decimal(".".join(field), value)
    except PartnerError as error:
        raise TierError(error.message, field) from error
    if not Decimal(1) <= number <= MAX_PROGRAMME_MULTIPLIER or number != number.quantize(
        Decimal("0.0001")
    ):
        raise TierError(
            "a multiplier is from 1 to 10 with at most four decimal places (a benefit, "
            "never a penalty)",
            field,
        )
    return plain(number)


def set_credit_schedule(
    session: Session,
    *,
    effective_at: datetime,
    levels: Sequence[tuple[str, object]],
    now: datetime,
    notice: timedelta,
) -> CreditScheduleView:
    """Publish the next version of the credit schedule from ``effective_at``: in the
    future and at least the operator's notice period ahead (CR-07)."""
    violation = no_retroactive_change(effective_at, now)
    if violation is not None:
        raise ComplianceViolation(violation, ["effectiveAt"])
    if effective_at < now + notice:
        raise ComplianceViolation(
            Violation("CR-07", f"a credit schedule is published at least {notice.days} days ahead"),
            ["effectiveAt"],
        )
    if len(levels) > len(CreditLevel):
        raise MemberError("at most one entry per credit level", ["levels"])
    found: dict[str, Decimal] = {}
    for index, (level, value) in enumerate(levels):
        if level not in CreditLevel.__members__:
            raise MemberError("level is one of A, B, C, D", ["levels", str(index), "level"])
        if level in found:
            raise MemberError("one entry per level", ["levels", str(index), "level"])
        found[level] = _multiplier(["levels", str(index), "earnMultiplier"], value)
    taken = session.execute(
        select(CreditSchedule.id).where(CreditSchedule.effective_at == effective_at)
    ).first()
    if taken is not None:
        raise MemberError("a credit schedule already takes effect at that time", ["effectiveAt"])
    version = (session.execute(select(func.max(CreditSchedule.version))).scalar() or 0) + 1
    schedule = CreditSchedule(version=version, effective_at=effective_at, created_at=now)
    session.add(schedule)
    session.flush()
    session.add_all(
        CreditLevelBenefit(schedule_id=schedule.id, level=level, earn_multiplier=multiplier)
        for level, multiplier in found.items()
    )
    session.flush()
    return CreditScheduleView(version, effective_at, dict(sorted(found.items())))


def _views(session: Session, rows: Sequence[CreditSchedule]) -> list[CreditScheduleView]:
    if not rows:
        return []
    levels: dict[int, dict[str, Decimal]] = {row.id: {} for row in rows}
    for entry in session.execute(
        select(CreditLevelBenefit)
        .where(CreditLevelBenefit.schedule_id.in_(list(levels)))
        .order_by(CreditLevelBenefit.level)
    ).scalars():
        levels[entry.schedule_id][entry.level] = plain(Decimal(entry.earn_multiplier))
    return [CreditScheduleView(row.version, row.effective_at, levels[row.id]) for row in rows]


def credit_schedule_in_force(session: Session, at: datetime) -> CreditScheduleView:
    row = version_in_force(session, CreditSchedule, at)
    return DEFAULT_CREDIT_SCHEDULE if row is None else _views(session, [row])[0]


@dataclass(frozen=True, slots=True)
class PublishedCredit:
    in_force: CreditScheduleView
    upcoming: list[CreditScheduleView]


def published_credit(session: Session, at: datetime) -> PublishedCredit:
    upcoming = versions_upcoming(session, CreditSchedule, at)
    return PublishedCredit(credit_schedule_in_force(session, at), _views(session, upcoming))


@dataclass(frozen=True, slots=True)
class MemberBenefit:
    """What the credit schedule gives a member now: a multiplier and the schedule's
    version. Deliberately no level: this is what a breakdown may show."""

    multiplier: Decimal
    version: int


def member_benefit(session: Session, member_id: int, at: datetime) -> MemberBenefit:
    """x1 unless the member consented to credit-linked benefits and their level has a
    published multiplier."""
    schedule = credit_schedule_in_force(session, at)
    if not schedule.levels:
        return MemberBenefit(Decimal(1), schedule.version)
    row = session.execute(
        select(Member.credit_level, PrivacyPreferences.credit_benefits)
        .outerjoin(PrivacyPreferences, PrivacyPreferences.member_id == Member.id)
        .where(Member.id == member_id)
    ).one_or_none()
    if row is None or not row.credit_benefits:
        return MemberBenefit(Decimal(1), schedule.version)
    return MemberBenefit(schedule.multiplier(row.credit_level), schedule.version)


def consent_to_credit_benefits(session: Session, member_id: int, now: datetime) -> None:
    """The member consented to credit-linked benefits (with the code of a registration
    that asked for it): turn the preference on, leaving the others as they are."""
    if not insert_if_absent(
        session,
        cast(Table, PrivacyPreferences.__table__),
        {
            "member_id": member_id,
            "personalised_offers": False,
            "marketing_messages": False,
            "credit_benefits": True,
            "updated_at": now,
        },
    ):
        row = session.get(PrivacyPreferences, member_id, with_for_update=True)
        assert row is not None
        row.credit_benefits = True
        row.updated_at = now
