"""CR-08 monitoring against operator thresholds: points earned per member per day,
spends (redemptions, reservations, donations) per member per day, points earned and at
once spent on liquid items, repeated days just under the earning threshold, and a
partner's issuance far above its own trailing average. Days are UTC calendar days.

Screening a member's earning or spend first locks the member (``ledger.lock_member``), so
two racing requests for one member are screened and posted one after the other and a
hard limit holds under concurrency (docs/ledger.md, the global lock order)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import cast

from sqlalchemy import String, Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from compliance.errors import CaseNotFound, ComplianceSettingError, ComplianceViolation
from compliance.models import AmlCase, AmlThreshold, LiquidRedemption, PartnerDailyIssuance
from compliance.rules import aml_limit
from compliance.text import readings, skeleton
from compliance.vocabulary import Term, Vocabulary
from core import metrics
from core.db import dialect_insert, forget_memo, unit_memo
from events import EventType, emit, global_id
from ledger import accounts, lock_member
from ledger.models import Transfer, TransferCode


class Pattern(StrEnum):
    EARNED_PER_MEMBER_DAY = "EARNED_PER_MEMBER_DAY"
    REDEMPTIONS_PER_MEMBER_DAY = "REDEMPTIONS_PER_MEMBER_DAY"
    # Points earned in the last LIQUID_WINDOW and spent at once on liquid items, counted
    # over the member's liquid redemptions in that window together.
    FAST_LIQUID_REDEMPTION = "FAST_LIQUID_REDEMPTION"
    # Days of the last STRUCTURING_DAYS whose earning ended just under the daily soft limit.
    DAYS_JUST_UNDER_LIMIT = "DAYS_JUST_UNDER_LIMIT"
    # A partner's issuance today, in percent of its trailing daily average.
    PARTNER_ISSUANCE_SPIKE = "PARTNER_ISSUANCE_SPIKE"


# Until the operator sets them: (soft, hard).
DEFAULTS = {
    Pattern.EARNED_PER_MEMBER_DAY: (20_000, 100_000),
    Pattern.REDEMPTIONS_PER_MEMBER_DAY: (20, 50),
    Pattern.FAST_LIQUID_REDEMPTION: (2_000, 50_000),
    Pattern.DAYS_JUST_UNDER_LIMIT: (2, 4),
    Pattern.PARTNER_ISSUANCE_SPIKE: (500, 5_000),
}

# Vouchers resell easily: the kind of item a launderer turns fresh points into.
LIQUID_KINDS = frozenset({"VOUCHER"})
# Liquidity is not left to the kind a partner declares: an item whose title or category
# reads like a voucher (read as the vocabulary guard reads, so "Snack vouchers", "e-coupon",
# 电影兑换券 match) is screened as a VOUCHER whatever it was published as.
# Chinese words are read with Traditional forms folded (兌換碼 reads 兑换码), and the common
# misspelling 兑换卷 counts; a code or card that redeems goods or a membership (提货卡, 卡密,
# 激活码, 视频会员月卡) resells as easily as a voucher.
VOUCHER_WORDS = (
    "voucher",
    "coupon",
    "gift code",
    "redemption code",
    "券",
    "兑换码",
    "兑换卷",
    "兑换卡",
    "提货卡",
    "提货码",
    "提货凭证",
    "卡密",
    "礼品码",
    "激活码",
    "会员月卡",
    "会员季卡",
    "会员年卡",
    "会员周卡",
)
_VOUCHER_LIKE = Vocabulary([Term(word, "CR-05") for word in VOUCHER_WORDS])
# Latin voucher words also glued inside a word (snackvoucher, cinemacoupon, GiftCode), read
# on the skeleton (compliance.text.skeleton: look-alikes and stand-in digits as letters, i and
# l one letter). No English word holds them but their own forms (voucher's, coupons).
_GLUED = tuple(
    skeleton(word).letters for word in ("voucher", "coupon", "giftcode", "redemptioncode")
)


def _voucher_like(text: str) -> bool:
    if _VOUCHER_LIKE.violation(text) is not None:
        return True
    return any(glued in skeleton(reading).letters for reading in readings(text) for glued in _GLUED)


def screened_kind(kind: str, title: str, category: str) -> str:
    """The kind AML screens an item as: its declared kind, or VOUCHER when its title or
    category reads like one."""
    if kind in LIQUID_KINDS:
        return kind
    if any(_voucher_like(text) for text in (title, category)):
        return "VOUCHER"
    return kind


LIQUID_WINDOW = timedelta(minutes=30)
STRUCTURING_DAYS = 7
JUST_UNDER = Fraction(9, 10)  # "just under" = at least 90 % of the soft limit
TRAILING_DAYS = 28
MIN_HISTORY_DAYS = 7  # a partner's average means something after a week of issuance
MAX_EVIDENCE = 100


_THRESHOLDS = "aml.thresholds"


def _all_thresholds(session: Session) -> dict[str, tuple[int, int]]:
    """Every pattern's (soft, hard), the operator's where set, else the default: one
    statement, once per unit of work (an award screens four patterns)."""

    def read() -> dict[str, tuple[int, int]]:
        found = {pattern.value: limits for pattern, limits in DEFAULTS.items()}
        rows = session.execute(select(AmlThreshold.pattern, AmlThreshold.soft, AmlThreshold.hard))
        for pattern, soft, hard in rows:
            if pattern in found:
                found[pattern] = (int(soft), int(hard))
        return found

    return unit_memo(session, _THRESHOLDS, read)


def thresholds(session: Session, pattern: Pattern) -> tuple[int, int]:
    return _all_thresholds(session)[pattern.value]


def set_threshold(
    session: Session, pattern: str, soft: int, hard: int, now: datetime
) -> tuple[int, int]:
    if pattern not in Pattern.__members__:
        raise ComplianceSettingError(f"unknown pattern {pattern!r}", ["pattern"])
    if not 0 < soft <= hard:
        raise ComplianceSettingError("thresholds need 0 < soft <= hard", ["soft"])
    forget_memo(session, _THRESHOLDS)
    row = session.get(AmlThreshold, pattern)
    if row is None:
        session.add(AmlThreshold(pattern=pattern, soft=soft, hard=hard, updated_at=now))
    else:
        row.soft, row.hard, row.updated_at = soft, hard, now
    session.flush()
    return soft, hard


def _day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


# A member's spends: a redemption (straight, or reserved whatever became of the
# reservation) and a donation (CR-06) each count once towards REDEMPTIONS_PER_MEMBER_DAY.
SPEND_CODES = (TransferCode.REDEEM.value, TransferCode.HOLD.value, TransferCode.DONATE.value)


def redemptions_today(session: Session, member_id: int, now: datetime) -> int:
    """The member's spends today: redemptions, reservations and donations."""
    count = session.execute(
        select(func.count(Transfer.id)).where(
            Transfer.debit_account_id == accounts.member(member_id),
            Transfer.code.in_(SPEND_CODES),
            Transfer.created_at >= _day(now),
            Transfer.created_at < _day(now) + timedelta(days=1),
        )
    ).scalar_one()
    return int(count)


