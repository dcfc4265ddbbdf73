"""Statements, multilateral netting and the bilateral provenance matrix of a period.

One GROUP BY reads the period's transfers (by partner, code, the partner-side accounts of
corrections, and price segment); everything after it is arithmetic on a few rows per
partner. Money is computed with exact decimals and rounded half-even to whole fen once per
statement component, so no float ever touches an amount.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, or_, select
from sqlalchemy.orm import Session

from ledger import accounts
from ledger.models import Allocation, Hold, HoldStatus, Lot, Transfer
from partners.models import SettlementTerms

MICRO = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Window:
    """One partner's prices over ``[starts_at, ends_at)`` inside a period."""

    partner_id: int
    starts_at: datetime
    ends_at: datetime
    issue_price: Decimal
    reimbursement: Decimal
    fee_rate: Decimal

    @property
    def issue_micro(self) -> int:
        return int(self.issue_price * MICRO)

    @property
    def reimbursement_micro(self) -> int:
        return int(self.reimbursement * MICRO)


def price_windows(
    session: Session, cycle: str, starts_at: datetime, ends_at: datetime
) -> list[Window]:
    """Where each partner's terms in force put it on ``cycle`` during the period: a
    partner settles in the periods of its cycle, at the prices in force at each moment."""
    rows = session.execute(
        select(SettlementTerms)
        .where(SettlementTerms.effective_at < ends_at)
        .order_by(SettlementTerms.partner_id, SettlementTerms.effective_at, SettlementTerms.id)
    ).scalars()
    by_partner: dict[int, list[SettlementTerms]] = defaultdict(list)
    for terms in rows:
        by_partner[terms.partner_id].append(terms)
    windows = []
    for partner_id, versions in by_partner.items():
        for index, terms in enumerate(versions):
            until = versions[index + 1].effective_at if index + 1 < len(versions) else ends_at
            start, end = max(terms.effective_at, starts_at), min(until, ends_at)
            if start < end and terms.cycle == cycle:
                windows.append(
                    Window(
                        partner_id,
                        start,
                        end,
                        Decimal(terms.issue_price_per_point_fen),
                        Decimal(terms.reimbursement_per_point_fen),
                        Decimal(terms.operator_fee_rate),
                    )
                )
    return windows


@dataclass(frozen=True, slots=True)
class Version:
    """One version of a partner's terms, in force from ``effective_at``."""

    effective_at: datetime
    issue_price: Decimal
    reimbursement: Decimal
    fee_rate: Decimal


def term_versions(session: Session, ends_at: datetime) -> dict[int, list[Version]]:
    """Every partner's terms that took effect before ``ends_at``, oldest first: the prices
    an earlier earn or redemption was settled at, whatever cycle or period it fell in."""
    rows = session.execute(
        select(
            SettlementTerms.partner_id,
            SettlementTerms.effective_at,
            SettlementTerms.issue_price_per_point_fen,
            SettlementTerms.reimbursement_per_point_fen,
            SettlementTerms.operator_fee_rate,
        )
        .where(SettlementTerms.effective_at < ends_at)
        .order_by(SettlementTerms.partner_id, SettlementTerms.effective_at, SettlementTerms.id)
    ).all()
    versions: dict[int, list[Version]] = defaultdict(list)
    for partner_id, at, issue, reimbursement, fee in rows:
        versions[partner_id].append(
            Version(at, Decimal(issue), Decimal(reimbursement), Decimal(fee))
        )
    return versions


def version_at(versions: Sequence[Version], at: datetime) -> Version | None:
    """The version in force at ``at`` (None before the first)."""
    found = None
    for version in versions:
        if version.effective_at > at:
            break
        found = version
    return found


