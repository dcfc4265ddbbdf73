"""Member tiers (分层运营): the alliance's published tier schedule and each member's tier.

A tier schedule is versioned and published ahead (CR-07): it takes effect at a future
time, at least the operator's notice period away, and never changes what was awarded.
A member's tier follows the points they EARNED (awards, net of refunds; never the
balance) over the rolling qualifying window of 365 days, and optionally a number of
qualifying orders. Upgrades happen inside the award that crosses the threshold;
downgrades only in the yearly evaluation (``alliance-hub tiers evaluate``), after the
member's qualifying year and one year of grace. docs/programme.md explains it all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BigInteger,
    CursorResult,
    Date,
    Integer,
    Result,
    String,
    Table,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from compliance.errors import ComplianceViolation
from compliance.rules import Violation, no_retroactive_change
from core.db import UTCDateTime, insert_if_absent
from events import EventType
from events.outbox import bound_text, emit_from_select, sql_global_id, sql_json_object
from ledger.models import Lot
from members.errors import MemberError
from members.events import emit_member_event, sql_consenting_partners
from members.models import (
    Award,
    CreditSchedule,
    Member,
    MemberTier,
    Tier,
    TierChange,
    TierChangeReason,
    TierSchedule,
)
from partners.errors import PartnerError
from partners.terms import exact_decimal, plain

QUALIFYING_WINDOW = timedelta(days=365)
# A tier is kept until the end of the qualifying year it was (re)earned in, plus a year.
GRACE = timedelta(days=365)
MAX_TIERS = 10
MAX_PERKS = 10
MAX_QUALIFYING_POINTS = 2**31 - 1
MAX_QUALIFYING_ORDERS = 100_000
# The highest factor any programme multiplier may publish; the operator's cap on the
# combined factor (HUB_MAX_COMBINED_FACTOR, default 3) bounds what is applied.
MAX_PROGRAMME_MULTIPLIER = Decimal(10)
DEFAULT_MAX_FACTOR = Decimal(3)
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class TierError(MemberError):
    code = "BAD_USER_INPUT"


@dataclass(frozen=True, slots=True)
class TierView:
    code: str
    name: str
    rank: int
    qualifying_points: int
    qualifying_orders: int
    earn_multiplier: Decimal
    perks: list[str]


@dataclass(frozen=True, slots=True)
class ScheduleView:
    version: int
    effective_at: datetime
    tiers: list[TierView]  # by rank, base tier first
    max_combined_factor: Decimal

    def tier(self, code: str, rank: int) -> TierView:
        """The tier with ``code``; a code this version lacks maps to its tier of the same
        rank (or its top tier), so a new schedule never drops a member to the base."""
        for tier in self.tiers:
            if tier.code == code:
                return tier
        return self.tiers[min(rank, len(self.tiers) - 1)]

    def qualifying(self, points: int, orders: int) -> TierView:
        """The highest tier whose thresholds the figures meet."""
        reached = self.tiers[0]
        for tier in self.tiers[1:]:
            if points >= tier.qualifying_points and orders >= tier.qualifying_orders:
                reached = tier
        return reached


# Until the operator publishes a schedule every member holds this one tier.
DEFAULT_SCHEDULE = ScheduleView(
    0, EPOCH, [TierView("MEMBER", "Member", 0, 0, 0, Decimal(1), [])], DEFAULT_MAX_FACTOR
)


@dataclass(frozen=True, slots=True)
class TierInput:
    code: str
    name: str
    qualifying_points: int
    qualifying_orders: int
    earn_multiplier: object
    perks: Sequence[str]


def _multiplier(field: list[str], value: object) -> Decimal:
    try:
        number = exact_decimal(".".join(field), value)
    except PartnerError as error:
        raise TierError(error.message, field) from error
    if not Decimal(1) <= number <= MAX_PROGRAMME_MULTIPLIER or number != number.quantize(
        Decimal("0.0001")
    ):
        raise TierError("a multiplier is from 1 to 10 with at most four decimal places", field)
    return plain(number)


def _check_tiers(tiers: Sequence[TierInput]) -> list[TierView]:
    if not 1 <= len(tiers) <= MAX_TIERS:
        raise TierError(f"a schedule has 1 to {MAX_TIERS} tiers", ["tiers"])
    views: list[TierView] = []
    for rank, tier in enumerate(tiers):
        where = ["tiers", str(rank)]
        if not _CODE.match(tier.code):
            raise TierError(
                "a tier code is 1 to 32 capital letters, digits or _, starting with a letter",
                [*where, "code"],
            )
        name = tier.name.strip()
        if not 1 <= len(name) <= 100:
            raise TierError("a tier name is 1 to 100 characters", [*where, "name"])
        if type(tier.qualifying_points) is not int or not (
            0 <= tier.qualifying_points <= MAX_QUALIFYING_POINTS
        ):
            raise TierError(
                "qualifyingPoints is a whole number from 0", [*where, "qualifyingPoints"]
            )
        if type(tier.qualifying_orders) is not int or not (
            0 <= tier.qualifying_orders <= MAX_QUALIFYING_ORDERS
        ):
            raise TierError(
                f"qualifyingOrders is a whole number from 0 to {MAX_QUALIFYING_ORDERS}",
                [*where, "qualifyingOrders"],
            )
        if len(tier.perks) > MAX_PERKS or any(not 1 <= len(p.strip()) <= 100 for p in tier.perks):
            raise TierError(
                f"at most {MAX_PERKS} perks, each 1 to 100 characters", [*where, "perks"]
            )
        multiplier = _multiplier([*where, "earnMultiplier"], tier.earn_multiplier)
        if rank == 0:
            if tier.qualifying_points != 0 or tier.qualifying_orders != 0:
                raise TierError(
                    "the base tier (the first) qualifies with 0 points and 0 orders: every "
                    "member holds a tier",
                    [*where, "qualifyingPoints"],
                )
        else:
            below = views[-1]
            if tier.qualifying_points <= below.qualifying_points:
                raise TierError(
                    "each tier needs more qualifying points than the one below",
                    [*where, "qualifyingPoints"],
                )
            if tier.qualifying_orders < below.qualifying_orders:
                raise TierError(
                    "a tier cannot need fewer qualifying orders than the one below",
                    [*where, "qualifyingOrders"],
                )
            if multiplier < below.earn_multiplier:
                raise TierError(
                    "a higher tier cannot earn less than the one below",
                    [*where, "earnMultiplier"],
                )
        if any(view.code == tier.code for view in views):
            raise TierError("tier codes are unique in a schedule", [*where, "code"])
        views.append(
            TierView(
                tier.code,
                name,
                rank,
                tier.qualifying_points,
                tier.qualifying_orders,
                multiplier,
                [p.strip() for p in tier.perks],
            )
        )
    return views


def set_tier_schedule(
    session: Session,
    *,
    effective_at: datetime,
    tiers: Sequence[TierInput],
    now: datetime,
    notice: timedelta,
    max_combined_factor: object = DEFAULT_MAX_FACTOR,
) -> ScheduleView:
    """Publish the next version of the tier schedule, in force from ``effective_at``:
    never in the past (CR-07), and at least the operator's notice period ahead, so every
    member learns a change before it applies. A version replaces no earlier one: each is
    kept, and the latest one in force applies."""
    violation = no_retroactive_change(effective_at, now)
    if violation is not None:
        raise ComplianceViolation(violation, ["effectiveAt"])
    if effective_at < now + notice:
        raise ComplianceViolation(
            Violation("CR-07", f"a tier schedule is published at least {notice.days} days ahead"),
            ["effectiveAt"],
        )
    views = _check_tiers(tiers)
    cap = _multiplier(["maxCombinedFactor"], max_combined_factor)
    if views[-1].earn_multiplier > cap:
        raise TierError(
            "no tier may earn more than the maximum combined factor",
            ["tiers", str(len(views) - 1), "earnMultiplier"],
        )
    taken = session.execute(
        select(TierSchedule.id).where(TierSchedule.effective_at == effective_at)
    ).first()
    if taken is not None:
        raise TierError("a schedule already takes effect at that time", ["effectiveAt"])
    version = (session.execute(select(func.max(TierSchedule.version))).scalar() or 0) + 1
    schedule = TierSchedule(
        version=version, effective_at=effective_at, max_combined_factor=cap, created_at=now
    )
    session.add(schedule)
    session.flush()
    session.add_all(
        Tier(
            schedule_id=schedule.id,
            rank=view.rank,
            code=view.code,
            name=view.name,
            qualifying_points=view.qualifying_points,
            qualifying_orders=view.qualifying_orders,
            earn_multiplier=view.earn_multiplier,
            perks=json.dumps(view.perks, ensure_ascii=False),
        )
        for view in views
    )
    session.flush()
    return ScheduleView(version, effective_at, views, cap)


def _schedules(session: Session, rows: Sequence[TierSchedule]) -> list[ScheduleView]:
    if not rows:
        return []
    tiers: dict[int, list[TierView]] = {row.id: [] for row in rows}
    for tier in session.execute(
        select(Tier).where(Tier.schedule_id.in_(list(tiers))).order_by(Tier.rank)
    ).scalars():
        tiers[tier.schedule_id].append(
            TierView(
                tier.code,
                tier.name,
                tier.rank,
                tier.qualifying_points,
                tier.qualifying_orders,
                plain(Decimal(tier.earn_multiplier)),
                list(json.loads(tier.perks)),
            )
        )
    return [
        ScheduleView(
            row.version, row.effective_at, tiers[row.id], plain(Decimal(row.max_combined_factor))
        )
        for row in rows
    ]


# The programme's versioned schedules (tiers, credit benefits) are read the same way.
Versioned = TypeVar("Versioned", TierSchedule, CreditSchedule)
MAX_UPCOMING = 20


def version_in_force(session: Session, model: type[Versioned], at: datetime) -> Versioned | None:
    """The schedule whose ``effective_at`` is the latest at or before ``at``."""
    return session.execute(
        select(model).where(model.effective_at <= at).order_by(model.effective_at.desc()).limit(1)
    ).scalar_one_or_none()


def versions_upcoming(session: Session, model: type[Versioned], at: datetime) -> list[Versioned]:
    """Schedules published to take effect after ``at``, soonest first (at most 20)."""
    return list(
        session.execute(
            select(model)
            .where(model.effective_at > at)
            .order_by(model.effective_at)
            .limit(MAX_UPCOMING)
        ).scalars()
    )


def schedule_in_force(session: Session, at: datetime) -> ScheduleView:
    row = version_in_force(session, TierSchedule, at)
    return DEFAULT_SCHEDULE if row is None else _schedules(session, [row])[0]


@dataclass(frozen=True, slots=True)
class PublishedTiers:
    in_force: ScheduleView
    upcoming: list[ScheduleView]


def published_tiers(session: Session, at: datetime) -> PublishedTiers:
    """The schedule in force at ``at`` and those published to follow, soonest first."""
    upcoming = versions_upcoming(session, TierSchedule, at)
    return PublishedTiers(schedule_in_force(session, at), _schedules(session, upcoming))


# -- members' tiers ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    """A member's tier under the schedule in force."""

    schedule: ScheduleView
    tier: TierView
    since: datetime
    qualified_at: datetime | None