# Points a member earns: awards, and the compensation a partner issues with a refund
# (CR-12), which AML counts as points earned that day.
EARNING_CODES = ("earn", "compensate")


# Built once: a redemption of a liquid item reads it every time.
_EARNS_SINCE = select(Transfer.id, Transfer.created_at, Transfer.amount).where(
    Transfer.credit_account_id == bindparam("account"),
    Transfer.code.in_(EARNING_CODES),
    Transfer.created_at >= bindparam("since"),
)


def _earns_since(
    session: Session, member_id: int, since: datetime, until: datetime | None = None
) -> list[tuple[int, datetime, int]]:
    """The member's earnings (awards and compensation) in ``[since, until)``: (id,
    created_at, amount)."""
    query = _EARNS_SINCE
    if until is not None:
        query = query.where(Transfer.created_at < until)
    rows = session.execute(query, {"account": accounts.member(member_id), "since": since}).all()
    return [(int(i), created_at, int(amount)) for i, created_at, amount in rows]


def fast_liquid_points(
    session: Session, member_id: int, kind: str, points: int, now: datetime
) -> tuple[int, list[int]]:
    """For a redemption of ``points`` on an item of ``kind``: how many fresh points (earned
    within the last LIQUID_WINDOW) the member's liquid redemptions of that window, this
    one included, could have taken (0 for an illiquid item, or when this one can take
    none), and the earn transfers involved.

    Cumulative, so splitting does not help: with 120 fresh points, two redemptions of 60
    read 60 then 120, as one of 120 reads 120. In time order, each liquid redemption takes
    what it can of the fresh points earned before it and not yet taken; a liquid
    redemption before the earnings takes none of them."""
    if kind not in LIQUID_KINDS:
        return 0, []
    since = now - LIQUID_WINDOW
    earns = _earns_since(session, member_id, since)
    spent = session.execute(
        select(LiquidRedemption.at, LiquidRedemption.points).where(
            LiquidRedemption.member_id == member_id, LiquidRedemption.at >= since
        )
    ).all()
    events = sorted(
        [(at, 0, amount) for _, at, amount in earns]
        + [(at, 1, int(amount)) for at, amount in spent]
    )
    fresh = taken = 0
    for _, is_spend, amount in events:
        if is_spend:
            share = min(amount, fresh)
            fresh, taken = fresh - share, taken + share
        else:
            fresh += amount
    share = min(points, fresh)
    return (taken + share if share else 0), [i for i, _, _ in earns]


