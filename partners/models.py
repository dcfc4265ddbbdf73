"""Partners, their settlement terms and marketing budgets, and their OAuth clients."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, one_of
from ledger.models import BigId


class PartnerStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"


class SettlementCycle(StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


class ClientKind(StrEnum):
    PARTNER = "partner"
    OPERATOR = "operator"


class AuthMethod(StrEnum):
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"


class ClientStatus(StrEnum):
    ACTIVE = "ACTIVE"
    REVOKED = "REVOKED"


class PartnerKind(StrEnum):
    MERCHANT = "MERCHANT"
    # A registered charity: the only kind that publishes CHARITY items and receives
    # donations (CR-06). Set by the operator, never declared by a partner.
    CHARITY = "CHARITY"


DEFAULT_COMPENSATION_CAP_PERCENT = 100  # at most the points refunded (CR-12)


class Partner(Base):
    __tablename__ = "partners"
    __table_args__ = (
        one_of("status", PartnerStatus),
        one_of("kind", PartnerKind),
        CheckConstraint(
            "compensation_cap_percent >= 0 AND compensation_cap_percent <= 1000",
            name="compensation_cap_bounded",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    legal_entity: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(12), server_default=PartnerKind.MERCHANT.value)
    # The operator's cap on compensation points, in percent of the points a refund restores.
    compensation_cap_percent: Mapped[int] = mapped_column(
        Integer, server_default=str(DEFAULT_COMPENSATION_CAP_PERCENT)
    )


class SettlementTerms(Base):
    """A partner's prices per point, exact decimals of a fen, effective from a time (CR-07)."""

    __tablename__ = "partner_settlement_terms"
    __table_args__ = (
        UniqueConstraint("partner_id", "effective_at"),
        one_of("cycle", SettlementCycle),
        CheckConstraint(
            "issue_price_per_point_fen >= 0 AND reimbursement_per_point_fen >= 0",
            name="prices_non_negative",
        ),
        CheckConstraint(
            "operator_fee_rate >= 0 AND operator_fee_rate < 1", name="fee_rate_bounded"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    issue_price_per_point_fen: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    reimbursement_per_point_fen: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    operator_fee_rate: Mapped[Decimal] = mapped_column(Numeric(9, 6))
    cycle: Mapped[str] = mapped_column(String(8))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MarketingBudget(Base):
    """Money (integer fen) a partner sets aside to fund the points it issues (CR-02)."""

    __tablename__ = "partner_marketing_budgets"
    __table_args__ = (
        CheckConstraint("amount_fen >= 0", name="amount_non_negative"),
        CheckConstraint("issued_points >= 0", name="issued_points_non_negative"),
        CheckConstraint("period_end > period_start", name="period_ordered"),
        Index(None, "partner_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # Points issued against this budget so far; raised only by a conditional update that
    # keeps points x issue price within amount_fen (CR-02).
    issued_points: Mapped[int] = mapped_column(BigInteger, default=0)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OAuthClient(Base):
    """A machine client of the hub: a partner's system, or the operator's (no partner)."""

    __tablename__ = "oauth_clients"
    __table_args__ = (
        one_of("kind", ClientKind),
        one_of("auth_method", AuthMethod),
        one_of("status", ClientStatus),
        CheckConstraint(
            "(kind = 'operator' AND partner_id IS NULL) "
            "OR (kind = 'partner' AND partner_id IS NOT NULL)",
            name="owner_matches_kind",
        ),
        # operator:admin can never be granted to a partner client.
        CheckConstraint(
            "kind = 'operator' OR (' ' || scopes || ' ') NOT LIKE '% operator:admin %'",
            name="operator_scope_only_for_operator",
        ),
        CheckConstraint(
            "auth_method <> 'private_key_jwt' OR jwks IS NOT NULL", name="jwks_for_private_key_jwt"
        ),
        Index(None, "partner_id"),
    )

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    auth_method: Mapped[str] = mapped_column(String(32))
    scopes: Mapped[str] = mapped_column(Text)
    jwks: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ClientSecret(Base):
    """A keyed hash of a client secret; after a rotation the old one expires after a grace."""

    __tablename__ = "oauth_client_secrets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CatalogItemKind(StrEnum):
    GOODS = "GOODS"
    SERVICE = "SERVICE"
    VOUCHER = "VOUCHER"
    CHARITY = "CHARITY"
    # Always refused (CR-04, CR-05); named so the refusal can say what was tried.
    CASH_EQUIVALENT = "CASH_EQUIVALENT"
    EXTERNAL_POINTS = "EXTERNAL_POINTS"
    UNIVERSAL_VOUCHER = "UNIVERSAL_VOUCHER"


PUBLISHABLE_KINDS = ("GOODS", "SERVICE", "VOUCHER", "CHARITY")


class CatalogItem(Base):
    """Something a member can redeem points for at one partner."""

    __tablename__ = "catalog_items"
    __table_args__ = (
        UniqueConstraint("partner_id", "sku"),
        CheckConstraint("base_points > 0", name="base_points_positive"),
        CheckConstraint(
            "kind IN (" + ", ".join(repr(kind) for kind in PUBLISHABLE_KINDS) + ")",
            name="kind_publishable",
        ),
        Index(None, "base_points", "id"),
        Index(None, "created_at", "id"),
        Index(None, "category"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(24))
    green: Mapped[bool] = mapped_column(Boolean)
    base_points: Mapped[int] = mapped_column(BigInteger)
    available: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when the operator withdraws the item: it stays unavailable whatever its partner
    # publishes again (the withdrawal is in the compliance audit).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A service's terms (CR-13): days a redemption stays valid, in the same slots and dates
    # as a paid one (an item restricting points redemptions beyond that is refused).
    service_valid_days: Mapped[int | None] = mapped_column(Integer)


class Promotion(Base):
    """A time-limited redemption price for one item (CR-09)."""

    __tablename__ = "catalog_promotions"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("ends_at > starts_at", name="window_ordered"),
        Index(None, "item_id", "starts_at"),
        # The catalogue's next time boundary (partners.freshness) is a MIN over these.
        Index(None, "starts_at"),
        Index(None, "ends_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScheduledPrice(Base):
    """A base price published for an item from a time (CR-07): an increase only after the
    operator's notice period, a decrease at once. An item's base price at a time is the
    latest of these effective by then, else the price it was first published at."""

    __tablename__ = "catalog_scheduled_prices"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        Index(None, "item_id", "effective_at"),
        Index(None, "effective_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GreenStatus(StrEnum):
    PENDING = "PENDING"
    VERIFIED = "VERIFIED"
    REJECTED = "REJECTED"


class GreenProduct(Base):
    """A product a partner registered as green, with its eco-certificate reference (for
    example a China Environmental Labelling certificate number). Only the operator's
    verification makes it green: an order line or catalogue item earns or shows green only
    for a SKU VERIFIED here for its partner."""

    __tablename__ = "partner_green_products"
    __table_args__ = (UniqueConstraint("partner_id", "sku"), one_of("status", GreenStatus))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    certificate_ref: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(12))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class GreenDecision(Base):
    """The audit of the register: every registration and every verification or rejection,
    who and when, append-only."""

    __tablename__ = "partner_green_decisions"
    __table_args__ = (one_of("status", GreenStatus), Index(None, "product_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("partner_green_products.id"))
    status: Mapped[str] = mapped_column(String(12))
    certificate_ref: Mapped[str] = mapped_column(String(128))
    client_id: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class CatalogVersion(Base):
    """One row whose ``version`` grows with every committed change to what the public
    catalogue shows: a trigger on partners, items, promotions and scheduled prices bumps it
    in the changing transaction itself (migration 0023), whatever code path writes. Each
    worker reads it per public request to key its response cache (partners.freshness)."""

    __tablename__ = "catalog_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
    # Fresh random hex on every bump (migration 0041): a number reached again on another
    # history (a failover or restore took the counter back) never carries the same stamp.
    stamp: Mapped[str] = mapped_column(String(32))