def _standing(schedule: ScheduleView, row: MemberTier | None, joined: datetime | None) -> Standing:
    if row is None:
        return Standing(schedule, schedule.tiers[0], joined or EPOCH, None)
    return Standing(
        schedule, schedule.tier(row.tier_code, row.tier_rank), row.since, row.qualified_at
    )


def standing(
    session: Session, member_id: int, at: datetime, *, joined: datetime | None = None
) -> Standing:
    """The member's standing at ``at``; ``joined``, the member's ``created_at`` when the
    caller has it already (it never changes), spares its read."""
    row = session.get(MemberTier, member_id)
    if row is None and joined is None:
        joined = session.execute(
            select(Member.created_at).where(Member.id == member_id)
        ).scalar_one_or_none()
    return _standing(schedule_in_force(session, at), row, joined)


def standings(
    session: Session, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], Standing]:
    """Batched for the loaders: each ``(member id, at)``'s standing."""
    found: dict[tuple[int, datetime], Standing] = {}
    member_ids = sorted({member_id for member_id, _ in keys})
    rows = {
        row.member_id: row
        for row in session.execute(
            select(MemberTier).where(MemberTier.member_id.in_(member_ids))
        ).scalars()
    }
    joined: dict[int, datetime] = {
        member_id: created_at
        for member_id, created_at in session.execute(
            select(Member.id, Member.created_at).where(Member.id.in_(member_ids))
        )
    }
    schedules = {at: schedule_in_force(session, at) for at in {at for _, at in keys}}
    for member_id, at in keys:
        if member_id in joined:
            found[(member_id, at)] = _standing(
                schedules[at], rows.get(member_id), joined[member_id]
            )
    return found