def earned_by_day(
    session: Session, member_id: int, adding: int, now: datetime
) -> dict[datetime, int]:
    """Points the member earned on each UTC day of the last STRUCTURING_DAYS, today
    counted with ``adding`` more: one read serves both daily-earning patterns."""
    today = _day(now)
    since = today - timedelta(days=STRUCTURING_DAYS - 1)
    per_day = {today: adding}
    # Summed by the store, one row a day: a member with thousands of earnings this week
    # costs the same Python as one with a few (the award path reads this every time).
    if session.get_bind().dialect.name == "sqlite":  # naive UTC text, 'YYYY-MM-DD ...'
        day = func.substr(Transfer.created_at, 1, 10, type_=String)
    else:
        day = func.to_char(func.timezone("UTC", Transfer.created_at), "YYYY-MM-DD", type_=String)
    rows = session.execute(
        select(day, func.sum(Transfer.amount))
        .where(
            Transfer.credit_account_id == accounts.member(member_id),
            Transfer.code.in_(EARNING_CODES),
            Transfer.created_at >= since,
            Transfer.created_at < today + timedelta(days=1),
        )
        .group_by(day)
    ).all()
    for text, amount in rows:
        earned = datetime.fromisoformat(text).replace(tzinfo=UTC)
        per_day[earned] = per_day.get(earned, 0) + int(amount)
    return per_day


def days_just_under(per_day: dict[datetime, int], soft: int) -> int:
    """Days on which the member earned at least 90 % of the daily soft limit but stayed
    below it."""
    return sum(1 for total in per_day.values() if soft * JUST_UNDER <= total < soft)


_issuance = cast(Table, PartnerDailyIssuance.__table__)


def issuance_percent(session: Session, partner_id: int, adding: int, now: datetime) -> int:
    """The partner's issuance today (with ``adding`` more points) in percent of its daily
    average over the trailing TRAILING_DAYS, counted from its first day of issuance in
    that span; 0 until it has MIN_HISTORY_DAYS of history."""
    today = _day(now)
    rows = session.execute(
        select(PartnerDailyIssuance.day, PartnerDailyIssuance.points).where(
            PartnerDailyIssuance.partner_id == partner_id,
            PartnerDailyIssuance.day >= today - timedelta(days=TRAILING_DAYS),
        )
    ).all()
    past = [(day, int(points)) for day, points in rows if day < today]
    if not past:
        return 0
    days = (today - min(day for day, _ in past)).days
    total = sum(points for _, points in past)
    if days < MIN_HISTORY_DAYS or total <= 0:
        return 0
    today_points = sum(points for day, points in rows if day >= today) + adding
    return today_points * 100 * days // total


