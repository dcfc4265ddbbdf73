"""Members (one person, one member) and their consent links to partners (CR-10)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime, one_of
from ledger.models import BigId


class MemberStatus(StrEnum):
    PENDING = "PENDING"  # registered, phone not yet proven: receives nothing (CR-03)
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
    # Null while the registration is pending and after the member closed their account.
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
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
    # Erased (null) when the member closes their account.
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    external_ref: Mapped[str] = mapped_column(String(128))
    credit_level: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(12))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_ref: Mapped[str | None] = mapped_column(String(128))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    purpose: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[str | None] = mapped_column(String(12))


class ConsentChannel(StrEnum):
    """How the member gave an answer: in the alliance's app (signed in), by handing the
    code sent to their phone to the partner, or through the partner's staff (withdrawals
    only: a partner may always record that consent ended, never that it began)."""

    APP = "APP"
    SMS_CODE = "SMS_CODE"
    PARTNER = "PARTNER"


class ConsentAction(StrEnum):
    GRANTED = "GRANTED"
    DENIED = "DENIED"
    WITHDRAWN = "WITHDRAWN"


class ConsentEvent(Base):
    """The evidence of every grant, denial and withdrawal (PIPL Art. 14-15): who (the
    member, through which partner client if any), when, which channel, and what it
    covered. Append-only; it names the member only by the opaque id."""

    __tablename__ = "member_consent_events"
    __table_args__ = (
        one_of("action", ConsentAction),
        one_of("channel", ConsentChannel),
        Index(None, "member_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("member_consent_requests.id"))
    action: Mapped[str] = mapped_column(String(12))
    credit_level: Mapped[bool] = mapped_column(Boolean)
    credit_level_only: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str] = mapped_column(String(12))
    client_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class RegistrationStatus(StrEnum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"


class Registration(Base):
    """A partner's registration of a phone, waiting for the code sent to it. The member
    row it names is a PENDING placeholder until the code proves the phone; then it becomes
    the member, or, when the phone already belongs to one, it is replaced by that member."""

    __tablename__ = "member_registrations"
    __table_args__ = (one_of("status", RegistrationStatus), Index(None, "partner_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    external_ref: Mapped[str] = mapped_column(String(128))
    identity_verified: Mapped[bool] = mapped_column(Boolean)
    credit_level_consent: Mapped[bool] = mapped_column(Boolean)
    # The member's consent to credit-linked benefits, given with the code (docs/programme.md).
    credit_benefits_consent: Mapped[bool] = mapped_column(Boolean, server_default=false())
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CodePurpose(StrEnum):
    REGISTRATION = "REGISTRATION"
    CONSENT = "CONSENT"
    SIGN_IN = "SIGN_IN"


class OneTimeCode(Base):
    """A 6-digit code sent to a phone, kept only as a keyed hash of (purpose, subject,
    code). ``phone_hash`` with ``budget`` (the purpose, and for a partner's purposes the
    partner), ``address_hash`` (the caller's network address, hashed) and ``sender`` (the
    partner or app client that asked) count the codes sent, for the limits."""

    __tablename__ = "member_one_time_codes"
    __table_args__ = (
        one_of("purpose", CodePurpose),
        Index(None, "purpose", "subject_id"),
        Index(None, "phone_hash", "created_at"),
        Index(None, "address_hash", "created_at"),
        Index(None, "phone_hash", "budget", "created_at"),
        Index(None, "sender", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    purpose: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    address_hash: Mapped[str | None] = mapped_column(String(64))
    budget: Mapped[str | None] = mapped_column(String(40))
    sender: Mapped[str | None] = mapped_column(String(80))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


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
    __table_args__ = (
        UniqueConstraint("partner_id", "order_ref"),
        Index(None, "member_id"),
        Index(None, "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    order_ref: Mapped[str] = mapped_column(String(128))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    paid_amount_fen: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    # Null only inside the award's own transaction, between claiming the order and issuing.
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_lots.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The award's breakdown as the awarding partner saw it (JSON), for "why these points?".
    breakdown: Mapped[str | None] = mapped_column(Text)


class TierSchedule(Base):
    """A version of the alliance's published tier schedule, in force from ``effective_at``
    (always published ahead, CR-07) until the next version's."""

    __tablename__ = "programme_tier_schedules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime, unique=True)
    # The most the programme's multipliers together may multiply a line by (default 3).
    max_combined_factor: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Tier(Base):
    """One tier of a schedule; ``rank`` 0 is the base tier (qualifying points 0)."""

    __tablename__ = "programme_tiers"
    __table_args__ = (
        UniqueConstraint("schedule_id", "code"),
        UniqueConstraint("schedule_id", "rank"),
        CheckConstraint("qualifying_points >= 0", name="qualifying_points_not_negative"),
        CheckConstraint("qualifying_orders >= 0", name="qualifying_orders_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("programme_tier_schedules.id"))
    rank: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    qualifying_points: Mapped[int] = mapped_column(BigInteger)
    qualifying_orders: Mapped[int] = mapped_column(Integer)
    earn_multiplier: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    perks: Mapped[str] = mapped_column(Text)  # JSON list of the perks' descriptions


class MemberTier(Base):
    """The tier a member holds. No row: the base tier. ``qualified_at`` is the last time
    the member's earning met the tier (reached or re-earned); the tier is kept at least
    until the end of that qualifying year plus one year of grace."""

    __tablename__ = "member_tiers"
    __table_args__ = (Index(None, "qualified_at"),)

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    tier_code: Mapped[str] = mapped_column(String(32))
    tier_rank: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    qualified_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TierChangeReason(StrEnum):
    UPGRADE = "UPGRADE"  # an award crossed the next tier's threshold
    DOWNGRADE = "DOWNGRADE"  # the yearly evaluation, after the year of grace
    REVERSAL = "REVERSAL"  # the award that carried the member up was refunded


class TierChange(Base):
    """Every change of a member's tier, with its reason: append-only history."""

    __tablename__ = "member_tier_changes"
    __table_args__ = (one_of("reason", TierChangeReason), Index(None, "member_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    from_code: Mapped[str] = mapped_column(String(32))
    to_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(12))
    schedule_version: Mapped[int] = mapped_column(Integer)
    qualifying_points: Mapped[int] = mapped_column(BigInteger)
    qualifying_orders: Mapped[int] = mapped_column(Integer)
    award_id: Mapped[int | None] = mapped_column(ForeignKey("member_awards.id"))
    evaluated_on: Mapped[date | None] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AppClient(Base):
    """The alliance's own app: a public OAuth client (no secret) that members sign in to,
    registered by the operator with its exact redirect URIs (a JSON array)."""

    __tablename__ = "member_app_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    redirect_uris: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberSignIn(Base):
    """One sign-in at /oauth/authorize: the app's request (PKCE challenge, redirect URI,
    state), the member the phone named (null for a phone that is no member's), and the
    authorization code once the phone's code was right. Handles and codes are kept only
    as keyed hashes."""

    __tablename__ = "member_sign_ins"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("member_app_clients.client_id"))
    redirect_uri: Mapped[str] = mapped_column(String(512))
    code_challenge: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(500))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the phone's code
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the app's code
    exchanged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RefreshToken(Base):
    """A member's refresh token for an app, kept as a keyed hash. Tokens of one sign-in
    share a ``family``; each is used once (RFC 9700 §4.14.2)."""

    __tablename__ = "member_refresh_tokens"
    __table_args__ = (Index(None, "family"), Index(None, "member_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    client_id: Mapped[str] = mapped_column(ForeignKey("member_app_clients.client_id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PrivacyPreferences(Base):
    """The member's choices about personalisation (PIPL Art. 24): both off until the
    member turns them on. Every personalised feature reads them through
    ``members.self_service.privacy_preferences``."""

    __tablename__ = "member_privacy_preferences"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    personalised_offers: Mapped[bool] = mapped_column(Boolean)
    marketing_messages: Mapped[bool] = mapped_column(Boolean)
    # Consent to have the credit level raise accrual by the published credit schedule:
    # separate from any partner's consent to see the level (CR-10), off until given.
    credit_benefits: Mapped[bool] = mapped_column(Boolean, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CreditSchedule(Base):
    """A version of the published credit schedule (信用+积分): accrual multipliers by
    credit level, in force from ``effective_at`` (published ahead, CR-07)."""

    __tablename__ = "programme_credit_schedules"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CreditLevelBenefit(Base):
    """One credit level's multiplier in a credit schedule; a level not listed earns x1."""

    __tablename__ = "programme_credit_levels"
    __table_args__ = (
        UniqueConstraint("schedule_id", "level"),
        one_of("level", CreditLevel),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("programme_credit_schedules.id"))
    level: Mapped[str] = mapped_column(String(1))
    earn_multiplier: Mapped[Decimal] = mapped_column(Numeric(12, 4))


class BasketBonus(Base):
    """A partner's published basket bonus (积分联动消费): an order with lines in every one
    of ``categories`` earns ``bonus_points`` more, or its matched lines x ``multiplier``.
    Versions of a code take effect at their ``effective_at`` (published ahead, CR-07); a
    version with neither a bonus nor a multiplier withdraws the code."""

    __tablename__ = "partner_basket_bonuses"
    __table_args__ = (
        UniqueConstraint("partner_id", "code", "effective_at"),
        Index(None, "partner_id", "effective_at"),
        CheckConstraint("bonus_points >= 0", name="bonus_points_not_negative"),
        CheckConstraint("min_line_amount_fen >= 0", name="min_line_amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    code: Mapped[str] = mapped_column(String(32))
    categories: Mapped[str] = mapped_column(Text)  # JSON list, normalised, sorted
    min_line_amount_fen: Mapped[int] = mapped_column(BigInteger)
    bonus_points: Mapped[int] = mapped_column(Integer)
    multiplier: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BasketBonusUse(Base):
    """A basket bonus a member earned on a day: each rule pays a member at most once a
    day, so splitting one basket into several orders earns it once."""

    __tablename__ = "member_basket_bonus_uses"
    __table_args__ = (UniqueConstraint("partner_id", "member_id", "code", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    code: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    order_ref: Mapped[str] = mapped_column(String(128))


class PerkPeriod(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


class Perk(Base):
    """An entitlement a partner honours for members of some tiers (free parking, a
    personal shopping guide): never points, never money (CR-05)."""

    __tablename__ = "partner_perks"
    __table_args__ = (
        UniqueConstraint("partner_id", "code"),
        one_of("period", PerkPeriod),
        CheckConstraint("limit_per_period > 0", name="limit_positive"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    tier_codes: Mapped[str] = mapped_column(Text)  # JSON list
    limit_per_period: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PerkUse(Base):
    """How many times a member claimed a perk in a period: the conditional increment is
    what holds the published limit under concurrent claims."""

    __tablename__ = "member_perk_uses"
    __table_args__ = (UniqueConstraint("perk_id", "member_id", "period_start"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    perk_id: Mapped[int] = mapped_column(ForeignKey("partner_perks.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    period_start: Mapped[date] = mapped_column(Date)
    used: Mapped[int] = mapped_column(Integer)


class PerkClaim(Base):
    """Every claim of a perk: the audit of who honoured what for whom, and when."""

    __tablename__ = "member_perk_claims"
    __table_args__ = (Index(None, "member_id", "id"), Index(None, "perk_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    perk_id: Mapped[int] = mapped_column(ForeignKey("partner_perks.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    tier_code: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberPriceSet(Base):
    """A version of an item's published member prices (lower redemption thresholds for a
    tier or credit level), in force from ``effective_at``: a lower price at once, a
    higher or removed one after the operator's notice period (CR-07). An empty set
    removes them."""

    __tablename__ = "catalog_member_price_sets"
    __table_args__ = (Index(None, "item_id", "effective_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalog_items.id"))
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberPrice(Base):
    """One row of a member price set: the points for members of ``tier_code`` (or above)
    and/or of ``credit_level`` (or better, with their consent to credit benefits)."""

    __tablename__ = "catalog_member_prices"
    __table_args__ = (
        one_of("credit_level", CreditLevel),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint(
            "tier_code IS NOT NULL OR credit_level IS NOT NULL", name="names_a_condition"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("catalog_member_price_sets.id"), index=True)
    tier_code: Mapped[str | None] = mapped_column(String(32))
    credit_level: Mapped[str | None] = mapped_column(String(1))
    points: Mapped[int] = mapped_column(BigInteger)
