"""Reconciliation: the partners' lines against the hub's, classified in set-based SQL, and
the operator's resolution of every line that does not match."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    String,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session, aliased

import ledger
from ledger import accounts
from ledger.models import Transfer
from settlement.errors import LineNotFound, PeriodClosed, SettlementError
from settlement.models import (
    LineKind,
    LineResolution,
    LineStatus,
    PeriodStatus,
    PriceWindow,
    ReconLine,
    ReportLine,
    Resolution,
)
from settlement.periods import begin_reconciliation, get_period
from settlement.reports import display_reference
from settlement.statements import MICRO, price_windows, term_versions

_recon = cast(Table, ReconLine.__table__)
_windows = cast(Table, PriceWindow.__table__)

KIND_OF_CODE = {
    "earn": LineKind.AWARD,
    "clawback": LineKind.REVERSAL,
    "redeem": LineKind.REDEMPTION,
    "capture": LineKind.REDEMPTION,
    "donate": LineKind.REDEMPTION,
    "refund": LineKind.REFUND,
    "compensate": LineKind.COMPENSATION,
}
ISSUE_PRICED = ("earn", "clawback", "compensate")


@dataclass(frozen=True, slots=True)
class Summary:
    matched: int
    missing_in_hub: int
    missing_in_partner: int
    amount_mismatch: int
    unresolved: int


def _half_even_fen(micro: Any) -> Any:
    """Integer millionths of a fen to whole fen, half-even, in portable integer SQL."""
    whole, rest = micro // 1_000_000, micro % 1_000_000
    return whole + case((rest > 500_000, 1), (and_(rest == 500_000, whole % 2 == 1), 1), else_=0)


def reconcile(
    session: Session,
    period_id: int,
    now: datetime,
    progress: Callable[[str], None] = lambda step: None,
) -> Summary:
    """Move the period to RECONCILING (once it has ended) and classify every line, hub's
    and partner's, from scratch; the operator's resolutions are kept apart and survive."""
    period = get_period(session, period_id, lock=True)
    if period.status == PeriodStatus.CLOSED:
        raise PeriodClosed()
    begin_reconciliation(session, period, now)
    for table in (_recon, _windows):
        session.execute(delete(table).where(table.c.period_id == period_id))
    windows = price_windows(session, period.cycle, period.starts_at, period.ends_at)
    rows = [
        {
            "period_id": period_id,
            "partner_id": w.partner_id,
            "starts_at": w.starts_at,
            "ends_at": w.ends_at,
            "issue_micro": w.issue_micro,
            "reimbursement_micro": w.reimbursement_micro,
            "for_originals": False,
        }
        for w in windows
    ]
    # Every version of every partner's terms, for the refunds and clawbacks: each is priced
    # at the terms its original was settled at, whenever that was.
    for partner_id, versions in term_versions(session, period.ends_at).items():
        for index, version in enumerate(versions):
            until = (
                versions[index + 1].effective_at if index + 1 < len(versions) else period.ends_at
            )
            if version.effective_at < until:
                rows.append(
                    {
                        "period_id": period_id,
                        "partner_id": partner_id,
                        "starts_at": version.effective_at,
                        "ends_at": until,
                        "issue_micro": int(version.issue_price * MICRO),
                        "reimbursement_micro": int(version.reimbursement * MICRO),
                        "for_originals": True,
                    }
                )
    if rows:
        session.execute(insert(_windows), rows)
    _analyze(session, _windows)
    progress("matching the hub's lines with the partners'")
    hub = _hub_lines(period_id, period.starts_at, period.ends_at).subquery("hub")
    posted = ReportLine
    columns = [
        "period_id",
        "partner_id",
        "kind",
        "ref_key",
        "hub_points",
        "hub_fen",
        "partner_points",
        "partner_fen",
        "status",
    ]
    status = case(
        (posted.id.is_(None), LineStatus.MISSING_IN_PARTNER.value),
        (
            and_(posted.points == hub.c.points, posted.amount_fen == hub.c.amount_fen),
            LineStatus.MATCHED.value,
        ),
        else_=LineStatus.AMOUNT_MISMATCH.value,
    )
    # Every hub line, with the partner's line when there is one (found through the report
    # lines' unique index) ...
    session.execute(
        insert(_recon).from_select(
            columns,
            select(
                literal(period_id),
                hub.c.partner_id,
                hub.c.kind,
                hub.c.ref_key,
                hub.c.points,
                hub.c.amount_fen,
                posted.points,
                posted.amount_fen,
                status,
            )
            .select_from(hub)
            .outerjoin(
                posted,
                and_(
                    posted.period_id == period_id,
                    posted.partner_id == hub.c.partner_id,
                    posted.kind == hub.c.kind,
                    posted.ref_key == hub.c.ref_key,
                ),
            ),
        )
    )
    progress("finding the partners' lines the hub does not have")
    # ... then every partner line no hub line took: an anti-join on the lines just written,
    # through their own unique index.
    classified = aliased(ReconLine)
    session.execute(
        insert(_recon).from_select(
            columns,
            select(
                posted.period_id,
                posted.partner_id,
                posted.kind,
                posted.ref_key,
                literal(None, type_=BigInteger),
                literal(None, type_=BigInteger),
                posted.points,
                posted.amount_fen,
                literal(LineStatus.MISSING_IN_HUB.value),
            ).where(
                posted.period_id == period_id,
                ~exists().where(
                    classified.period_id == period_id,
                    classified.partner_id == posted.partner_id,
                    classified.kind == posted.kind,
                    classified.ref_key == posted.ref_key,
                ),
            ),
        )
    )
    progress("summarising")
    return summary(session, period_id, None)


def _analyze(session: Session, table: Table) -> None:
    """Fresh statistics for a table just filled in this transaction: without them
    PostgreSQL guesses a handful of rows and joins a million transfers row by row."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ANALYZE {table.name}"))