def record_issuance(session: Session, partner_id: int, points: int, now: datetime) -> None:
    """Add an award's points to the partner's day (one upsert; the budget row already
    serialises a partner's awards)."""
    insert = dialect_insert(session.get_bind().dialect.name, _issuance).values(
        partner_id=partner_id, day=_day(now), points=points
    )
    session.execute(
        insert.on_conflict_do_update(
            index_elements=["partner_id", "day"],
            set_={"points": _issuance.c.points + insert.excluded.points},
        )
    )


@dataclass(frozen=True, slots=True)
class Screening:
    """A pattern's figure after the operation; ``over_soft`` means a case must open."""

    pattern: Pattern
    observed: int
    over_soft: bool


def screen(session: Session, pattern: Pattern, observed: int) -> Screening:
    """Refuse over the hard limit (CR-08); report whether the soft one is crossed."""
    soft, hard = thresholds(session, pattern)
    return _screened(pattern, observed, soft, hard)


def screen_award(
    session: Session, *, member_id: int, partner_id: int, points: int, now: datetime
) -> list[Screening]:
    """Every member pattern an award (or compensation) of ``points`` touches, refused over
    a hard limit. Locks the member first: the caller must not hold a partner's account or
    budget row yet (docs/ledger.md). The partner's pattern is :func:`screen_issuance`,
    once the partner's budget row is locked."""
    lock_member(session, member_id)
    per_day = earned_by_day(session, member_id, points, now)
    soft, _ = thresholds(session, Pattern.EARNED_PER_MEMBER_DAY)
    return [
        screen(session, Pattern.EARNED_PER_MEMBER_DAY, per_day[_day(now)]),
        screen(session, Pattern.DAYS_JUST_UNDER_LIMIT, days_just_under(per_day, soft)),
    ]


def screen_issuance(session: Session, *, partner_id: int, points: int, now: datetime) -> Screening:
    """PARTNER_ISSUANCE_SPIKE for an award (or compensation) of ``points``. Call it after
    the partner's budget row is consumed (CR-02): that row serialises the partner's
    issuance, so the day's figure read here counts every award committed before it."""
    return screen(
        session,
        Pattern.PARTNER_ISSUANCE_SPIKE,
        issuance_percent(session, partner_id, points, now),
    )


def _limit(pattern: Pattern, column: str) -> object:
    return (
        select(getattr(AmlThreshold, column))
        .where(AmlThreshold.pattern == pattern.value)
        .scalar_subquery()
    )


_REDEMPTION_PATTERNS = (Pattern.REDEMPTIONS_PER_MEMBER_DAY, Pattern.FAST_LIQUID_REDEMPTION)
# A spend's screening figures in one row, one round trip: the member's spends today (as
# redemptions_today counts them) and the soft and hard limits of both patterns (NULL
# where the operator set none).
_REDEMPTION_SCREEN = select(
    select(func.count(Transfer.id))
    .where(
        Transfer.debit_account_id == bindparam("account"),
        Transfer.code.in_(SPEND_CODES),
        Transfer.created_at >= bindparam("day"),
        Transfer.created_at < bindparam("next_day"),
    )
    .scalar_subquery(),
    *(_limit(pattern, column) for pattern in _REDEMPTION_PATTERNS for column in ("soft", "hard")),
)


def _screened(pattern: Pattern, observed: int, soft: int | None, hard: int | None) -> Screening:
    """As :func:`screen`, with the limits already read (the defaults where unset)."""
    if soft is None or hard is None:
        soft, hard = DEFAULTS[pattern]
    violation = aml_limit(pattern.value, observed, hard)
    if violation is not None:
        raise ComplianceViolation(violation)
    return Screening(pattern, observed, observed > soft)


