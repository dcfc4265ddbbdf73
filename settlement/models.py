"""Settlement periods, frozen statements, partner-posted report lines, reconciliation.

Money is integer fen. Statements of a closed period are immutable in the database itself
(triggers refuse UPDATE and DELETE, as for the ledger's transfers)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, one_of
from ledger.models import BigId, Transfer
from partners.models import SettlementCycle


class PeriodStatus(StrEnum):
    OPEN = "OPEN"
    RECONCILING = "RECONCILING"
    CLOSED = "CLOSED"


class LineKind(StrEnum):
    AWARD = "AWARD"
    REVERSAL = "REVERSAL"
    REDEMPTION = "REDEMPTION"
    REFUND = "REFUND"
    COMPENSATION = "COMPENSATION"


class LineStatus(StrEnum):
    MATCHED = "MATCHED"
    MISSING_IN_HUB = "MISSING_IN_HUB"
    MISSING_IN_PARTNER = "MISSING_IN_PARTNER"
    AMOUNT_MISMATCH = "AMOUNT_MISMATCH"


class Resolution(StrEnum):
    ACCEPT_HUB = "ACCEPT_HUB"
    ADJUST = "ADJUST"
    DISPUTE = "DISPUTE"


class SettlementPeriod(Base):
    """``[starts_at, ends_at)`` in UTC for the partners on one cycle. Transfers belong to
    the period of their ``created_at``; a period is reconciled once it has ended."""

    __tablename__ = "settlement_periods"
    __table_args__ = (
        one_of("cycle", SettlementCycle),
        one_of("status", PeriodStatus),
        CheckConstraint("ends_at > starts_at", name="window_ordered"),
        UniqueConstraint("cycle", "starts_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cycle: Mapped[str] = mapped_column(String(8))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(12))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    operator_revenue_fen: Mapped[int | None] = mapped_column(BigInteger)


class Statement(Base):
    """One partner's frozen statement for a closed period, in integer fen. Positive ``net``
    is owed to the partner by the operator; negative is owed by the partner."""

    __tablename__ = "settlement_statements"
    __table_args__ = (UniqueConstraint("period_id", "partner_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("settlement_periods.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    issued_points: Mapped[int] = mapped_column(BigInteger)
    issue_fen: Mapped[int] = mapped_column(BigInteger)
    reversed_points: Mapped[int] = mapped_column(BigInteger)
    reversal_fen: Mapped[int] = mapped_column(BigInteger)
    compensation_points: Mapped[int] = mapped_column(BigInteger)
    compensation_fen: Mapped[int] = mapped_column(BigInteger)
    redeemed_points: Mapped[int] = mapped_column(BigInteger)
    reimbursement_fen: Mapped[int] = mapped_column(BigInteger)
    refunded_points: Mapped[int] = mapped_column(BigInteger)
    refund_fen: Mapped[int] = mapped_column(BigInteger)
    adjustment_fen: Mapped[int] = mapped_column(BigInteger)
    fee_fen: Mapped[int] = mapped_column(BigInteger)
    net_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportLine(Base):
    """A line a partner posted for a period. ``ref_key`` is the reference in the hub's own
    form (``order:<ref>`` or ``hold:<id>``) so matching is a plain join."""

    __tablename__ = "settlement_report_lines"
    __table_args__ = (
        one_of("kind", LineKind),
        UniqueConstraint("period_id", "partner_id", "kind", "ref_key"),
        CheckConstraint("points >= 0 AND amount_fen >= 0", name="amounts_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("settlement_periods.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    kind: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128))
    ref_key: Mapped[str] = mapped_column(String(140))
    points: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReconLine(Base):
    """One classified line: the hub's and the partner's figures side by side. Derived rows,
    rebuilt by every reconciliation from rows whose keys are already checked (transfers,
    report lines), so they carry no foreign keys: a million row-level key checks would
    cost PostgreSQL more than the reconciliation itself."""

    __tablename__ = "settlement_recon_lines"
    __table_args__ = (
        one_of("status", LineStatus),
        UniqueConstraint("period_id", "partner_id", "kind", "ref_key"),
        Index(None, "period_id", "status", "id"),
        Index(None, "period_id", "partner_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period_id: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    ref_key: Mapped[str] = mapped_column(String(140))
    hub_points: Mapped[int | None] = mapped_column(BigInteger)
    hub_fen: Mapped[int | None] = mapped_column(BigInteger)
    partner_points: Mapped[int | None] = mapped_column(BigInteger)
    partner_fen: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))


class LineResolution(Base):
    """The operator's decision on an unmatched line. Kept apart from the classified lines,
    so re-running reconciliation never loses a decision."""

    __tablename__ = "settlement_resolutions"
    __table_args__ = (
        one_of("resolution", Resolution),
        UniqueConstraint("period_id", "partner_id", "kind", "ref_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("settlement_periods.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    kind: Mapped[str] = mapped_column(String(16))
    ref_key: Mapped[str] = mapped_column(String(140))
    resolution: Mapped[str] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    adjust_transfer_id: Mapped[int | None] = mapped_column(ForeignKey(Transfer.__table__.c.id))
    resolved_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved: Mapped[bool] = mapped_column(Boolean)  # False while DISPUTE blocks close


class PriceWindow(Base):
    """A partner's prices over part of a period, in integer millionths of a fen (terms
    carry at most six decimal places, so this is exact), written by reconciliation so the
    hub's line amounts are computed in SQL with integer arithmetic."""

    __tablename__ = "settlement_price_windows"
    __table_args__ = (Index(None, "period_id", "partner_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("settlement_periods.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issue_micro: Mapped[int] = mapped_column(BigInteger)
    reimbursement_micro: Mapped[int] = mapped_column(BigInteger)
    # A window of a partner's terms at any time before the period's end (every version),
    # for pricing a refund or a clawback at the terms its original was settled at; not a
    # window the partner settles in during the period.
    for_originals: Mapped[bool] = mapped_column(Boolean, server_default=false())
