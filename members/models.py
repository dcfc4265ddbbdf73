"""Members (one person, one member) and their consent links to partners (CR-10)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, one_of
from ledger.models import BigId


class MemberStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"


class CreditLevel(StrEnum):
    """A sensitive attribute the operator keeps; shown only under its own consent (CR-10)."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


class Member(Base):
    """A person. The phone is kept only as a keyed hash; the display name never leaves the
    hub except to the operator."""

    __tablename__ = "members"
    __table_args__ = (one_of("status", MemberStatus), one_of("credit_level", CreditLevel))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12))
    identity_attested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attested_by_partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    credit_level: Mapped[str | None] = mapped_column(String(1))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Consent(Base):
    """A member's consent to one partner: the partner may see and move their points."""

    __tablename__ = "member_consents"
    __table_args__ = (
        UniqueConstraint("member_id", "partner_id"),
        UniqueConstraint("partner_id", "external_ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    external_ref: Mapped[str] = mapped_column(String(128))
    credit_level: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ConsentRequestStatus(StrEnum):
    PENDING = "PENDING"
    GRANTED = "GRANTED"
    DECLINED = "DECLINED"


class ConsentRequest(Base):
    """A partner's request for a member's consent and the member's answer, kept as the
    record of what was asked, when, and on what evidence it was granted (CR-10). The phone
    is kept only as its keyed hash."""

    __tablename__ = "member_consent_requests"
    __table_args__ = (one_of("status", ConsentRequestStatus), Index(None, "partner_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    phone_hash: Mapped[str] = mapped_column(String(64))
    external_ref: Mapped[str] = mapped_column(String(128))
    credit_level: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(12))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_ref: Mapped[str | None] = mapped_column(String(128))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class EarningRule(Base):
    """How a partner's purchases earn points, effective from a time (CR-07)."""

    __tablename__ = "partner_earning_rules"
    __table_args__ = (UniqueConstraint("partner_id", "effective_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    points_per_yuan: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    category_multipliers: Mapped[str] = mapped_column(Text)  # JSON {category: "decimal"}
    green_bonus_multiplier: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Award(Base):
    """One award per partner order (CR-01): the unique pair stops a second award on the
    same purchase under a new idempotency key."""

    __tablename__ = "member_awards"
    __table_args__ = (UniqueConstraint("partner_id", "order_ref"), Index(None, "member_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    order_ref: Mapped[str] = mapped_column(String(128))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    paid_amount_fen: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    # Null only inside the award's own transaction, between claiming the order and issuing.
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_lots.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