def screen_redemption(
    session: Session,
    *,
    member_id: int,
    kind: str,
    points: int,
    now: datetime,
    balance_seen: int | None = None,
) -> tuple[list[Screening], list[int]]:
    """Every pattern a spend of ``points`` on an item of ``kind`` touches (a donation's
    kind is CHARITY: counted, never liquid), and the earn transfers a fast liquid
    redemption would spend (evidence for its case). Locks the member first, refusing a
    spend the balance cannot cover (InsufficientPoints) before any pattern; a liquid
    redemption that passes is recorded for the next one's cumulative figure.
    ``balance_seen``: the member's committed balance, when the caller read it before any
    move of its transaction (``ledger.lock_member``). Today's spends and both patterns'
    limits are one statement."""
    lock_member(session, member_id, spending=points, balance_seen=balance_seen)
    fast, earns = fast_liquid_points(session, member_id, kind, points, now)
    today, *limits = session.execute(
        _REDEMPTION_SCREEN,
        {
            "account": accounts.member(member_id),
            "day": _day(now),
            "next_day": _day(now) + timedelta(days=1),
        },
    ).one()
    screenings = [
        _screened(Pattern.REDEMPTIONS_PER_MEMBER_DAY, int(today) + 1, limits[0], limits[1]),
        _screened(Pattern.FAST_LIQUID_REDEMPTION, fast, limits[2], limits[3]),
    ]
    if kind in LIQUID_KINDS:
        session.add(LiquidRedemption(member_id=member_id, points=points, at=now))
    return screenings, earns


def open_cases(
    session: Session,
    screenings: Sequence[Screening],
    *,
    member_id: int,
    partner_id: int,
    evidence: Sequence[int],
    now: datetime,
) -> None:
    for screening in screenings:
        open_case(
            session,
            screening,
            member_id=member_id,
            partner_id=partner_id,
            evidence=evidence,
            now=now,
        )


PARTNER_PATTERNS = frozenset({Pattern.PARTNER_ISSUANCE_SPIKE})


def open_case(
    session: Session,
    screening: Screening,
    *,
    member_id: int,
    partner_id: int,
    evidence: Sequence[int],
    now: datetime,
) -> None:
    """Open a case for a screening over its soft limit. While a case of the same pattern
    for the same member (the same partner, for partner patterns) is still open, the new
    evidence joins it (the last MAX_EVIDENCE transfers) instead of flooding the queue."""
    if not screening.over_soft:
        return
    same = select(AmlCase).where(
        AmlCase.pattern == screening.pattern.value,
        AmlCase.partner_id == partner_id,
        AmlCase.status == "OPEN",
    )
    if screening.pattern not in PARTNER_PATTERNS:
        same = same.where(AmlCase.member_id == member_id)
    case = session.execute(same.order_by(AmlCase.id.desc()).limit(1)).scalar_one_or_none()
    if case is not None:
        known = json.loads(case.evidence)
        joined = known + [e for e in evidence if e not in known]
        case.evidence = json.dumps(joined[-MAX_EVIDENCE:])
        case.observed = max(case.observed, screening.observed)
        session.flush()
        return
    case = AmlCase(
        opened_at=now,
        pattern=screening.pattern.value,
        member_id=member_id,
        partner_id=partner_id,
        observed=screening.observed,
        evidence=json.dumps(list(evidence)),
        status="OPEN",
    )
    session.add(case)
    session.flush()
    metrics.on_commit(session, metrics.AML_CASES_OPENED, case.pattern)
    emit(
        session,
        EventType.AML_CASE_OPENED,
        now=now,
        payload={
            "caseId": global_id("AmlCase", case.id),
            "pattern": case.pattern,
            "memberId": global_id("Member", member_id),
            "partnerId": global_id("Partner", partner_id),
            "observed": case.observed,
        },
        partner_id=partner_id,
        member_id=member_id,
    )


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