def _hub_lines(period_id: int, starts_at: datetime, ends_at: datetime) -> Any:
    """The hub's line per (partner, kind, reference): the transfers of each partner's
    price windows in the period, with each line's money from its own transfers' prices,
    or for a refund or clawback, from the prices its original was settled at. A clawback
    debt recorded is no line: its repayments are, as they come."""
    t, w = Transfer, PriceWindow
    kind = case(*((t.code == code, kind.value) for code, kind in KIND_OF_CODE.items()))
    key = case(
        (
            and_(t.code.in_(("earn", "clawback")), t.order_ref.is_not(None)),
            literal("order:") + t.order_ref,
        ),
        (t.hold_id.is_not(None), literal("hold:") + sql_cast(t.hold_id, String)),
        # A donation, or points moved without an order: the transfer itself.
        else_=literal("transfer:") + sql_cast(t.id, String),
    )

    def priced(window: Any) -> Any:
        return case(
            (t.code.in_(ISSUE_PRICED), window.issue_micro), else_=window.reimbursement_micro
        )

    in_period = and_(
        w.period_id == period_id,
        w.partner_id == t.partner_id,
        w.for_originals.is_(False),
        t.created_at >= w.starts_at,
        t.created_at < w.ends_at,
    )
    columns = (
        t.partner_id.label("partner_id"),
        kind.label("kind"),
        key.label("ref_key"),
        t.amount.label("points"),
    )
    # Transfers that name no original: priced at their own time (a clawback debt recorded
    # before migration 0037 among them, settled as it was then).
    own = (
        select(*columns, (t.amount * priced(w)).label("micro"))
        .join(w, in_period)
        .where(t.code.in_(tuple(KIND_OF_CODE)), t.original_transfer_id.is_(None))
    )
    # The linked ones (few), read through their partial index, each looking up its window
    # and its original's prices by (period, partner): joined instead, SQLite ran every
    # window against every linked transfer of the period.
    then = aliased(PriceWindow)
    price_then = (
        select(priced(then))
        .where(
            then.period_id == period_id,
            then.partner_id == t.partner_id,
            then.for_originals.is_(True),
            t.original_at >= then.starts_at,
            t.original_at < then.ends_at,
        )
        .limit(1)
        .scalar_subquery()
    )
    linked = select(*columns, (t.amount * price_then).label("micro")).where(
        t.original_transfer_id.is_not(None),
        t.created_at >= starts_at,
        t.created_at < ends_at,
        t.code.in_(tuple(KIND_OF_CODE)),
        t.debit_account_id.not_like("%:debt"),
        exists().where(in_period),
        exists().where(
            then.period_id == period_id,
            then.partner_id == t.partner_id,
            then.for_originals.is_(True),
            t.original_at >= then.starts_at,
            t.original_at < then.ends_at,
        ),
    )
    both = union_all(own, linked).subquery("moved")
    grouped = (
        select(
            both.c.partner_id,
            both.c.kind,
            both.c.ref_key,
            sql_cast(func.sum(both.c.points), BigInteger).label("points"),
            # PostgreSQL sums bigints as numeric: back to an integer for exact division.
            sql_cast(func.sum(both.c.micro), BigInteger).label("micro"),
        )
        .group_by(both.c.partner_id, both.c.kind, both.c.ref_key)
        .subquery()
    )
    return select(
        grouped.c.partner_id,
        grouped.c.kind,
        grouped.c.ref_key,
        grouped.c.points,
        _half_even_fen(grouped.c.micro).label("amount_fen"),
    )