def _earned_since(session: Session, member_id: int, start: datetime) -> tuple[int, int]:
    """Points earned from awards since ``start`` net of refunds, and the orders that
    still earn something: the qualifying figures."""
    net = Lot.points - Lot.reversed_points
    row = session.execute(
        select(
            func.coalesce(func.sum(net), 0),
            func.count(Award.id).filter(net > 0),
        )
        .select_from(Award)
        .join(Lot, Lot.id == Award.lot_id)
        .where(Award.member_id == member_id, Award.created_at > start)
    ).one()
    return int(row[0]), int(row[1])


@dataclass(frozen=True, slots=True)
class Progress:
    standing: Standing
    qualifying_points: int
    qualifying_orders: int
    next_tier: TierView | None
    points_to_next: int
    orders_to_next: int
    window_start: datetime
    window_end: datetime
    held_until: datetime | None  # the earliest a downgrade can happen; None for the base


def _progress(found: Standing, points: int, orders: int, at: datetime) -> Progress:
    above = [t for t in found.schedule.tiers if t.rank > found.tier.rank]
    following = above[0] if above else None
    held = (
        None
        if found.qualified_at is None or found.tier.rank == 0
        else found.qualified_at + QUALIFYING_WINDOW + GRACE
    )
    return Progress(
        found,
        points,
        orders,
        following,
        0 if following is None else max(0, following.qualifying_points - points),
        0 if following is None else max(0, following.qualifying_orders - orders),
        at - QUALIFYING_WINDOW,
        at,
        held,
    )


