"""Basket bonuses (积分联动消费): a partner's published rules over several categories in
one order. When an order has a line of at least ``min_line_amount_fen`` in every one of a
rule's categories, the rule adds ``bonus_points`` to the order, or multiplies the matched
lines by ``multiplier`` (inside the programme factor, capped like every programme
multiplier). Rules are evaluated in code order, each appears in the breakdown, and each
pays a member at most once a day (docs/programme.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, and_, func, select
from sqlalchemy.orm import Session

from compliance.errors import ComplianceViolation
from compliance.rules import cut_needs_notice, no_points_purchase, no_retroactive_change
from compliance.vocabulary import normalise
from core.db import insert_if_absent
from members.errors import MemberError
from members.models import BasketBonus, BasketBonusUse
from members.tiers import MAX_PROGRAMME_MULTIPLIER
from partners.catalog import DEFAULT_PRICE_NOTICE
from partners.errors import PartnerError
from partners.models import Partner
from partners.terms import exact_decimal, plain

MAX_CATEGORIES = 5
MAX_BONUS_POINTS = 100_000
MAX_RULES = 20
MAX_FEN = 2**31 - 1
_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,31}$")


@dataclass(frozen=True, slots=True)
class BasketRule:
    code: str
    categories: tuple[str, ...]  # normalised, sorted
    min_line_amount_fen: int
    bonus_points: int
    multiplier: Decimal
    effective_at: datetime

    @property
    def name(self) -> str:
        return f"basket bonus {self.code} of {self.effective_at.isoformat()}"

    @property
    def withdrawn(self) -> bool:
        return self.bonus_points == 0 and self.multiplier == 1


def _rule(row: BasketBonus) -> BasketRule:
    return BasketRule(
        row.code,
        tuple(json.loads(row.categories)),
        row.min_line_amount_fen,
        row.bonus_points,
        plain(Decimal(row.multiplier)),
        row.effective_at,
    )


def basket_lowers(old: BasketRule, new: BasketRule) -> bool:
    """Whether ``new`` gives some order less than ``old``: withdrawn, a smaller bonus or
    multiplier (a bonus turned into a multiplier or back counts as lower), a higher
    minimum line, or a category the old basket did not ask for. A withdrawn ``old`` gives
    nothing, so nothing is lower than it."""
    if old.withdrawn:
        return False
    return (
        new.withdrawn
        or new.bonus_points < old.bonus_points
        or new.multiplier < old.multiplier
        or new.min_line_amount_fen > old.min_line_amount_fen
        or not set(new.categories) <= set(old.categories)
    )


def set_basket_bonus(
    session: Session,
    *,
    partner_id: int,
    code: str,
    categories: Sequence[str],
    min_line_amount_fen: int,
    bonus_points: int,
    multiplier: object,
    effective_at: datetime,
    now: datetime,
    notice: timedelta = DEFAULT_PRICE_NOTICE,
) -> BasketRule:
    """Publish (a new version of) the basket bonus ``code`` from ``effective_at``, which
    must be in the future (CR-07), like every earning term. Either ``bonus_points`` or
    ``multiplier`` (not both); neither withdraws the code from ``effective_at``. A version
    that lowers what the basket gives (a smaller bonus or multiplier, a withdrawal, a
    higher minimum, categories that are not a subset of the ones before) takes effect at
    the earliest after the operator's notice period ``notice`` (CR-07), and so does a
    later published version that would then lower this one; a rise may apply at once."""
    violation = no_retroactive_change(effective_at, now)
    if violation is not None:
        raise ComplianceViolation(violation, ["effectiveAt"])
    if not _CODE.match(code):
        raise MemberError(
            "a code is 1 to 32 capital letters, digits or _, starting with a letter", ["code"]
        )
    names = sorted({normalise(category) for category in categories})
    if not 2 <= len(names) <= MAX_CATEGORIES or len(names) != len(categories):
        raise MemberError(
            f"a basket names 2 to {MAX_CATEGORIES} different categories", ["categories"]
        )
    if any(not name for name in names):
        raise MemberError("a category is not empty", ["categories"])
    refused = no_points_purchase(names)
    if refused is not None:
        raise ComplianceViolation(refused, ["categories"])
    if type(min_line_amount_fen) is not int or not 0 <= min_line_amount_fen <= MAX_FEN:
        raise MemberError("minLineAmountFen is a whole number of fen from 0", ["minLineAmountFen"])
    if type(bonus_points) is not int or not 0 <= bonus_points <= MAX_BONUS_POINTS:
        raise MemberError(
            f"bonusPoints is a whole number from 0 to {MAX_BONUS_POINTS}", ["bonusPoints"]
        )
    try:
        factor = exact_decimal("multiplier", multiplier)
    except PartnerError as error:
        raise MemberError(error.message, ["multiplier"]) from error
    if not 1 <= factor <= MAX_PROGRAMME_MULTIPLIER or factor != factor.quantize(Decimal("0.0001")):
        raise MemberError(
            "multiplier is from 1 to 10 with at most four decimal places", ["multiplier"]
        )
    if bonus_points > 0 and factor != 1:
        raise MemberError("a basket adds bonusPoints or multiplies, not both", ["multiplier"])
    # One partner's publications one after the other (two racing ones could each pass
    # against the versions the other has not yet written).
    session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())
    live = {rule.code for rule in rules_in_force(session, partner_id, effective_at)}
    if code not in live and len(live) >= MAX_RULES:
        raise MemberError(f"at most {MAX_RULES} basket bonuses at a time", ["code"])
    taken = session.execute(
        select(BasketBonus.id).where(
            BasketBonus.partner_id == partner_id,
            BasketBonus.code == code,
            BasketBonus.effective_at == effective_at,
        )
    ).first()
    if taken is not None:
        raise MemberError("this basket already changes at that time", ["effectiveAt"])
    published = BasketRule(
        code, tuple(names), min_line_amount_fen, bonus_points, factor, effective_at
    )
    versions = select(BasketBonus).where(
        BasketBonus.partner_id == partner_id, BasketBonus.code == code
    )
    before = session.execute(
        versions.where(BasketBonus.effective_at < effective_at)
        .order_by(BasketBonus.effective_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if before is not None and basket_lowers(_rule(before), published):
        violation = cut_needs_notice(f"this version of {code}", effective_at, now, notice)
        if violation is not None:
            raise ComplianceViolation(violation, ["effectiveAt"])
    after = session.execute(
        versions.where(BasketBonus.effective_at > effective_at)
        .order_by(BasketBonus.effective_at)
        .limit(1)
    ).scalar_one_or_none()
    if after is not None and basket_lowers(published, _rule(after)):
        violation = cut_needs_notice(
            f"the version of {code} published for {after.effective_at.isoformat()}, after "
            "this one,",
            after.effective_at,
            now,
            notice,
        )
        if violation is not None:
            raise ComplianceViolation(violation, ["effectiveAt"])
    row = BasketBonus(
        partner_id=partner_id,
        code=code,
        categories=json.dumps(names, ensure_ascii=False),
        min_line_amount_fen=min_line_amount_fen,
        bonus_points=bonus_points,
        multiplier=factor,
        effective_at=effective_at,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return _rule(row)


def rules_in_force(session: Session, partner_id: int, at: datetime) -> list[BasketRule]:
    """The partner's basket bonuses in force at ``at``, by code (the evaluation order)."""
    return (
        published_baskets(session, [(partner_id, at)], upcoming=False)
        .get((partner_id, at), PublishedBaskets([], []))
        .in_force
    )