def resolution_join() -> Any:
    return and_(
        LineResolution.period_id == ReconLine.period_id,
        LineResolution.partner_id == ReconLine.partner_id,
        LineResolution.kind == ReconLine.kind,
        LineResolution.ref_key == ReconLine.ref_key,
    )


def unresolved_count(session: Session, period_id: int) -> int:
    """Unmatched lines with no resolution, or only a dispute: each blocks the close."""
    return int(
        session.execute(
            select(func.count(ReconLine.id))
            .outerjoin(LineResolution, resolution_join())
            .where(
                ReconLine.period_id == period_id,
                ReconLine.status != LineStatus.MATCHED,
                func.coalesce(LineResolution.resolved, False).is_(False),
            )
        ).scalar_one()
    )


def summary(session: Session, period_id: int, partner_id: int | None) -> Summary:
    query = select(ReconLine.status, func.count(ReconLine.id)).where(
        ReconLine.period_id == period_id
    )
    if partner_id is not None:
        query = query.where(ReconLine.partner_id == partner_id)
    counts = {status: int(n) for status, n in session.execute(query.group_by(ReconLine.status))}
    return Summary(
        counts.get(LineStatus.MATCHED, 0),
        counts.get(LineStatus.MISSING_IN_HUB, 0),
        counts.get(LineStatus.MISSING_IN_PARTNER, 0),
        counts.get(LineStatus.AMOUNT_MISMATCH, 0),
        unresolved_count(session, period_id) if partner_id is None else 0,
    )


@dataclass(frozen=True, slots=True)
class LineView:
    id: int
    period_id: int
    partner_id: int
    kind: str
    reference: str
    hub_points: int | None
    hub_fen: int | None
    partner_points: int | None
    partner_fen: int | None
    status: str
    resolution: str | None
    note: str | None
    adjust_transfer_id: int | None


def lines_page(
    session: Session,
    period_id: int,
    *,
    partner_id: int | None,
    status: str | None,
    limit: int,
    after_id: int | None,
) -> list[LineView]:
    query = (
        select(ReconLine, LineResolution)
        .outerjoin(LineResolution, resolution_join())
        .where(ReconLine.period_id == period_id)
        .order_by(ReconLine.id)
        .limit(limit + 1)
    )
    if partner_id is not None:
        query = query.where(ReconLine.partner_id == partner_id)
    if status is not None:
        query = query.where(ReconLine.status == status)
    if after_id is not None:
        query = query.where(ReconLine.id > after_id)
    return [_line_view(line, decision) for line, decision in session.execute(query).all()]


def _line_view(line: ReconLine, decision: LineResolution | None) -> LineView:
    return LineView(
        line.id,
        line.period_id,
        line.partner_id,
        line.kind,
        display_reference(line.ref_key),
        line.hub_points,
        line.hub_fen,
        line.partner_points,
        line.partner_fen,
        line.status,
        None if decision is None else decision.resolution,
        None if decision is None else decision.note,
        None if decision is None else decision.adjust_transfer_id,
    )


# +1 when more points of this kind mean more issuance (issued side) or more redemption
# (redeemed side) for the partner; -1 for the kinds that take points back.
DIRECTION = {
    LineKind.AWARD: ("issued", 1),
    LineKind.COMPENSATION: ("issued", 1),
    LineKind.REVERSAL: ("issued", -1),
    LineKind.REDEMPTION: ("redeemed", 1),
    LineKind.REFUND: ("redeemed", -1),
}


