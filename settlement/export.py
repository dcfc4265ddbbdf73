"""Exporting a period: its statements, then its reconciliation lines, streamed row by row
(the lines come through a server-side cursor in batches, never a whole table in memory)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from partners.models import Partner
from settlement.models import LineResolution, ReconLine
from settlement.periods import statements_of
from settlement.reconciliation import resolution_join
from settlement.reports import display_reference

STATEMENT_FIELDS = [
    "issued_points",
    "issue_fen",
    "reversed_points",
    "reversal_fen",
    "compensation_points",
    "compensation_fen",
    "redeemed_points",
    "reimbursement_fen",
    "refunded_points",
    "refund_fen",
    "adjustment_fen",
    "fee_fen",
    "net_fen",
]
LINE_FIELDS = [
    "kind",
    "reference",
    "status",
    "resolution",
    "note",
    "hub_points",
    "hub_fen",
    "partner_points",
    "partner_fen",
]
COLUMNS = ["record", "period_id", "partner_code", "line_id", *LINE_FIELDS, *STATEMENT_FIELDS]
BATCH = 2_000


def line_count(session: Session, period_id: int) -> int:
    return int(
        session.execute(
            select(func.count(ReconLine.id)).where(ReconLine.period_id == period_id)
        ).scalar_one()
    )


def records(session: Session, period_id: int) -> Iterator[dict[str, Any]]:
    """Every statement of the period (frozen once closed), then every line with its
    resolution, as flat records."""
    codes = {pid: code for pid, code in session.execute(select(Partner.id, Partner.code))}
    computed = statements_of(session, period_id)
    for statement in computed.statements:
        values = asdict(statement)
        yield {
            "record": "statement",
            "period_id": period_id,
            "partner_code": codes[statement.partner_id],
            **{name: values[name] for name in STATEMENT_FIELDS},
        }
    rows = session.execute(
        select(ReconLine, LineResolution.resolution, LineResolution.note)
        .outerjoin(LineResolution, resolution_join())
        .where(ReconLine.period_id == period_id)
        .order_by(ReconLine.id)
        .execution_options(yield_per=BATCH)
    )
    for line, resolution, note in rows:
        yield {
            "record": "line",
            "period_id": period_id,
            "partner_code": codes[line.partner_id],
            "line_id": line.id,
            "kind": line.kind,
            "reference": display_reference(line.ref_key),
            "status": line.status,
            "resolution": resolution,
            "note": note,
            "hub_points": line.hub_points,
            "hub_fen": line.hub_fen,
            "partner_points": line.partner_points,
            "partner_fen": line.partner_fen,
        }


def write_export(
    session: Session,
    period_id: int,
    out: IO[str],
    fmt: str,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Write the period as CSV (one header, a ``record`` column telling statements from
    lines) or JSON Lines; returns the records written."""
    total = line_count(session, period_id)
    writer = csv.DictWriter(out, fieldnames=COLUMNS, restval="") if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    written = lines = 0
    for record in records(session, period_id):
        if writer is not None:
            writer.writerow({k: "" if v is None else v for k, v in record.items()})
        else:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
        written += 1
        if record["record"] == "line":
            lines += 1
            if lines % BATCH == 0 or lines == total:
                progress(lines, total)
    return written
