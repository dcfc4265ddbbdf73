"""Perks (分层运营): entitlements a partner honours for members of some tiers, such as
"2 hours free parking per visit" or "a personal shopping guide". A perk is never points
and never money (CR-05): claiming one moves no points, and nothing turns it into either.
The partner publishes its perks; claims are idempotent, audited and limited per period
as published (docs/programme.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

import ledger
from compliance.errors import ComplianceViolation
from compliance.vocabulary import vocabulary
from core.db import insert_if_absent
from members.errors import MemberError
from members.models import Perk, PerkClaim, PerkPeriod, PerkUse
from members.registration import consented_member
from members.tiers import standing
from partners.models import Partner
from partners.registry import require_active

MAX_PERKS = 50
MAX_LIMIT = 1000
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


class PerkNotFound(MemberError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no perk of yours with this code", ["perkCode"])


class PerkLimitReached(MemberError):
    code = "LIMIT_EXCEEDED"

    def __init__(self, limit: int, period: str) -> None:
        super().__init__(
            f"the member already claimed this perk {limit} times this {period.lower()}",
            ["perkCode"],
        )


class PerkNotForTier(MemberError):
    code = "FORBIDDEN"

    def __init__(self, tier: str) -> None:
        super().__init__(f"this perk is not for the member's tier ({tier})", ["perkCode"])


@dataclass(frozen=True, slots=True)
class PerkView:
    partner_id: int
    code: str
    name: str
    tier_codes: list[str]
    limit_per_period: int
    period: str


def _view(row: Perk) -> PerkView:
    return PerkView(
        row.partner_id,
        row.code,
        row.name,
        list(json.loads(row.tier_codes)),
        row.limit_per_period,
        row.period,
    )


def publish_perk(
    session: Session,
    *,
    partner_id: int,
    code: str,
    name: str,
    tier_codes: list[str],
    limit_per_period: int,
    period: str,
    now: datetime,
) -> PerkView:
    """Publish (or change) a perk the partner honours for members of ``tier_codes``. Its
    name is read like every published text: cash-like words are refused (CR-05)."""
    if not _CODE.match(code):
        raise MemberError(
            "a code is 1 to 32 capital letters, digits or _, starting with a letter", ["code"]
        )
    shown = name.strip()
    if not 1 <= len(shown) <= 100:
        raise MemberError("a perk's name is 1 to 100 characters", ["name"])
    violation = vocabulary(session).violation(shown)
    if violation is not None:
        raise ComplianceViolation(violation, ["name"])
    codes = sorted(set(tier_codes))
    if not 1 <= len(codes) <= 10 or any(not _CODE.match(c) for c in codes):
        raise MemberError("name 1 to 10 tier codes (e.g. GOLD)", ["tierCodes"])
    if type(limit_per_period) is not int or not 1 <= limit_per_period <= MAX_LIMIT:
        raise MemberError(f"limitPerPeriod is 1 to {MAX_LIMIT}", ["limitPerPeriod"])
    if period not in PerkPeriod.__members__:
        raise MemberError("period is DAY, WEEK, MONTH or YEAR", ["period"])
    row = session.execute(
        select(Perk).where(Perk.partner_id == partner_id, Perk.code == code).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        count = len(session.execute(select(Perk.id).where(Perk.partner_id == partner_id)).all())
        if count >= MAX_PERKS:
            raise MemberError(f"at most {MAX_PERKS} perks per partner", ["code"])
        row = Perk(partner_id=partner_id, code=code, created_at=now)
        session.add(row)
    row.name = shown
    row.tier_codes = json.dumps(codes)
    row.limit_per_period = limit_per_period
    row.period = period
    row.updated_at = now
    session.flush()
    return _view(row)


def period_start(period: str, day: date) -> date:
    if period == PerkPeriod.DAY:
        return day
    if period == PerkPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    if period == PerkPeriod.MONTH:
        return day.replace(day=1)
    return day.replace(month=1, day=1)


@dataclass(frozen=True, slots=True)
class PerkClaimResult:
    claim_id: int
    perk_code: str
    member_id: int
    used: int
    limit_per_period: int
    period: str
    period_start: str


_uses = cast(Table, PerkUse.__table__)


def claim_perk(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    partner_id: int,
    member_id: int,
    perk_code: str,
    now: datetime,
    client_id: str | None,
) -> PerkClaimResult:
    """The partner honours its perk for a consenting member of a listed tier: idempotent
    (a replay is the first claim), recorded, and within the published limit for the
    period, held by a conditional increment so racing claims cannot pass it. No points
    move."""
    payload = {"partner_id": partner_id, "member_id": member_id, "perk_code": perk_code}

    def body(operation_id: int) -> PerkClaimResult:
        require_active(session, partner_id)
        consented_member(session, partner_id, member_id)
        perk = session.execute(
            select(Perk).where(Perk.partner_id == partner_id, Perk.code == perk_code)
        ).scalar_one_or_none()
        if perk is None:
            raise PerkNotFound()
        tier = standing(session, member_id, now).tier
        if tier.code not in json.loads(perk.tier_codes):
            raise PerkNotForTier(tier.code)
        start = period_start(perk.period, now.date())
        insert_if_absent(
            session,
            _uses,
            {"perk_id": perk.id, "member_id": member_id, "period_start": start, "used": 0},
        )
        used = session.execute(
            update(PerkUse)
            .where(
                PerkUse.perk_id == perk.id,
                PerkUse.member_id == member_id,
                PerkUse.period_start == start,
                PerkUse.used < perk.limit_per_period,
            )
            .values(used=PerkUse.used + 1)
            .returning(PerkUse.used)
        ).scalar_one_or_none()
        if used is None:
            raise PerkLimitReached(perk.limit_per_period, perk.period)
        claim = PerkClaim(
            perk_id=perk.id,
            member_id=member_id,
            tier_code=tier.code,
            client_id=client_id,
            claimed_at=now,
        )
        session.add(claim)
        session.flush()
        return PerkClaimResult(
            claim.id,
            perk.code,
            member_id,
            int(used),
            perk.limit_per_period,
            perk.period,
            start.isoformat(),
        )

    return ledger.run_idempotent(session, key, "claim_perk", payload, PerkClaimResult, now, body)


@dataclass(frozen=True, slots=True)
class ClaimablePerk:
    perk: PerkView
    partner_code: str
    remaining: int
    period_start: date


def claimable_perks(
    session: Session, member_id: int, partner_id: int | None, at: datetime
) -> list[ClaimablePerk]:
    """The perks the member may claim now: of their tier, with claims left this period,
    at active partners; only the asking partner's own perks when a partner asks."""
    tier = standing(session, member_id, at).tier
    query = (
        select(Perk, Partner.code)
        .join(Partner, Partner.id == Perk.partner_id)
        .where(Partner.status == "ACTIVE")
        .order_by(Partner.code, Perk.code)
    )
    if partner_id is not None:
        query = query.where(Perk.partner_id == partner_id)
    rows = [(perk, code) for perk, code in session.execute(query)]
    eligible = [(p, c) for p, c in rows if tier.code in json.loads(p.tier_codes)]
    if not eligible:
        return []
    used = {
        (row.perk_id, row.period_start): row.used
        for row in session.execute(
            select(PerkUse).where(
                PerkUse.member_id == member_id,
                PerkUse.perk_id.in_([p.id for p, _ in eligible]),
            )
        ).scalars()
    }
    found = []
    for perk, code in eligible:
        start = period_start(perk.period, at.date())
        left = perk.limit_per_period - used.get((perk.id, start), 0)
        if left > 0:
            found.append(ClaimablePerk(_view(perk), code, left, start))
    return found