def resolve_line(
    session: Session, line_id: int, resolution: str, note: str | None, now: datetime
) -> LineView:
    """ACCEPT_HUB: the hub's figure stands. ADJUST: the partner's figure is accepted; the
    difference in points is posted now as an ``adjust`` transfer, so it settles in the
    next period. DISPUTE: recorded with a note; it blocks the close until resolved."""
    if resolution not in Resolution.__members__:
        raise SettlementError("resolution must be ACCEPT_HUB, ADJUST or DISPUTE", ["resolution"])
    if note is not None and len(note) > 2_000:
        raise SettlementError("note must be at most 2,000 characters", ["note"])
    if resolution == Resolution.DISPUTE and not (note or "").strip():
        raise SettlementError("a dispute needs a note saying what is disputed", ["note"])
    line = session.get(ReconLine, line_id)
    if line is None or line.status == LineStatus.MATCHED:
        raise LineNotFound()
    period = get_period(session, line.period_id, lock=True)
    if period.status == PeriodStatus.CLOSED:
        raise PeriodClosed()
    decision = session.execute(
        select(LineResolution).where(
            LineResolution.period_id == line.period_id,
            LineResolution.partner_id == line.partner_id,
            LineResolution.kind == line.kind,
            LineResolution.ref_key == line.ref_key,
        )
    ).scalar_one_or_none()
    if decision is not None and decision.resolved:
        raise SettlementError(f"this line is already resolved ({decision.resolution})", ["lineId"])
    transfer_id = None
    if resolution == Resolution.ADJUST:
        transfer_id = _adjust(session, line, now)
    if decision is None:
        decision = LineResolution(
            period_id=line.period_id,
            partner_id=line.partner_id,
            kind=line.kind,
            ref_key=line.ref_key,
        )
        session.add(decision)
    decision.resolution = resolution
    decision.note = note
    decision.adjust_transfer_id = transfer_id
    decision.resolved_at = now
    decision.resolved = resolution != Resolution.DISPUTE
    session.flush()
    return _line_view(line, decision)


def _adjust(session: Session, line: ReconLine, now: datetime) -> int:
    difference = (line.partner_points or 0) - (line.hub_points or 0)
    if difference == 0:
        raise SettlementError(
            "the figures differ only in money: ACCEPT_HUB, or DISPUTE and correct the terms",
            ["resolution"],
        )
    side, sign = DIRECTION[LineKind(line.kind)]
    effect = sign * difference
    account = (
        accounts.partner_issued(line.partner_id)
        if side == "issued"
        else accounts.partner_redeemed(line.partner_id)
    )
    charged = (side == "issued") == (effect > 0)  # the partner pays the difference
    debit, credit = (
        (account, accounts.ALLIANCE_ADJUSTMENTS)
        if charged
        else (accounts.ALLIANCE_ADJUSTMENTS, account)
    )
    ledger.open_alliance_accounts(session, now)
    adjusted = ledger.adjust(
        session,
        ledger.IdempotencyKey("settlement", f"reconciliation-line:{line.id}"),
        debit=debit,
        credit=credit,
        amount=abs(effect),
        now=now,
        reason=f"reconciliation {line.kind} {display_reference(line.ref_key)}"[:128],
        partner_id=line.partner_id,
    )
    return adjusted.transfer_id


def unresolved_lines(
    session: Session,
    period_id: int,
    *,
    status: str | None,
    partner_id: int | None,
    undecided_only: bool = False,
) -> list[int]:
    """Ids of the period's unmatched lines that still need a decision (for bulk
    resolution from the CLI)."""
    query = (
        select(ReconLine.id)
        .outerjoin(LineResolution, resolution_join())
        .where(
            ReconLine.period_id == period_id,
            ReconLine.status != LineStatus.MATCHED,
            func.coalesce(LineResolution.resolved, False).is_(False),
        )
        .order_by(ReconLine.id)
    )
    if status is not None:
        query = query.where(ReconLine.status == status)
    if partner_id is not None:
        query = query.where(ReconLine.partner_id == partner_id)
    if undecided_only:
        query = query.where(LineResolution.id.is_(None))
    return [int(line_id) for line_id in session.execute(query).scalars()]


MAX_BULK = 5_000


@dataclass(frozen=True, slots=True)
class BulkResolution:
    resolved: int
    remaining: int


def resolve_lines(
    session: Session,
    period_id: int,
    *,
    status: str | None,
    partner_id: int | None,
    resolution: str,
    note: str | None,
    now: datetime,
) -> BulkResolution:
    """Resolve up to MAX_BULK of the period's undecided lines matching the filters the
    same way, in one transaction; ``remaining`` says how many are left for another call.
    Disputed lines are left alone: each is settled on its own."""
    get_period(session, period_id)
    if status is not None and status not in LineStatus.__members__:
        raise SettlementError("no such line status", ["status"])
    ids = unresolved_lines(
        session,
        period_id,
        status=status,
        partner_id=partner_id,
        undecided_only=True,  # a dispute is settled one line at a time, deliberately
    )
    for line_id in ids[:MAX_BULK]:
        resolve_line(session, line_id, resolution, note, now)
    return BulkResolution(min(len(ids), MAX_BULK), max(len(ids) - MAX_BULK, 0))