def progress(session: Session, member_id: int, at: datetime) -> Progress:
    """Where the member stands and what the next tier takes, explainably."""
    points, orders = _earned_since(session, member_id, at - QUALIFYING_WINDOW)
    return _progress(standing(session, member_id, at), points, orders, at)


def progresses(
    session: Session, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], Progress]:
    """Batched for the loaders: one GROUP BY over the members' earnings per instant."""
    found = standings(session, keys)
    by_time: dict[datetime, list[int]] = {}
    for member_id, at in keys:
        by_time.setdefault(at, []).append(member_id)
    net = Lot.points - Lot.reversed_points
    result: dict[tuple[int, datetime], Progress] = {}
    for at, member_ids in by_time.items():
        earned = {
            row[0]: (int(row[1]), int(row[2]))
            for row in session.execute(
                select(Award.member_id, func.sum(net), func.count(Award.id).filter(net > 0))
                .join(Lot, Lot.id == Award.lot_id)
                .where(Award.member_id.in_(member_ids), Award.created_at > at - QUALIFYING_WINDOW)
                .group_by(Award.member_id)
            )
        }
        for member_id in member_ids:
            standing_now = found.get((member_id, at))
            if standing_now is not None:
                points, orders = earned.get(member_id, (0, 0))
                result[(member_id, at)] = _progress(standing_now, points, orders, at)
    return result


@dataclass(frozen=True, slots=True)
class TierMove:
    from_code: str
    to_code: str
    reason: str


def _record(
    session: Session,
    member_id: int,
    *,
    before: TierView,
    after: TierView,
    reason: TierChangeReason,
    schedule: ScheduleView,
    points: int,
    orders: int,
    now: datetime,
    award_id: int | None = None,
    evaluated_on: date | None = None,
) -> TierMove:
    session.add(
        TierChange(
            member_id=member_id,
            from_code=before.code,
            to_code=after.code,
            reason=reason.value,
            schedule_version=schedule.version,
            qualifying_points=points,
            qualifying_orders=orders,
            award_id=award_id,
            evaluated_on=evaluated_on,
            at=now,
        )
    )
    emit_member_event(
        session,
        EventType.MEMBER_TIER_CHANGED,
        member_id=member_id,
        payload={
            "fromTier": before.code,
            "toTier": after.code,
            "reason": reason.value,
            "scheduleVersion": schedule.version,
        },
        now=now,
    )
    return TierMove(before.code, after.code, reason.value)


