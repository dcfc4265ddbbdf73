"""Recording blocked attempts in a hash chain, and verifying the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from compliance.models import BlockedAttempt
from core import metrics

GENESIS = "0" * 64
_CHAIN_LOCK = 4_170_001  # pg_advisory_xact_lock key: one writer extends the chain at a time


def _digest(
    previous_hash: str,
    sequence: int,
    at: datetime,
    client_id: str,
    partner_id: int | None,
    operation: str,
    rule: str,
    summary: str,
) -> str:
    canonical = json.dumps(
        [previous_hash, sequence, at.isoformat(), client_id, partner_id, operation, rule, summary],
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_blocked(
    session: Session,
    *,
    client_id: str,
    partner_id: int | None,
    operation: str,
    rule: str,
    summary: str,
    now: datetime,
) -> int:
    """Append one blocked attempt. Run in its own transaction, after the refused one
    rolled back, so the refusal is recorded and nothing else is."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    last = session.execute(
        select(BlockedAttempt.sequence, BlockedAttempt.hash)
        .order_by(BlockedAttempt.sequence.desc())
        .limit(1)
    ).first()
    sequence, previous = (1, GENESIS) if last is None else (last.sequence + 1, last.hash)
    row = BlockedAttempt(
        at=now,
        client_id=client_id,
        partner_id=partner_id,
        operation=operation,
        rule=rule,
        summary=summary,
        previous_hash=previous,
        sequence=sequence,
        hash=_digest(previous, sequence, now, client_id, partner_id, operation, rule, summary),
    )
    session.add(row)
    session.flush()
    metrics.on_commit(session, metrics.REFUSALS, rule)
    return row.id


@dataclass(frozen=True, slots=True)
class ChainBreak:
    sequence: int
    reason: str


def verify_chain(session: Session, batch: int = 1000) -> tuple[int, list[ChainBreak]]:
    """Walk the chain in order, streaming; every row must hash to its stored hash and link
    to its predecessor, and sequences must have no gaps."""
    breaks: list[ChainBreak] = []
    previous, expected, count = GENESIS, 1, 0
    rows = session.execute(select(BlockedAttempt).order_by(BlockedAttempt.sequence)).scalars()
    for row in rows.yield_per(batch):
        count += 1
        if row.sequence != expected:
            breaks.append(
                ChainBreak(row.sequence, f"expected sequence {expected}: rows are missing")
            )
        if row.previous_hash != previous:
            breaks.append(ChainBreak(row.sequence, "does not link to the row before it"))
        digest = _digest(
            row.previous_hash,
            row.sequence,
            row.at,
            row.client_id,
            row.partner_id,
            row.operation,
            row.rule,
            row.summary,
        )
        if digest != row.hash:
            breaks.append(ChainBreak(row.sequence, "its content does not match its hash"))
        previous, expected = row.hash, row.sequence + 1
    return count, breaks


@dataclass(frozen=True, slots=True)
class AttemptView:
    id: int
    at: datetime
    rule: str
    operation: str
    partner_id: int | None


def attempts_page(
    session: Session,
    *,
    limit: int,
    before_id: int | None,
    rule: str | None,
    partner_ids: Sequence[int] | None,
) -> list[AttemptView]:
    """Newest first, ``limit + 1`` of them; ``partner_ids`` restricts to those partners."""
    query = select(BlockedAttempt)
    if before_id is not None:
        query = query.where(BlockedAttempt.id < before_id)
    if rule is not None:
        query = query.where(BlockedAttempt.rule == rule)
    if partner_ids is not None:
        query = query.where(BlockedAttempt.partner_id.in_(list(partner_ids)))
    rows = session.execute(query.order_by(BlockedAttempt.id.desc()).limit(limit + 1)).scalars()
    return [AttemptView(r.id, r.at, r.rule, r.operation, r.partner_id) for r in rows]
