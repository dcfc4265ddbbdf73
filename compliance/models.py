"""The compliance audit: one append-only, hash-chained row per blocked attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime
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
