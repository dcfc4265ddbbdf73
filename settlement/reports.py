"""Partner-posted settlement reports: up to 5,000 lines a call, idempotent per
``(partner, period, kind, reference)``, all or nothing."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, select, tuple_
from sqlalchemy.orm import Session

from settlement.errors import LineConflict, PeriodClosed, SettlementError
from settlement.models import LineKind, PeriodStatus, ReportLine
from settlement.periods import get_period

MAX_LINES = 5_000
MAX_INT = 2**31 - 1
ORDER_KINDS = frozenset({LineKind.AWARD, LineKind.REVERSAL})


@dataclass(frozen=True, slots=True)
class LineInput:
    kind: str
    reference: str
    points: int
    amount_fen: int


def ref_key(kind: str, reference: str) -> str:
    """The reference in the hub's own form: an order reference for awards and reversals;
    for redemptions, refunds and compensation the ``Redemption`` id the hub returned (or a
    donation's transfer id). Anything else can never match a hub line."""
    if kind in ORDER_KINDS:
        return f"order:{reference}"
    if reference.isdigit():
        return f"transfer:{reference}"
    try:
        decoded = base64.b64decode(reference, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return f"raw:{reference}"
    type_name, _, node = decoded.partition(":")
    if type_name == "Redemption" and node.isdigit():
        return f"hold:{node}"
    return f"raw:{reference}"


def display_reference(key: str) -> str:
    """What a partner sees as the reference of a hub line (the inverse of ``ref_key``)."""
    prefix, _, value = key.partition(":")
    if prefix == "hold":
        return base64.b64encode(f"Redemption:{value}".encode()).decode()
    return value


def _check(index: int, line: LineInput) -> None:
    def refuse(field: str, message: str) -> SettlementError:
        return SettlementError(message, ["lines", str(index), field])

    if line.kind not in LineKind.__members__:
        raise refuse("kind", "kind must be AWARD, REVERSAL, REDEMPTION, REFUND or COMPENSATION")
    if not line.reference.strip() or len(line.reference) > 128:
        raise refuse("reference", "reference must be 1-128 characters")
    if type(line.points) is not int or not 0 < line.points <= MAX_INT:
        raise refuse("points", "points must be a whole number above 0")
    if type(line.amount_fen) is not int or not 0 <= line.amount_fen <= MAX_INT:
        raise refuse("amountFen", "amountFen must be a whole number of fen, not negative")


@dataclass(frozen=True, slots=True)
class Posted:
    accepted: int
    already_posted: int


_lines = cast(Table, ReportLine.__table__)


def post_report(
    session: Session,
    *,
    partner_id: int,
    period_id: int,
    lines: Sequence[LineInput],
    now: datetime,
) -> Posted:
    """Record the partner's lines for the period. A line posted again with the same figures
    is accepted once; with other figures the whole call is refused, as it is for any bad
    line: nothing is half-written."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise SettlementError(f"send 1 to {MAX_LINES} lines per call", ["lines"])
    period = get_period(session, period_id, lock=True)
    if period.status == PeriodStatus.CLOSED:
        raise PeriodClosed()
    wanted: dict[tuple[str, str], tuple[int, int, int, str]] = {}
    for index, line in enumerate(lines):
        _check(index, line)
        key = (line.kind, ref_key(line.kind, line.reference))
        figures = (line.points, line.amount_fen)
        if key in wanted and wanted[key][:2] != figures:
            raise LineConflict(index)
        wanted.setdefault(key, (*figures, index, line.reference))
    existing: dict[tuple[str, str], tuple[int, int]] = {}
    keys = list(wanted)
    for start in range(0, len(keys), 500):
        rows = session.execute(
            select(
                ReportLine.kind, ReportLine.ref_key, ReportLine.points, ReportLine.amount_fen
            ).where(
                ReportLine.period_id == period_id,
                ReportLine.partner_id == partner_id,
                tuple_(ReportLine.kind, ReportLine.ref_key).in_(keys[start : start + 500]),
            )
        ).all()
        existing.update({(k, r): (p, a) for k, r, p, a in rows})
    for key, (points, amount, index, _) in wanted.items():
        if key in existing and existing[key] != (points, amount):
            raise LineConflict(index)
    fresh = [
        {
            "period_id": period_id,
            "partner_id": partner_id,
            "kind": kind,
            "reference": reference,
            "ref_key": key,
            "points": points,
            "amount_fen": amount,
            "posted_at": now,
        }
        for (kind, key), (points, amount, _, reference) in wanted.items()
        if (kind, key) not in existing
    ]
    if fresh:
        session.execute(insert(_lines), fresh)
    return Posted(len(fresh), len(lines) - len(fresh))
