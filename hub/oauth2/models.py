"""The authorization server's own state: signing keys, revoked tokens, used assertion ids,
and the credentials' version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UTCDateTime


class SigningKey(Base):
    """An ES256 key for access tokens. The private half is sealed with the hub's secret key.

    The newest unretired key signs; a retired key stays in the JWKS for one token
    lifetime so the tokens it signed can still be verified, then drops out.
    """

    __tablename__ = "oauth_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_key_sealed: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RevokedToken(Base):
    """RFC 7009 revocation as a ``jti`` denylist, kept until the token would have expired."""

    __tablename__ = "oauth_revoked_tokens"
    __table_args__ = (Index(None, "expires_at"),)

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UsedAssertion(Base):
    """RFC 7523 §3 item 7: a client assertion's ``jti`` is accepted once."""

    __tablename__ = "oauth_used_assertions"
    __table_args__ = (Index(None, "expires_at"),)

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CredentialVersion(Base):
    """One row whose ``version`` grows with every committed change to what the bearer
    check reads about a partner's or the operator's token: a trigger on revoked tokens,
    clients and partners bumps it in the changing transaction itself (migration 0033),
    whatever code path writes. Each worker reads it per request and keeps the check's
    answers only while it stands (hub.oauth2.bearer)."""

    __tablename__ = "credential_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger)
    # Fresh random hex on every bump (migration 0041): a number reached again on another
    # history (a failover or restore took the counter back) never carries the same stamp.
    stamp: Mapped[str] = mapped_column(String(32))