@dataclass(frozen=True, slots=True)
class PublishedBaskets:
    in_force: list[BasketRule]  # by code; withdrawn codes left out
    upcoming: list[BasketRule]  # soonest first


def published_baskets(
    session: Session, keys: Sequence[tuple[int, datetime]], *, upcoming: bool = True
) -> dict[tuple[int, datetime], PublishedBaskets]:
    """Each ``(partner id, as of)``'s basket bonuses, in two statements per instant (one,
    and no upcoming rules, with ``upcoming=False``: what an award needs)."""
    found: dict[tuple[int, datetime], PublishedBaskets] = {}
    by_time: dict[datetime, list[int]] = {}
    for partner_id, at in keys:
        by_time.setdefault(at, []).append(partner_id)
    for at, partner_ids in by_time.items():
        latest = (
            select(
                BasketBonus.partner_id,
                BasketBonus.code,
                func.max(BasketBonus.effective_at).label("at"),
            )
            .where(BasketBonus.partner_id.in_(partner_ids), BasketBonus.effective_at <= at)
            .group_by(BasketBonus.partner_id, BasketBonus.code)
            .subquery()
        )
        in_force: dict[int, list[BasketRule]] = {}
        for row in session.execute(
            select(BasketBonus)
            .join(
                latest,
                and_(
                    BasketBonus.partner_id == latest.c.partner_id,
                    BasketBonus.code == latest.c.code,
                    BasketBonus.effective_at == latest.c.at,
                ),
            )
            .order_by(BasketBonus.partner_id, BasketBonus.code)
        ).scalars():
            rule = _rule(row)
            if not rule.withdrawn:
                in_force.setdefault(row.partner_id, []).append(rule)
        later: dict[int, list[BasketRule]] = {}
        if upcoming:
            for row in session.execute(
                select(BasketBonus)
                .where(BasketBonus.partner_id.in_(partner_ids), BasketBonus.effective_at > at)
                .order_by(BasketBonus.partner_id, BasketBonus.effective_at, BasketBonus.code)
            ).scalars():
                later.setdefault(row.partner_id, []).append(_rule(row))
        for partner_id in partner_ids:
            found[(partner_id, at)] = PublishedBaskets(
                in_force.get(partner_id, []), later.get(partner_id, [])
            )
    return found