_member_tiers = cast(Table, MemberTier.__table__)
_tier_changes = cast(Table, TierChange.__table__)


def after_award(
    session: Session,
    member_id: int,
    award_id: int,
    now: datetime,
    held: Standing | None = None,
) -> TierMove | None:
    """Inside the award, after its points are issued: an upgrade when the member's
    qualifying figures now reach a higher tier; a re-earned tier restarts its qualifying
    year. The member's account lock (taken by the ledger) serialises a member's awards,
    and the conditional UPDATE makes a racing award unable to record the same upgrade."""
    found = standing(session, member_id, now) if held is None else held
    if len(found.schedule.tiers) == 1:
        return None  # one tier: nothing to reach
    points, orders = _earned_since(session, member_id, now - QUALIFYING_WINDOW)
    reached = found.schedule.qualifying(points, orders)
    if reached.rank < found.tier.rank:
        return None  # kept through the qualifying year and the grace year
    if reached.rank == found.tier.rank:
        if reached.rank > 0:
            session.execute(
                update(MemberTier).where(MemberTier.member_id == member_id).values(qualified_at=now)
            )
        return None
    values = {
        "member_id": member_id,
        "tier_code": reached.code,
        "tier_rank": reached.rank,
        "since": now,
        "qualified_at": now,
    }
    if not insert_if_absent(session, _member_tiers, values):
        moved = session.execute(
            update(MemberTier)
            .where(MemberTier.member_id == member_id, MemberTier.tier_rank < reached.rank)
            .values(**{k: v for k, v in values.items() if k != "member_id"})
            .returning(MemberTier.member_id)
        ).first()
        if moved is None:
            return None
    return _record(
        session,
        member_id,
        before=found.tier,
        after=reached,
        reason=TierChangeReason.UPGRADE,
        schedule=found.schedule,
        points=points,
        orders=orders,
        now=now,
        award_id=award_id,
    )


def after_reversal(
    session: Session, member_id: int, award_id: int, awarded_at: datetime, now: datetime
) -> TierMove | None:
    """A refunded award no longer counts. When the member reached their tier on or after
    it and no longer qualifies, the tier it carried them to is taken back (an upgrade
    bought and refunded is no upgrade); a tier earned before the refunded order stays."""
    row = session.get(MemberTier, member_id)
    if row is None or row.since < awarded_at:
        return None
    found = standing(session, member_id, now)
    points, orders = _earned_since(session, member_id, now - QUALIFYING_WINDOW)
    reached = found.schedule.qualifying(points, orders)
    if reached.rank >= found.tier.rank:
        return None
    session.execute(
        update(MemberTier)
        .where(MemberTier.member_id == member_id)
        .values(tier_code=reached.code, tier_rank=reached.rank, since=now, qualified_at=now)
    )
    return _record(
        session,
        member_id,
        before=found.tier,
        after=reached,
        reason=TierChangeReason.REVERSAL,
        schedule=found.schedule,
        points=points,
        orders=orders,
        now=now,
        award_id=award_id,
    )


@dataclass(frozen=True, slots=True)
class TierHistoryEntry:
    from_code: str
    to_code: str
    reason: str
    schedule_version: int
    qualifying_points: int
    at: datetime


def tier_history(session: Session, member_id: int, limit: int = 100) -> list[TierHistoryEntry]:
    return [
        TierHistoryEntry(
            row.from_code,
            row.to_code,
            row.reason,
            row.schedule_version,
            row.qualifying_points,
            row.at,
        )
        for row in session.execute(
            select(TierChange)
            .where(TierChange.member_id == member_id)
            .order_by(TierChange.id.desc())
            .limit(limit)
        ).scalars()
    ]


# -- the yearly evaluation ---------------------------------------------------------------


def evaluation_instant(day: date) -> datetime:
    """A day's evaluation looks at the window ending at that day's start (UTC)."""
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class EvaluationBatch:
    members: int  # members due in this batch; 0 when the evaluation is done
    downgraded: int
    kept: int
    last_member: int


def members_due(session: Session, day: date) -> int:
    """How many members are due for evaluation on ``day`` (for the progress count)."""
    cutoff = evaluation_instant(day) - QUALIFYING_WINDOW - GRACE
    return int(
        session.execute(
            select(func.count())
            .select_from(MemberTier)
            .where(MemberTier.tier_rank > 0, MemberTier.qualified_at <= cutoff)
        ).scalar_one()
    )


