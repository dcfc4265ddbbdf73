"""Ledger tables: accounts, operations, transfers, lots, allocations and holds.

Transfers and allocations are insert-only. Account balances (``debits_posted``,
``credits_posted``), lot ``remaining`` and hold ``status`` are projections of
them that ``ledger.verify`` recomputes from the transfers alone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, one_of

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class AccountKind(StrEnum):
    MEMBER = "member"
    MEMBER_HELD = "member_held"
    MEMBER_DEBT = "member_debt"
    PARTNER_ISSUED = "partner_issued"
    PARTNER_REDEEMED = "partner_redeemed"
    ALLIANCE_EXPIRED = "alliance_expired"
    ALLIANCE_ADJUSTMENTS = "alliance_adjustments"
    CHARITY = "charity"


class TransferCode(StrEnum):
    """Why points moved. Stored on every transfer; never changes once written."""

    EARN = "earn"
    COMPENSATE = "compensate"
    HOLD = "hold"
    CAPTURE = "capture"
    VOID = "void"
    REDEEM = "redeem"
    REFUND = "refund"
    CLAWBACK = "clawback"
    EXPIRE = "expire"
    DONATE = "donate"
    ADJUST = "adjust"


class HoldStatus(StrEnum):
    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    VOIDED = "VOIDED"
    REFUNDED = "REFUNDED"


class Account(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("debits_posted >= 0 AND credits_posted >= 0", name="posted_non_negative"),
        CheckConstraint(
            "NOT debits_must_not_exceed_credits OR debits_posted <= credits_posted",
            name="debits_within_credits",
        ),
        CheckConstraint(
            "NOT credits_must_not_exceed_debits OR credits_posted <= debits_posted",
            name="credits_within_debits",
        ),
        one_of("kind", AccountKind),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    owner_id: Mapped[int | None] = mapped_column(BigInteger)
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Operation(Base):
    """One idempotent ledger call; every transfer belongs to exactly one."""

    __tablename__ = "ledger_operations"
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(128))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Hold(Base):
    """A redemption: reserved points (PENDING) that are then captured, voided or refunded."""

    __tablename__ = "ledger_holds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        one_of("status", HoldStatus),
        Index(None, "status", "deadline"),
        Index(None, "member_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("ledger_operations.id"))
    member_id: Mapped[int] = mapped_column(BigInteger)
    partner_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))
    reference: Mapped[str | None] = mapped_column(String(128))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Transfer(Base):
    """An immutable movement of ``amount`` points from one account to another."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="accounts_differ"),
        one_of("code", TransferCode),
        Index(None, "debit_account_id", "id"),
        Index(None, "credit_account_id", "id"),
        Index(None, "hold_id"),
        Index(None, "partner_id", "order_ref"),
        Index(None, "created_at"),
        # Settlement reads the transfers that give back or take back an earlier one apart
        # (few): through this index, never a second scan of the period.
        Index(
            "ix_ledger_transfers_linked_created_at",
            "created_at",
            sqlite_where=text("original_transfer_id IS NOT NULL"),
            postgresql_where=text("original_transfer_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("ledger_operations.id"), index=True)
    debit_account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[str] = mapped_column(ForeignKey("ledger_accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    code: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[int | None] = mapped_column(BigInteger)
    member_id: Mapped[int | None] = mapped_column(BigInteger)
    order_ref: Mapped[str | None] = mapped_column(String(128))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_holds.id"))
    # The transfer this one gives back or takes back, whose settlement price it is settled
    # at: for a clawback (points taken back, debt recorded or debt repaid) the earn (or
    # compensation) of the reversed lot's first lot; for a refund or a void the transfer
    # that spent the points. None for everything else.
    original_transfer_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_transfers.id"), default=None
    )
    # That original's created_at, copied when this transfer is written (ledger verify
    # checks the copy): settlement prices by it without joining the original (a join cost
    # PostgreSQL a second scan of the ledger, docs/settlement.md).
    original_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Lot(Base):
    """Points from one earn, with their issuer and expiry; spent first-to-expire first (CR-11).

    A lot ``restored_from_lot_id`` another holds points a refund or void gave back with the
    lifetime they had left when spent (CR-12): issued by the same partner, its issuing
    transfer is that refund or void, whose allocation gave the points back to the lot they
    came from; they moved on to this lot, so that lot's own unspent points keep their
    expiry."""

    __tablename__ = "ledger_lots"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_within_points"),
        CheckConstraint(
            "reversed_points >= 0 AND reversed_points <= points", name="reversed_within_points"
        ),
        CheckConstraint("expires_at > earned_at", name="expires_after_earned"),
        Index(None, "member_id", "expires_at", "earned_at", "id"),
        Index(None, "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    issuer_partner_id: Mapped[int] = mapped_column(BigInteger)
    earn_transfer_id: Mapped[int] = mapped_column(ForeignKey("ledger_transfers.id"), unique=True)
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    reversed_points: Mapped[int] = mapped_column(BigInteger, default=0)
    green: Mapped[bool] = mapped_column(Boolean, default=False)
    earned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    restored_from_lot_id: Mapped[int | None] = mapped_column(
        ForeignKey("ledger_lots.id"), index=True, default=None
    )


class Allocation(Base):
    """Which lot a transfer drew points from (positive) or gave them back to (negative)."""

    __tablename__ = "ledger_allocations"
    __table_args__ = (CheckConstraint("points <> 0", name="points_nonzero"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("ledger_transfers.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("ledger_lots.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)
