"""CR-08 monitoring: daily earning and redemptions per member against operator thresholds."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from compliance.errors import CaseNotFound, ComplianceSettingError, ComplianceViolation
from compliance.models import AmlCase, AmlThreshold
from compliance.rules import aml_limit
from ledger import accounts
from ledger.models import Hold, Transfer


class Pattern(StrEnum):
    EARNED_PER_MEMBER_DAY = "EARNED_PER_MEMBER_DAY"
    REDEMPTIONS_PER_MEMBER_DAY = "REDEMPTIONS_PER_MEMBER_DAY"


# Until the operator sets them: (soft, hard).
DEFAULTS = {
    Pattern.EARNED_PER_MEMBER_DAY: (20_000, 100_000),
    Pattern.REDEMPTIONS_PER_MEMBER_DAY: (20, 50),
}


def thresholds(session: Session, pattern: Pattern) -> tuple[int, int]:
    row = session.get(AmlThreshold, pattern.value)
    return DEFAULTS[pattern] if row is None else (row.soft, row.hard)


def set_threshold(
    session: Session, pattern: str, soft: int, hard: int, now: datetime
) -> tuple[int, int]:
    if pattern not in Pattern.__members__:
        raise ComplianceSettingError(f"unknown pattern {pattern!r}", ["pattern"])
    if not 0 < soft <= hard:
        raise ComplianceSettingError("thresholds need 0 < soft <= hard", ["soft"])
    row = session.get(AmlThreshold, pattern)
    if row is None:
        session.add(AmlThreshold(pattern=pattern, soft=soft, hard=hard, updated_at=now))
    else:
        row.soft, row.hard, row.updated_at = soft, hard, now
    session.flush()
    return soft, hard


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def earned_today(session: Session, member_id: int, now: datetime) -> int:
    total = session.execute(
        select(func.coalesce(func.sum(Transfer.amount), 0)).where(
            Transfer.credit_account_id == accounts.member(member_id),
            Transfer.code == "earn",
            Transfer.created_at >= _day(now),
            Transfer.created_at < _day(now) + timedelta(days=1),
        )
    ).scalar_one()
    return int(total)


def redemptions_today(session: Session, member_id: int, now: datetime) -> int:
    count = session.execute(
        select(func.count(Hold.id)).where(
            Hold.member_id == member_id,
            Hold.created_at >= _day(now),
            Hold.created_at < _day(now) + timedelta(days=1),
        )
    ).scalar_one()
    return int(count)


@dataclass(frozen=True, slots=True)
class Screening:
    """A pattern's figure after the operation; ``over_soft`` means a case must open."""

    pattern: Pattern
    observed: int
    over_soft: bool


def screen(session: Session, pattern: Pattern, observed: int) -> Screening:
    """Refuse over the hard limit (CR-08); report whether the soft one is crossed."""
    soft, hard = thresholds(session, pattern)
    violation = aml_limit(pattern.value, observed, hard)
    if violation is not None:
        raise ComplianceViolation(violation)
    return Screening(pattern, observed, observed > soft)


def open_case(
    session: Session,
    screening: Screening,
    *,
    member_id: int,
    partner_id: int,
    evidence: Sequence[int],
    now: datetime,
) -> None:
    if not screening.over_soft:
        return
    session.add(
        AmlCase(
            opened_at=now,
            pattern=screening.pattern.value,
            member_id=member_id,
            partner_id=partner_id,
            observed=screening.observed,
            evidence=json.dumps(list(evidence)),
            status="OPEN",
        )
    )
    session.flush()


@dataclass(frozen=True, slots=True)
class CaseView:
    id: int
    opened_at: datetime
    pattern: str
    member_id: int
    partner_id: int
    observed: int
    evidence: list[int]
    status: str
    note: str | None


def _view(case: AmlCase) -> CaseView:
    return CaseView(
        case.id,
        case.opened_at,
        case.pattern,
        case.member_id,
        case.partner_id,
        case.observed,
        json.loads(case.evidence),
        case.status,
        case.note,
    )


def cases_page(
    session: Session, *, limit: int, before_id: int | None, status: str | None
) -> list[CaseView]:
    query = select(AmlCase)
    if before_id is not None:
        query = query.where(AmlCase.id < before_id)
    if status is not None:
        query = query.where(AmlCase.status == status)
    return [
        _view(c)
        for c in session.execute(query.order_by(AmlCase.id.desc()).limit(limit + 1)).scalars()
    ]


def resolve_case(
    session: Session, case_id: int, status: str, note: str | None, now: datetime
) -> CaseView:
    if status not in ("REVIEWED", "CLOSED"):
        raise ComplianceSettingError("a case is resolved as REVIEWED or CLOSED", ["status"])
    changed = session.execute(
        update(AmlCase)
        .where(AmlCase.id == case_id, AmlCase.status != "CLOSED")
        .values(status=status, note=note, resolved_at=now)
        .returning(AmlCase.id)
    ).first()
    if changed is None:
        raise CaseNotFound()
    case = session.get(AmlCase, case_id)
    assert case is not None
    session.refresh(case)
    return _view(case)