# Members per batch of ``alliance-hub tiers evaluate``: each batch is a handful of statements
# whatever its size (nothing per member passes through Python), so memory stays bounded.
EVALUATION_BATCH = 5000


def _case(subject: str, pairs: Sequence[tuple[str, str]], default: str | None = None) -> str:
    whens = " ".join(f"WHEN {when} THEN {then}" for when, then in pairs)
    return f"CASE {subject} {whens}" + ("" if default is None else f" ELSE {default}") + " END"


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def evaluate_batch(
    session: Session, day: date, after_member: int = 0, limit: int = EVALUATION_BATCH
) -> EvaluationBatch:
    """One batch of the evaluation of ``day``: the next ``limit`` members (by id, after
    ``after_member``) above the base tier whose qualifying year and year of grace ended by
    that day. Each moves to the tier their figures over the window reach (never up: only
    awards upgrade); the others keep their tier and restart their qualifying year.
    Idempotent for a day: a member evaluated on ``day`` is not due again until two years
    later.

    Set-based in the database, a few statements per batch whatever its size: one locks the
    batch's due members (PostgreSQL) and finds its id range; an ``INSERT ... SELECT``
    computes every due member's earnings (one GROUP BY over the range), current and reached
    tier, and writes the history rows of those who move down; an ``UPDATE ... FROM`` those
    rows moves them; an ``INSERT ... SELECT`` writes their ``member.tier_changed`` events
    (payload and consenting audience built by the database, byte for byte what
    ``emit_member_event`` writes); one UPDATE restarts the qualifying year of the rest.
    The SQL is put together from constants here (tier codes, figures and instants are bound
    parameters), hence the S608 waivers."""
    at = evaluation_instant(day)
    cutoff = at - QUALIFYING_WINDOW - GRACE
    dialect = session.get_bind().dialect.name
    lock = " FOR UPDATE" if dialect == "postgresql" else ""
    params: dict[str, object] = {"cutoff": cutoff, "after": after_member, "limit": limit}
    binds: list[BindParameter[Any]] = [
        bindparam("cutoff", type_=UTCDateTime()),
        bindparam("after", type_=BigInteger()),
        bindparam("limit", type_=Integer()),
    ]
    found = session.execute(
        bound_text(
            "SELECT COUNT(*), MAX(member_id) FROM (SELECT member_id FROM member_tiers "  # noqa: S608
            "WHERE tier_rank > 0 AND qualified_at <= :cutoff AND member_id > :after "
            f"ORDER BY member_id LIMIT :limit{lock}) AS due",
            binds,
        ),
        params,
    ).one()
    members = int(found[0])
    if members == 0:
        return EvaluationBatch(0, 0, 0, after_member)
    last = int(found[1])
    schedule = schedule_in_force(session, at)
    tiers = schedule.tiers
    top = len(tiers) - 1
    reason = TierChangeReason.DOWNGRADE.value
    params |= {
        "last": last,
        "start": at - QUALIFYING_WINDOW,
        "at": at,
        "day": day,
        "reason": reason,
        "version": schedule.version,
    }
    binds += [
        bindparam("last", type_=BigInteger()),
        bindparam("start", type_=UTCDateTime()),
        bindparam("at", type_=UTCDateTime()),
        bindparam("day", type_=Date()),
        bindparam("reason", type_=String()),
        bindparam("version", type_=Integer()),
    ]
    for tier in tiers:
        params |= {
            f"code{tier.rank}": tier.code,
            f"points{tier.rank}": tier.qualifying_points,
            f"orders{tier.rank}": tier.qualifying_orders,
        }
        binds += [
            bindparam(f"code{tier.rank}", type_=String()),
            bindparam(f"points{tier.rank}", type_=BigInteger()),
            bindparam(f"orders{tier.rank}", type_=BigInteger()),
        ]

    def code_of(rank: str) -> str:
        return _case(rank, [(str(t.rank), f":code{t.rank}") for t in tiers])

    def rank_of(code: str, otherwise: str = "NULL") -> str:
        return _case(code, [(f":code{t.rank}", str(t.rank)) for t in tiers], otherwise)

    # The member's tier under the schedule in force (ScheduleView.tier: by code, else by
    # rank, at most the top) and the highest tier their figures meet (.qualifying).
    current = rank_of(
        "t.tier_code", f"CASE WHEN t.tier_rank < {top} THEN t.tier_rank ELSE {top} END"
    )
    reached = _case(
        "",
        [
            (f"s.points >= :points{t.rank} AND s.orders >= :orders{t.rank}", str(t.rank))
            for t in reversed(tiers[1:])
        ],
        "0",
    )
    mark = session.execute(
        select(func.coalesce(func.max(TierChange.id), 0)).where(
            TierChange.member_id > after_member, TierChange.member_id <= last
        )
    ).scalar_one()
    net = "l.points - l.reversed_points"
    # The lots too by member range (an award's lot is its member's): PostgreSQL reads the
    # batch's lots by index instead of scanning them all for each batch.
    moved = _rowcount(
        session.execute(
            bound_text(
                "INSERT INTO member_tier_changes (member_id, from_code, to_code, reason, "  # noqa: S608
                "schedule_version, qualifying_points, qualifying_orders, award_id, evaluated_on, "
                f"at) SELECT r.member_id, {code_of('r.current_rank')}, "
                f"{code_of('r.reached_rank')}, :reason, :version, r.points, r.orders, NULL, :day, "
                ":at FROM (SELECT s.member_id, s.current_rank, s.points, s.orders, "
                f"{reached} AS reached_rank FROM (SELECT t.member_id, {current} AS current_rank, "
                "COALESCE(e.points, 0) AS points, COALESCE(e.orders, 0) AS orders "
                "FROM member_tiers AS t LEFT OUTER JOIN ("
                f"SELECT a.member_id AS member_id, SUM({net}) AS points, "
                f"COUNT(a.id) FILTER (WHERE {net} > 0) AS orders "
                "FROM member_awards AS a JOIN ledger_lots AS l ON l.id = a.lot_id "
                "WHERE a.member_id > :after AND a.member_id <= :last AND a.created_at > :start "
                "AND l.member_id > :after AND l.member_id <= :last "
                "AND a.created_at <= :at GROUP BY a.member_id) AS e ON e.member_id = t.member_id "
                "WHERE t.tier_rank > 0 AND t.qualified_at <= :cutoff AND t.member_id > :after "
                "AND t.member_id <= :last) AS s) AS r "
                "WHERE r.reached_rank < r.current_rank ORDER BY r.member_id",
                binds,
            ),
            params,
        )
    )
    params["mark"] = mark
    binds.append(bindparam("mark", type_=BigInteger()))
    written = (
        "c.member_id > :after AND c.member_id <= :last AND c.id > :mark "
        "AND c.reason = :reason AND c.evaluated_on = :day"
    )
    if moved:
        session.execute(
            bound_text(
                f"UPDATE member_tiers SET tier_code = c.to_code, tier_rank = "  # noqa: S608
                f"{rank_of('c.to_code')}, since = :at, qualified_at = :at "
                f"FROM member_tier_changes AS c WHERE c.member_id = member_tiers.member_id "
                f"AND {written}",
                binds,
            ),
            params,
        )
        payload = sql_json_object(
            dialect,
            {
                "memberId": sql_global_id(dialect, "Member", "c.member_id"),
                "fromTier": "c.from_code",
                "toTier": "c.to_code",
                "reason": "c.reason",
                "scheduleVersion": "c.schedule_version",
            },
        )
        audience = sql_consenting_partners(dialect, "c.member_id")
        emit_from_select(
            session,
            EventType.MEMBER_TIER_CHANGED,
            now=at,
            rows=(
                f"SELECT c.id AS seq, c.member_id AS member_id, {audience} AS audience, "  # noqa: S608
                f"{payload} AS payload FROM member_tier_changes AS c WHERE {written}"
            ),
            params=params,
            types=binds,
            order_by="seq",
        )
    kept = _rowcount(
        session.execute(
            bound_text(
                "UPDATE member_tiers SET qualified_at = :at WHERE tier_rank > 0 AND "
                "qualified_at <= :cutoff AND member_id > :after AND member_id <= :last",
                binds,
            ),
            params,
        )
    )
    return EvaluationBatch(members, moved, kept, last)
