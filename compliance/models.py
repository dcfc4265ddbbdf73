"""The compliance audit: one append-only, hash-chained row per blocked attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime
from ledger.models import BigId


class BlockedAttempt(Base):
    """Who tried what, refused by which rule, when. ``summary`` carries no personal data.
    ``hash`` covers this row and the previous row's hash, so editing or deleting any row
    breaks the chain from there on (``alliance-hub compliance verify-audit``)."""

    __tablename__ = "compliance_audit"
    __table_args__ = (Index(None, "partner_id", "id"), Index(None, "rule", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    client_id: Mapped[str] = mapped_column(String(64))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    operation: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(Text)
    previous_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(BigInteger, unique=True)


class AmlThreshold(Base):
    """Operator-set limits per pattern (CR-08): above ``soft`` a case opens, above ``hard``
    the operation is refused."""

    __tablename__ = "aml_thresholds"

    pattern: Mapped[str] = mapped_column(String(32), primary_key=True)
    soft: Mapped[int] = mapped_column(BigInteger)
    hard: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AmlCase(Base):
    """An operation that crossed a soft limit, queued for the operator's review."""

    __tablename__ = "aml_cases"
    __table_args__ = (Index(None, "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pattern: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    observed: Mapped[int] = mapped_column(BigInteger)
    evidence: Mapped[str] = mapped_column(Text)  # JSON list of transfer ids
    status: Mapped[str] = mapped_column(String(12))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)


class PartnerDailyIssuance(Base):
    """Points each partner issued per UTC day, kept as awards are made, so the issuance
    pattern (CR-08) reads a few rows instead of scanning the partner's transfers."""

    __tablename__ = "aml_partner_daily_issuance"

    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger)


class LiquidRedemption(Base):
    """A member's redemption on a liquid item (CR-08's FAST_LIQUID_REDEMPTION), written in
    the redemption's transaction, so the pattern counts the member's liquid redemptions
    over its window together instead of each alone."""

    __tablename__ = "aml_liquid_redemptions"
    __table_args__ = (Index(None, "member_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class HonestPhrase(Base):
    """An honest phrase the operator keeps, normalised (``微积分``, ``johnny cash``): the
    vocabulary ignores a term inside it that it covers whole."""

    __tablename__ = "compliance_honest_phrases"

    phrase: Mapped[str] = mapped_column(String(64), primary_key=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class VocabularyTerm(Base):
    """A cash-like (CR-05) or points-like (CR-07) term, normalised, that the operator keeps:
    an item or order line whose text contains it is refused with its rule."""

    __tablename__ = "compliance_vocabulary"
    __table_args__ = (CheckConstraint("rule IN ('CR-05', 'CR-07')", name="rule_known"),)

    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
