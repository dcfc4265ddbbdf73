"""Awarding points for a purchase, computed by the hub from the partner's earning rule."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Context, Decimal
from typing import Any, cast

from sqlalchemy import Table, and_, func, select, update
from sqlalchemy.orm import Session

import ledger
from compliance.aml import open_cases, record_issuance, screen_award, screen_issuance
from compliance.errors import ComplianceViolation
from compliance.rules import (
    cut_needs_notice,
    no_points_purchase,
    no_retroactive_change,
    real_consumption,
)
from compliance.vocabulary import normalise, vocabulary
from core.db import insert_if_absent
from events import EventType, global_id
from ledger.models import TransferCode
from members import tiers
from members.baskets import BasketOutcome, evaluate_baskets
from members.benefits import member_benefit
from members.errors import MemberError
from members.events import emit_partner_event
from members.models import Award, EarningRule
from members.registration import identified
from partners.catalog import DEFAULT_PRICE_NOTICE
from partners.errors import PartnerError
from partners.green import verified_green
from partners.models import Partner
from partners.registry import require_active
from partners.terms import consume_budget, exact_decimal, plain

MAX_LINES = 100
MAX_FEN = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    category: str
    amount_fen: int
    green: bool


@dataclass(frozen=True, slots=True)
class Rule:
    points_per_yuan: Decimal
    category_multipliers: dict[str, Decimal]
    green_bonus_multiplier: Decimal
    # When the rule took or takes effect; None for the alliance's default rule.
    effective_at: datetime | None = None


DEFAULT_RULE = Rule(Decimal(1), {}, Decimal(1))


def _rule(row: EarningRule) -> Rule:
    multipliers = {k: plain(Decimal(v)) for k, v in json.loads(row.category_multipliers).items()}
    return Rule(
        plain(Decimal(row.points_per_yuan)),
        multipliers,
        plain(Decimal(row.green_bonus_multiplier)),
        row.effective_at,
    )


def rule_in_force(session: Session, partner_id: int, at: datetime) -> Rule:
    """The partner's published rule at ``at``; a new partner earns 1 point per yuan."""
    row = session.execute(
        select(EarningRule)
        .where(EarningRule.partner_id == partner_id, EarningRule.effective_at <= at)
        .order_by(EarningRule.effective_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return DEFAULT_RULE if row is None else _rule(row)


@dataclass(frozen=True, slots=True)
class PublishedRules:
    """What anyone may read of a partner's earning terms: the rule in force and the rules
    published to take effect later, soonest first."""

    in_force: Rule
    upcoming: list[Rule]


def published_rules(
    session: Session, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], PublishedRules]:
    """Each ``(partner id, as of)``'s published rules, in three statements per instant. A
    partner that never published a rule earns under the alliance's default since it
    joined."""
    found: dict[tuple[int, datetime], PublishedRules] = {}
    by_time: dict[datetime, list[int]] = {}
    for partner_id, at in keys:
        by_time.setdefault(at, []).append(partner_id)
    for at, partner_ids in by_time.items():
        latest = (
            select(EarningRule.partner_id, func.max(EarningRule.effective_at).label("at"))
            .where(EarningRule.partner_id.in_(partner_ids), EarningRule.effective_at <= at)
            .group_by(EarningRule.partner_id)
            .subquery()
        )
        in_force = {
            row.partner_id: _rule(row)
            for row in session.execute(
                select(EarningRule).join(
                    latest,
                    and_(
                        EarningRule.partner_id == latest.c.partner_id,
                        EarningRule.effective_at == latest.c.at,
                    ),
                )
            ).scalars()
        }
        upcoming: dict[int, list[Rule]] = {}
        for row in session.execute(
            select(EarningRule)
            .where(EarningRule.partner_id.in_(partner_ids), EarningRule.effective_at > at)
            .order_by(EarningRule.partner_id, EarningRule.effective_at)
        ).scalars():
            upcoming.setdefault(row.partner_id, []).append(_rule(row))
        joined: dict[int, datetime] = {
            partner_id: created_at
            for partner_id, created_at in session.execute(
                select(Partner.id, Partner.created_at).where(Partner.id.in_(partner_ids))
            )
        }
        for partner_id in partner_ids:
            if partner_id not in joined:
                continue
            default = replace(DEFAULT_RULE, effective_at=joined[partner_id])
            found[(partner_id, at)] = PublishedRules(
                in_force.get(partner_id, default), upcoming.get(partner_id, [])
            )
    return found


# Enough digits that yuan x three multipliers is always exact.
_EXACT = Context(prec=80)


def _text(number: Decimal) -> str:
    """An exact figure as plain text: ``5.5000`` as ``5.5``, ``8.00`` as ``8``."""
    return format(number.normalize(_EXACT), "f")


@dataclass(frozen=True, slots=True)
class Factor:
    """A programme multiplier applied to every line of an order, named by the published
    rule version that produced it (docs/programme.md)."""

    kind: str  # TIER, MEMBER_BENEFITS
    multiplier: Decimal
    rule: str


@dataclass(frozen=True, slots=True)
class Programme:
    """What the loyalty programme adds to an order on top of the partner's rule: factors
    that multiply every line, basket multipliers on the lines a basket matched (all
    stacked as a product, capped at ``max_factor``), and basket bonus points."""

    factors: tuple[Factor, ...] = ()
    max_factor: Decimal = Decimal(3)
    baskets: tuple[BasketOutcome, ...] = ()


NO_PROGRAMME = Programme()


@dataclass(frozen=True, slots=True)
class Earning:
    """An order's points: each line exact, summed, floored once for the order."""

    lines: list[dict[str, Any]]
    exact_points: str
    points: int
    rounded_off: str
    factors: list[dict[str, Any]] = field(default_factory=list)


def rule_name(rule: Rule) -> str:
    """How a breakdown names the partner's earning rule: by the time it took effect."""
    if rule.effective_at is None:
        return "alliance default earning rule"
    return f"earning rule of {rule.effective_at.isoformat()}"


def _basket_lines(basket: BasketOutcome, category: str, amount_fen: int) -> bool:
    rule = basket.rule
    return category in rule.categories and amount_fen >= rule.min_line_amount_fen


def breakdown(
    rule: Rule,
    lines: Sequence[Line],
    verified_green: Collection[str] | None = None,
    programme: Programme = NO_PROGRAMME,
) -> Earning:
    """Per line: yuan x points per yuan x category multiplier x green bonus x the
    programme factor, exactly; basket bonus points are added to the order; the order's
    points are the sum floored once. The programme factor is the product of the
    programme's multipliers (tier, member benefits, and the multipliers of the baskets
    that matched the line), capped at the maximum combined factor. Exact decimals
    throughout; never a float. Categories are read normalised. The green bonus applies
    only to a line whose SKU is in ``verified_green`` (the partner's register); ``None``
    takes the lines' own claims."""
    explained = []
    total = Decimal(0)
    named = {factor.kind: factor.multiplier for factor in programme.factors}
    applied_baskets = [b for b in programme.baskets if b.applied]
    # What each factor adds to the order, in the documented order.
    added: dict[str, Decimal] = {"BASE_RATE": Decimal(0), "CATEGORY": Decimal(0)}
    added["GREEN"] = Decimal(0)
    for factor in programme.factors:
        added[factor.kind] = Decimal(0)
    for basket in programme.baskets:
        added[f"BASKET:{basket.rule.code}"] = Decimal(0)
    added["CAP"] = Decimal(0)
    for line in lines:
        category_name = normalise(line.category)
        category = rule.category_multipliers.get(category_name, Decimal(1))
        verified = verified_green is None or line.sku in verified_green
        applied = line.green and verified
        note = None
        if line.green and not verified:
            note = "green claimed but the SKU is not verified green for this partner"
        green = rule.green_bonus_multiplier if applied else Decimal(1)
        base = _EXACT.multiply(_EXACT.divide(Decimal(line.amount_fen), 100), rule.points_per_yuan)
        with_category = _EXACT.multiply(base, category)
        with_green = _EXACT.multiply(with_category, green)
        added["BASE_RATE"] += base
        added["CATEGORY"] += with_category - base
        added["GREEN"] += with_green - with_category
        running = with_green
        uncapped = Decimal(1)
        for factor in programme.factors:
            grown = _EXACT.multiply(running, factor.multiplier)
            added[factor.kind] += grown - running
            running = grown
            uncapped = _EXACT.multiply(uncapped, factor.multiplier)
        basket_multiplier = Decimal(1)
        for basket in applied_baskets:
            if basket.rule.multiplier != 1 and _basket_lines(
                basket, category_name, line.amount_fen
            ):
                grown = _EXACT.multiply(running, basket.rule.multiplier)
                added[f"BASKET:{basket.rule.code}"] += grown - running
                running = grown
                uncapped = _EXACT.multiply(uncapped, basket.rule.multiplier)
                basket_multiplier = _EXACT.multiply(basket_multiplier, basket.rule.multiplier)
        combined = min(uncapped, programme.max_factor)
        exact = _EXACT.multiply(with_green, combined)
        added["CAP"] += exact - running
        total = _EXACT.add(total, exact)
        explained.append(
            {
                "sku": line.sku,
                "category": category_name,
                "amount_fen": line.amount_fen,
                "green": line.green,
                "green_bonus_applied": applied,
                "note": note,
                "points_per_yuan": str(rule.points_per_yuan),
                "category_multiplier": str(category),
                "green_multiplier": str(green),
                "tier_multiplier": str(named.get("TIER", Decimal(1))),
                "member_benefits_multiplier": str(named.get("MEMBER_BENEFITS", Decimal(1))),
                "basket_multiplier": _text(basket_multiplier),
                "programme_factor": _text(combined),
                "exact_points": _text(exact),
                "points": int(exact.to_integral_value(rounding=ROUND_FLOOR)),
            }
        )
    for basket in applied_baskets:
        if basket.rule.bonus_points:
            added[f"BASKET:{basket.rule.code}"] += basket.rule.bonus_points
            total = _EXACT.add(total, Decimal(basket.rule.bonus_points))
    points = int(total.to_integral_value(rounding=ROUND_FLOOR))
    partner_rule = rule_name(rule)
    factors: list[dict[str, Any]] = [
        {
            "kind": kind,
            "multiplier": None,
            "rule": partner_rule,
            "exact_points": _text(added[kind]),
            "note": None,
        }
        for kind in ("BASE_RATE", "CATEGORY", "GREEN")
    ]
    for factor in programme.factors:
        factors.append(
            {
                "kind": factor.kind,
                "multiplier": _text(factor.multiplier),
                "rule": factor.rule,
                "exact_points": _text(added[factor.kind]),
                "note": None,
            }
        )
    for basket in programme.baskets:
        factors.append(
            {
                "kind": "BASKET_BONUS",
                "multiplier": None
                if basket.rule.multiplier == 1
                else _text(basket.rule.multiplier),
                "rule": basket.rule.name,
                "exact_points": _text(added[f"BASKET:{basket.rule.code}"]),
                "note": basket.note,
            }
        )
    if added["CAP"]:
        factors.append(
            {
                "kind": "CAP",
                "multiplier": _text(programme.max_factor),
                "rule": f"the maximum combined factor of {_text(programme.max_factor)}",
                "exact_points": _text(added["CAP"]),
                "note": None,
            }
        )
    factors.append(
        {
            "kind": "ROUNDING",
            "multiplier": None,
            "rule": "the order's points are rounded down once",
            "exact_points": _text(points - total),
            "note": None,
        }
    )
    return Earning(explained, _text(total), points, _text(total - points), factors)


@dataclass(frozen=True, slots=True)
class AwardResult:
    operation_id: int
    member_id: int
    transfer_id: int
    lot_id: int
    points: int
    debt_repaid: int
    breakdown: list[dict[str, Any]]
    exact_points: str = ""
    rounded_off: str = ""
    factors: list[dict[str, Any]] = field(default_factory=list)
    # The member's tier change this award caused: {"from", "to", "reason"}, or None.
    tier_change: dict[str, str] | None = None


def _check_lines(paid_amount_fen: int, lines: Sequence[Line]) -> None:
    if type(paid_amount_fen) is not int or paid_amount_fen > MAX_FEN:
        raise MemberError("paidAmountFen must be a whole number of fen", ["paidAmountFen"])
    if not 1 <= len(lines) <= MAX_LINES:
        raise MemberError(f"send 1 to {MAX_LINES} order lines", ["lines"])
    for index, line in enumerate(lines):
        if type(line.amount_fen) is not int or not 0 < line.amount_fen <= MAX_FEN:
            raise MemberError("amountFen must be above 0", ["lines", str(index), "amountFen"])
    if paid_amount_fen > 0 and sum(line.amount_fen for line in lines) != paid_amount_fen:
        raise MemberError("the lines must add up to paidAmountFen", ["lines"])


def award(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    partner_id: int,
    member_id: int,
    order_ref: str,
    paid_amount_fen: int,
    lines: Sequence[Line],
    now: datetime,
    expires_at: datetime,
) -> AwardResult:
    """Award points for a real purchase (CR-01) to an identified member (CR-03) who
    consented to this partner (CR-10), funded from the partner's budget (CR-02). A replay
    of the same request returns the first award; the same order under a new key is
    refused."""
    _check_lines(paid_amount_fen, lines)
    payload = {
        "partner_id": partner_id,
        "member_id": member_id,
        "order_ref": order_ref,
        "paid_amount_fen": paid_amount_fen,
        "lines": [(line.sku, line.category, line.amount_fen, line.green) for line in lines],
    }

    def body(operation_id: int) -> AwardResult:
        require_active(session, partner_id)
        member = identified(session, partner_id, member_id)
        violation = no_points_purchase(normalise(line.category) for line in lines)
        if violation is not None:
            raise ComplianceViolation(violation, ["lines"])
        words = vocabulary(session)
        for index, line in enumerate(lines):
            found = words.first([("category", line.category)]) or words.first([("sku", line.sku)])
            if found is not None:
                raise ComplianceViolation(found[1], ["lines", str(index), found[0]])
        violation = real_consumption(order_ref, paid_amount_fen, False)
        if violation is None:
            first_award = insert_if_absent(
                session,
                cast(Table, Award.__table__),
                {
                    "partner_id": partner_id,
                    "order_ref": order_ref,
                    "member_id": member_id,
                    "paid_amount_fen": paid_amount_fen,
                    "points": 0,
                    "lot_id": None,
                    "created_at": now,
                },
                conflict_on=["partner_id", "order_ref"],
            )
            violation = real_consumption(order_ref, paid_amount_fen, not first_award)
        if violation is not None:
            field = "paidAmountFen" if paid_amount_fen <= 0 else "orderRef"
            raise ComplianceViolation(violation, [field])
        claimed = [line.sku for line in lines if line.green]
        held = tiers.standing(session, member_id, now, joined=member.created_at)
        benefit = member_benefit(session, member_id, now)
        programme = Programme(
            (
                Factor(
                    "TIER",
                    held.tier.earn_multiplier,
                    f"tier schedule v{held.schedule.version}: {held.tier.code}",
                ),
                # The factor only: never the credit level behind it (CR-10).
                Factor(
                    "MEMBER_BENEFITS",
                    benefit.multiplier,
                    f"credit schedule v{benefit.version}",
                ),
            ),
            held.schedule.max_combined_factor,
            tuple(
                evaluate_baskets(
                    session,
                    partner_id=partner_id,
                    member_id=member_id,
                    order_ref=order_ref,
                    lines=[(normalise(line.category), line.amount_fen) for line in lines],
                    now=now,
                )
            ),
        )
        earning = breakdown(
            rule_in_force(session, partner_id, now),
            lines,
            verified_green(session, partner_id, claimed),
            programme,
        )
        explained, points = earning.lines, earning.points
        if points == 0:
            raise MemberError("this order earns no points under the partner's rule", ["lines"])
        screenings = screen_award(
            session, member_id=member_id, partner_id=partner_id, points=points, now=now
        )
        violation = consume_budget(session, partner_id, points, now)
        if violation is not None:
            raise ComplianceViolation(violation)
        screenings.append(screen_issuance(session, partner_id=partner_id, points=points, now=now))
        transfer_id, lot_id, repaid = ledger.issue(
            session,
            ledger.Issue(
                operation_id=operation_id,
                member_id=member_id,
                partner_id=partner_id,
                points=points,
                code=TransferCode.EARN,
                expires_at=expires_at,
                now=now,
                green=all(line["green_bonus_applied"] for line in explained),
                order_ref=order_ref,
            ),
        )
        explained_order = {
            "lines": explained,
            "factors": earning.factors,
            "exact_points": earning.exact_points,
            "rounded_off": earning.rounded_off,
            "points": points,
        }
        award_id = session.execute(
            update(Award)
            .where(Award.partner_id == partner_id, Award.order_ref == order_ref)
            .values(
                points=points,
                lot_id=lot_id,
                breakdown=json.dumps(explained_order, ensure_ascii=False),
            )
            .returning(Award.id)
        ).scalar_one()
        record_issuance(session, partner_id, points, now)
        move = tiers.after_award(session, member_id, award_id, now, held)
        emit_partner_event(
            session,
            EventType.POINTS_AWARDED,
            member_id=member_id,
            partner_id=partner_id,
            payload={
                "partnerId": global_id("Partner", partner_id),
                "orderRef": order_ref,
                "points": points,
                "paidAmountFen": paid_amount_fen,
                "expiresAt": expires_at.isoformat(),
            },
            now=now,
            once_key=f"points.awarded:{lot_id}",
        )
        open_cases(
            session,
            screenings,
            member_id=member_id,
            partner_id=partner_id,
            evidence=[transfer_id],
            now=now,
        )
        return AwardResult(
            operation_id,
            member_id,
            transfer_id,
            lot_id,
            points,
            repaid,
            explained,
            earning.exact_points,
            earning.rounded_off,
            earning.factors,
            None
            if move is None
            else {"from": move.from_code, "to": move.to_code, "reason": move.reason},
        )

    return ledger.run_idempotent(session, key, "award", payload, AwardResult, now, body)


class AwardNotFound(MemberError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no award of yours on this order", ["orderRef"])


def reverse_award(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    partner_id: int,
    order_ref: str,
    now: datetime,
) -> ledger.results.ClawbackResult:
    """CR-12: claw back the points of the partner's own refunded order; what the member
    already spent becomes a clawback debt."""
    found = session.execute(
        select(Award.id, Award.lot_id, Award.member_id, Award.created_at).where(
            Award.partner_id == partner_id, Award.order_ref == order_ref
        )
    ).one_or_none()
    if found is None or found.lot_id is None:
        raise AwardNotFound()
    result = ledger.reverse_earn(
        session, key, lot_id=found.lot_id, now=now, partner_id=partner_id, order_ref=order_ref
    )
    tiers.after_reversal(session, found.member_id, found.id, found.created_at, now)
    return result


@dataclass(frozen=True, slots=True)
class RuleSet:
    points_per_yuan: str
    category_multipliers: dict[str, str]
    green_bonus_multiplier: str
    effective_at: datetime


def set_earning_rule(
    session: Session,
    *,
    partner_id: int,
    points_per_yuan: object,
    category_multipliers: dict[str, object],
    green_bonus_multiplier: object,
    effective_at: datetime,
    now: datetime,
    notice: timedelta = DEFAULT_PRICE_NOTICE,
) -> RuleSet:
    """Publish how purchases earn points from ``effective_at``, which must be in the future
    (CR-07): members always know the rule they earn under. A rule that lowers what members
    earn on some purchase, against the rule it follows, takes effect at the earliest after
    the operator's notice period ``notice`` (CR-07), and so does a published later rule
    that would then lower what this one gives; a rise may apply at once."""
    violation = no_retroactive_change(effective_at, now)
    if violation is not None:
        raise ComplianceViolation(violation, ["effectiveAt"])
    per_yuan = _multiplier("pointsPerYuan", points_per_yuan)
    green = _multiplier("greenBonusMultiplier", green_bonus_multiplier)
    categories = {
        normalise(category): _multiplier(f"categoryMultipliers.{category}", value)
        for category, value in category_multipliers.items()
    }
    # One partner's publications one after the other (two racing ones could each pass
    # against the rules the other has not yet written).
    session.execute(select(Partner.id).where(Partner.id == partner_id).with_for_update())
    taken = session.execute(
        select(EarningRule.id).where(
            EarningRule.partner_id == partner_id, EarningRule.effective_at == effective_at
        )
    ).first()
    if taken is not None:
        raise MemberError("a rule already takes effect at that time", ["effectiveAt"])
    published = Rule(per_yuan, categories, green, effective_at)
    before = rule_in_force(session, partner_id, effective_at - timedelta(microseconds=1))
    if lowers(before, published):
        violation = cut_needs_notice("this earning rule", effective_at, now, notice)
        if violation is not None:
            raise ComplianceViolation(violation, ["effectiveAt"])
    after = session.execute(
        select(EarningRule)
        .where(EarningRule.partner_id == partner_id, EarningRule.effective_at > effective_at)
        .order_by(EarningRule.effective_at)
        .limit(1)
    ).scalar_one_or_none()
    if after is not None and lowers(published, _rule(after)):
        violation = cut_needs_notice(
            f"the rule published for {after.effective_at.isoformat()}, after this one,",
            after.effective_at,
            now,
            notice,
        )
        if violation is not None:
            raise ComplianceViolation(violation, ["effectiveAt"])
    session.add(
        EarningRule(
            partner_id=partner_id,
            points_per_yuan=per_yuan,
            category_multipliers=json.dumps({k: str(v) for k, v in categories.items()}),
            green_bonus_multiplier=green,
            effective_at=effective_at,
            created_at=now,
        )
    )
    session.flush()
    return RuleSet(
        str(per_yuan), {k: str(v) for k, v in categories.items()}, str(green), effective_at
    )


def _rate(rule: Rule, category: str | None, green: bool) -> Decimal:
    factor = Decimal(1) if category is None else rule.category_multipliers.get(category, Decimal(1))
    return rule.points_per_yuan * factor * (rule.green_bonus_multiplier if green else Decimal(1))


def lowers(old: Rule, new: Rule) -> bool:
    """Whether ``new`` earns less than ``old`` on some purchase: a yuan in any category
    either names (or in none of them), green or not."""
    return any(
        _rate(new, category, green) < _rate(old, category, green)
        for category in {*old.category_multipliers, *new.category_multipliers, None}
        for green in (False, True)
    )


MAX_MULTIPLIER = Decimal(100)


def _multiplier(field: str, value: object) -> Decimal:
    try:
        number = exact_decimal(field, value)
    except PartnerError as error:
        raise MemberError(error.message, [field]) from error
    if number > MAX_MULTIPLIER or number != number.quantize(Decimal("0.0001")):
        raise MemberError(f"{field} must be at most 100 with at most four decimal places", [field])
    return number


@dataclass(frozen=True, slots=True)
class AwardExplanation:
    """An award's breakdown as stored with it: why the member got these points."""

    points: int
    exact_points: str
    rounded_off: str
    lines: list[dict[str, Any]]
    factors: list[dict[str, Any]]


def award_explanations(
    session: Session, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], AwardExplanation]:
    """Batched for the loaders: each ``(partner id, order ref)``'s award breakdown. Awards
    made before breakdowns were kept have none."""
    by_partner: dict[int, list[str]] = {}
    for partner_id, order_ref in keys:
        by_partner.setdefault(partner_id, []).append(order_ref)
    found: dict[tuple[int, str], AwardExplanation] = {}
    for partner_id, refs in by_partner.items():
        for order_ref, text in session.execute(
            select(Award.order_ref, Award.breakdown).where(
                Award.partner_id == partner_id,
                Award.order_ref.in_(refs),
                Award.breakdown.is_not(None),
            )
        ):
            if text is None:
                continue
            stored = json.loads(text)
            found[(partner_id, order_ref)] = AwardExplanation(
                stored["points"],
                stored["exact_points"],
                stored["rounded_off"],
                stored["lines"],
                stored["factors"],
            )
    return found