def segment_of(created_at: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the price segment a timestamp falls in (segments split at ``bounds``)."""
    if not bounds:
        return literal(0)
    return case(
        *((created_at < bound, index) for index, bound in enumerate(bounds)),
        else_=len(bounds),
    )


def segment_bounds(windows: Iterable[Window], starts_at: datetime) -> list[datetime]:
    return sorted({w.starts_at for w in windows if w.starts_at > starts_at})


@dataclass(slots=True)
class Tally:
    """A partner's points and exact money per component, before rounding."""

    issued: int = 0
    reversed: int = 0
    compensation: int = 0
    redeemed: int = 0
    refunded: int = 0
    issue: Decimal = Decimal(0)
    reversal: Decimal = Decimal(0)
    compensation_money: Decimal = Decimal(0)
    reimbursement: Decimal = Decimal(0)
    refund: Decimal = Decimal(0)
    adjustment: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class StatementView:
    partner_id: int
    issued_points: int
    issue_fen: int
    reversed_points: int
    reversal_fen: int
    compensation_points: int
    compensation_fen: int
    redeemed_points: int
    reimbursement_fen: int
    refunded_points: int
    refund_fen: int
    adjustment_fen: int
    fee_fen: int
    net_fen: int


def fen(amount: Decimal) -> int:
    """Half-even to a whole fen."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _finish(partner_id: int, tally: Tally) -> StatementView:
    issue, reversal = fen(tally.issue), fen(tally.reversal)
    compensation = fen(tally.compensation_money)
    reimbursement, refund = fen(tally.reimbursement), fen(tally.refund)
    adjustment, fee = fen(tally.adjustment), fen(tally.fee)
    net = reimbursement - refund + reversal - issue - compensation - fee + adjustment
    return StatementView(
        partner_id,
        tally.issued,
        issue,
        tally.reversed,
        reversal,
        tally.compensation,
        compensation,
        tally.redeemed,
        reimbursement,
        tally.refunded,
        refund,
        adjustment,
        fee,
        net,
    )


ADJUST_CHARGE_ISSUED, ADJUST_CHARGE_REDEEMED, ADJUST_CREDIT_ISSUED, ADJUST_CREDIT_REDEEMED = (
    1,
    2,
    3,
    4,
)


def _apply(
    tally: Tally, window: Window | Version, code: str, adjust_side: int, points: int
) -> None:
    """Add ``points`` moved under ``code`` at ``window``'s prices: the prices in force when
    they moved, or for a transfer that gives back or takes back an earlier one, the prices
    that one was settled at."""
    issue, reimburse = window.issue_price, window.reimbursement
    if code == "earn":
        tally.issued += points
        tally.issue += points * issue
    elif code == "compensate":
        tally.compensation += points
        tally.compensation_money += points * issue
    elif code == "clawback":
        tally.reversed += points
        tally.reversal += points * issue
    elif code in ("redeem", "capture", "donate"):
        tally.redeemed += points
        tally.reimbursement += points * reimburse
        tally.fee += points * reimburse * window.fee_rate
    elif code == "refund":
        tally.refunded += points
        tally.refund += points * reimburse
        tally.fee -= points * reimburse * window.fee_rate
    elif code == "adjust":
        # A correction from reconciliation: on the issued account the partner pays (debit)
        # or is paid back (credit) at the issue price; on the redeemed account it is paid
        # (credit) or pays back (debit) at the reimbursement price.
        tally.adjustment += {
            ADJUST_CHARGE_ISSUED: -points * issue,
            ADJUST_CREDIT_ISSUED: points * issue,
            ADJUST_CREDIT_REDEEMED: points * reimburse,
            ADJUST_CHARGE_REDEEMED: -points * reimburse,
        }[adjust_side]


SETTLED_CODES = (
    "earn",
    "compensate",
    "clawback",
    "redeem",
    "capture",
    "donate",
    "refund",
    "adjust",
)


@dataclass(frozen=True, slots=True)
class Statements:
    statements: list[StatementView]
    operator_revenue_fen: int
    unpriced_transfers: int = 0
    windows: list[Window] = field(default_factory=list)


def compute_statements(
    session: Session, cycle: str, starts_at: datetime, ends_at: datetime
) -> Statements:
    """Every statement of the period and the operator's revenue: the nets plus the
    revenue sum to exactly zero."""
    windows = price_windows(session, cycle, starts_at, ends_at)
    bounds = segment_bounds(windows, starts_at)
    segment_starts = [starts_at, *bounds]
    # The period's transfers grouped exactly like a plain GROUP BY partner, code; a price
    # change inside the period adds one conditional sum per price segment, never a
    # grouping expression (which would cost PostgreSQL its hash aggregate).
    sums = (
        [func.sum(Transfer.amount)]
        if not bounds
        else [
            func.sum(case((segment_of(Transfer.created_at, bounds) == index, Transfer.amount)))
            for index in range(len(segment_starts))
        ]
    )
    rows = session.execute(
        select(Transfer.partner_id, Transfer.code, *sums)
        .where(Transfer.created_at >= starts_at, Transfer.created_at < ends_at)
        .group_by(Transfer.partner_id, Transfer.code)
    ).all()
    linked = _linked(session, bounds, starts_at, ends_at)
    # Adjustments are few and all touch alliance:adjustments (indexed): read their sides.
    segment = segment_of(Transfer.created_at, bounds)
    adjustments = session.execute(
        select(
            Transfer.partner_id,
            Transfer.debit_account_id,
            Transfer.credit_account_id,
            segment,
            func.sum(Transfer.amount),
        )
        .where(
            or_(
                Transfer.debit_account_id == accounts.ALLIANCE_ADJUSTMENTS,
                Transfer.credit_account_id == accounts.ALLIANCE_ADJUSTMENTS,
            ),
            Transfer.created_at >= starts_at,
            Transfer.created_at < ends_at,
        )
        .group_by(
            Transfer.partner_id, Transfer.debit_account_id, Transfer.credit_account_id, segment
        )
    ).all()
    by_partner: dict[int, list[Window]] = defaultdict(list)
    for window in windows:
        by_partner[window.partner_id].append(window)
    tallies: dict[int, Tally] = {partner_id: Tally() for partner_id in by_partner}

    def window_at(partner_id: int | None, segment_index: int) -> Window | None:
        at = segment_starts[segment_index]
        own = by_partner.get(partner_id, ()) if partner_id is not None else ()
        return next((w for w in own if w.starts_at <= at < w.ends_at), None)

    # What the linked transfers (refunds, clawbacks) moved, per partner, code and segment:
    # the GROUP BY's sums less these are the unlinked ones (a clawback debt recorded
    # before migration 0037), priced at their own time as before.
    linked_points: dict[tuple[int | None, str, int], int] = defaultdict(int)
    for row in linked.rows:
        linked_points[(row.partner_id, row.code, row.segment)] += row.points
    for partner_id, code, *per_segment in rows:
        if code not in SETTLED_CODES or code == "adjust":
            continue  # expiry, holds and voids; adjustments are read apart
        for segment_index, points in enumerate(per_segment):
            found = window_at(partner_id, segment_index)
            points = int(points or 0) - linked_points[(partner_id, code, segment_index)]
            if points and found is not None:  # else: no partner, or another cycle
                _apply(tallies[found.partner_id], found, code, 0, points)
    # A refund or a clawback lands in the period it happens in (if its partner settles in
    # this cycle then), priced at the terms its original was settled at. A clawback debt
    # recorded settles nothing: its repayments do, as they come.
    for row in linked.rows:
        found = window_at(row.partner_id, row.segment)
        if found is None or row.debt_recorded or row.code not in ("clawback", "refund"):
            continue
        price = linked.price(row.partner_id, row.original_segment)
        if price is not None:  # else: its original was never priced either
            _apply(tallies[found.partner_id], price, row.code, 0, row.points)
    for partner_id, debit, credit, segment_index, points in adjustments:
        found = window_at(partner_id, int(segment_index))
        if found is not None:
            _apply(tallies[found.partner_id], found, "adjust", _side(debit, credit), int(points))
    statements = [_finish(partner_id, tallies[partner_id]) for partner_id in sorted(tallies)]
    statements = [s for s in statements if _active(s)]
    return Statements(statements, -sum(s.net_fen for s in statements), windows=windows)


def _bisect(at: Any, bounds: Sequence[datetime], low: int, high: int) -> ColumnElement[int]:
    """How many of ``bounds[low:high]`` are at or before ``at``, plus ``low``: a balanced
    tree of CASEs, so a row costs log2 of the bounds (every terms change of every partner,
    which grow with the years) in comparisons, not all of them."""
    if low == high:
        return literal(low)
    middle = (low + high) // 2
    return case(
        (at < bounds[middle], _bisect(at, bounds, low, middle)),
        else_=_bisect(at, bounds, middle + 1, high),
    )


@dataclass(frozen=True, slots=True)
class LinkedRow:
    partner_id: int | None
    code: str
    debt_recorded: bool
    segment: int
    original_segment: int
    points: int


@dataclass(frozen=True, slots=True)
class Linked:
    """The period's transfers that name an original, grouped by the price segment they
    happen in and the one their original happened in (split at every terms change of
    any partner, so one version of each partner's terms holds in each)."""

    rows: list[LinkedRow]
    versions: dict[int, list[Version]]
    original_bounds: list[datetime]

    def price(self, partner_id: int | None, original_segment: int) -> Version | None:
        if partner_id is None or original_segment == 0:
            return None  # before any partner's first terms
        return version_at(
            self.versions.get(partner_id, ()), self.original_bounds[original_segment - 1]
        )


def _linked(
    session: Session, bounds: Sequence[datetime], starts_at: datetime, ends_at: datetime
) -> Linked:
    """Grouped by the original's time each linked transfer carries (``original_at``): no
    join with the originals, which cost PostgreSQL a second scan of the ledger."""
    versions = term_versions(session, ends_at)
    original_bounds = sorted({v.effective_at for found in versions.values() for v in found})
    segment = segment_of(Transfer.created_at, bounds)
    # The original segment counts the bounds at or before the original's time: 0 before
    # every version, k from the k-th bound on.
    original_segment = _bisect(Transfer.original_at, original_bounds, 0, len(original_bounds))
    debt_recorded = case((Transfer.debit_account_id.like("%:debt"), 1), else_=0)
    rows = session.execute(
        select(
            Transfer.partner_id,
            Transfer.code,
            debt_recorded,
            segment,
            original_segment,
            func.sum(Transfer.amount),
        )
        .where(
            Transfer.original_transfer_id.is_not(None),
            Transfer.created_at >= starts_at,
            Transfer.created_at < ends_at,
        )
        .group_by(Transfer.partner_id, Transfer.code, debt_recorded, segment, original_segment)
    ).all()
    return Linked(
        [
            LinkedRow(partner, code, bool(debt), int(seg), int(orig), int(points))
            for partner, code, debt, seg, orig, points in rows
        ],
        versions,
        original_bounds,
    )


def _side(debit: str, credit: str) -> int:
    if debit.endswith(":issued"):
        return ADJUST_CHARGE_ISSUED
    if debit.endswith(":redeemed"):
        return ADJUST_CHARGE_REDEEMED
    if credit.endswith(":issued"):
        return ADJUST_CREDIT_ISSUED
    return ADJUST_CREDIT_REDEEMED


def _active(statement: StatementView) -> bool:
    return any(
        (
            statement.issued_points,
            statement.reversed_points,
            statement.compensation_points,
            statement.redeemed_points,
            statement.refunded_points,
            statement.adjustment_fen,
        )
    )


@dataclass(frozen=True, slots=True)
class MatrixEntry:
    issuer_partner_id: int
    redeemer_partner_id: int
    points: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class Netting:
    """How much bilateral settlement the central counterparty saves, clearing-house style:
    ``gross`` is what partners would pay each other pair by pair for the points spent
    across brands; ``bilateral_net`` nets each pair; ``multilateral_net`` is what actually
    moves when each partner makes one payment to or from the operator."""

    gross_fen: int
    bilateral_net_fen: int
    multilateral_net_fen: int
    ratio: Decimal | None  # 1 - multilateral / gross, four places; None without flows


def provenance(
    session: Session, windows: Sequence[Window], starts_at: datetime, ends_at: datetime
) -> list[MatrixEntry]:
    """Whose points were spent where: points leaving members' lots for redemptions at
    partners settling in this period (net of refunds and voids), and for donations to a
    charity partner's projects, by issuing partner and redeeming (or receiving charity)
    partner; valued at the redeeming partner's reimbursement price."""
    redemptions = session.execute(
        select(Lot.issuer_partner_id, Hold.partner_id, func.sum(Allocation.points))
        .select_from(Allocation)
        .join(Transfer, Transfer.id == Allocation.transfer_id)
        .join(Lot, Lot.id == Allocation.lot_id)
        .join(Hold, Hold.id == Transfer.hold_id)
        .where(
            Transfer.created_at >= starts_at,
            Transfer.created_at < ends_at,
            Transfer.code.in_(("redeem", "hold", "void", "refund")),
            Hold.status.in_((HoldStatus.CAPTURED, HoldStatus.REFUNDED)),
        )
        .group_by(Lot.issuer_partner_id, Hold.partner_id)
    ).all()
    donations = session.execute(
        select(Lot.issuer_partner_id, Transfer.partner_id, func.sum(Allocation.points))
        .select_from(Allocation)
        .join(Transfer, Transfer.id == Allocation.transfer_id)
        .join(Lot, Lot.id == Allocation.lot_id)
        .where(
            Transfer.created_at >= starts_at,
            Transfer.created_at < ends_at,
            Transfer.code == "donate",
            Transfer.partner_id.is_not(None),
        )
        .group_by(Lot.issuer_partner_id, Transfer.partner_id)
    ).all()
    pairs: dict[tuple[int, int], int] = defaultdict(int)
    for issuer, redeemer, points in (*redemptions, *donations):
        if redeemer is not None:  # a donation's partner: never null here, by the query
            pairs[(int(issuer), int(redeemer))] += int(points)
    price = {w.partner_id: w.reimbursement for w in sorted(windows, key=lambda w: w.starts_at)}
    return [
        MatrixEntry(issuer, redeemer, points, fen(points * price[redeemer]))
        for (issuer, redeemer), points in sorted(pairs.items())
        if redeemer in price and points != 0
    ]


def netting(matrix: Sequence[MatrixEntry]) -> Netting:
    owed: dict[tuple[int, int], int] = {}
    position: dict[int, int] = defaultdict(int)
    for entry in matrix:
        if entry.issuer_partner_id == entry.redeemer_partner_id:
            continue  # a partner's own points spent at home settle with nobody
        owed[(entry.issuer_partner_id, entry.redeemer_partner_id)] = entry.amount_fen
        position[entry.issuer_partner_id] -= entry.amount_fen
        position[entry.redeemer_partner_id] += entry.amount_fen
    gross = sum(owed.values())
    pairs = {tuple(sorted(pair)) for pair in owed}
    bilateral = sum(abs(owed.get((a, b), 0) - owed.get((b, a), 0)) for a, b in pairs)
    multilateral = sum(amount for amount in position.values() if amount > 0)
    ratio = None
    if gross:
        ratio = (1 - Decimal(multilateral) / Decimal(gross)).quantize(Decimal("0.0001"))
    return Netting(gross, bilateral, multilateral, ratio)