@dataclass(frozen=True, slots=True)
class BasketOutcome:
    """A rule in force and what it did for this order: ``applied``, or ``note`` why not."""

    rule: BasketRule
    applied: bool
    note: str | None


def _matches(rule: BasketRule, lines: Sequence[tuple[str, int]]) -> str | None:
    """None when every category has a line of at least the minimum, else why not."""
    for category in rule.categories:
        if not any(c == category and fen >= rule.min_line_amount_fen for c, fen in lines):
            yuan = Decimal(rule.min_line_amount_fen) / 100
            return f"no {category} line of at least {plain(yuan)} yuan"
    return None


_uses = cast(Table, BasketBonusUse.__table__)


def evaluate_baskets(
    session: Session,
    *,
    partner_id: int,
    member_id: int,
    order_ref: str,
    lines: Sequence[tuple[str, int]],
    now: datetime,
) -> list[BasketOutcome]:
    """Each rule in force, in code order: applied when the order matches it and the member
    has not earned it today (the day's use is claimed here, in the award's transaction,
    so two racing orders cannot both earn it)."""
    today: date = now.date()
    outcomes = []
    for rule in rules_in_force(session, partner_id, now):
        missing = _matches(rule, lines)
        if missing is not None:
            outcomes.append(BasketOutcome(rule, False, missing))
            continue
        claimed = insert_if_absent(
            session,
            _uses,
            {
                "partner_id": partner_id,
                "member_id": member_id,
                "code": rule.code,
                "day": today,
                "order_ref": order_ref,
            },
        )
        if not claimed:
            outcomes.append(BasketOutcome(rule, False, "already earned today (once a day)"))
            continue
        outcomes.append(BasketOutcome(rule, True, None))
    return outcomes
