"""The secret key's check value: a configured ``HUB_SECRET_KEY`` that differs from the one
the database's secrets were sealed and hashed with is refused with one line, instead of
every client failing later with ``invalid_client`` or a 500 (docs/operations.md).

``alliance-hub migrate`` stores the check (a keyed hash of a fixed label under the key, so
it reveals nothing of the key); every command that seals, unseals or hashes with the key
compares it first. A database migrated before the check existed gets it the first time a
key unseals its current signing key.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.config import LOCAL_SECRET_FILE, ConfigError, Settings
from core.crypto import hashes_equal, keyed_hash, unseal
from core.db import Base, UTCDateTime
from hub.oauth2.keys import SEAL_PURPOSE
from hub.oauth2.models import SigningKey

CHECK_PURPOSE = "secret-key-check"
CHECK_LABEL = "alliance-hub"


class SecretKeyCheck(Base):
    """One row: the check value of the key every secret in this database is under."""

    __tablename__ = "secret_key_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    check_value: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SecretKeyMismatch(ConfigError):
    """The configured key is not the one this database's secrets are under."""


def check_value(secret_key: str) -> str:
    return keyed_hash(secret_key, CHECK_PURPOSE, CHECK_LABEL)


def where_the_key_comes_from(settings: Settings) -> str:
    if settings.secret_source == "file":
        return f"the key in {Path(LOCAL_SECRET_FILE).resolve()}"
    return "HUB_SECRET_KEY"


def database_has_keys(session: Session) -> bool:
    """True once anything in the database is under a secret key."""
    return (
        session.get(SecretKeyCheck, 1) is not None
        or session.execute(select(SigningKey.kid).limit(1)).first() is not None
    )


def key_matches(session: Session, secret_key: str) -> bool | None:
    """True or False by the stored check value, else by unsealing the current signing key;
    None when the database holds neither (a new hub)."""
    stored = session.get(SecretKeyCheck, 1)
    if stored is not None:
        return hashes_equal(stored.check_value, check_value(secret_key))
    sealed = session.execute(
        select(SigningKey.private_key_sealed)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if sealed is None:
        return None
    try:
        unseal(secret_key, SEAL_PURPOSE, sealed)
    except (InvalidTag, ValueError):
        return False
    return True


def confirm_secret_key(session: Session, settings: Settings, now: datetime) -> None:
    """Refuse a key that does not match; store the check value when there is none yet."""
    matches = key_matches(session, settings.secret_key)
    if matches is False:
        raise SecretKeyMismatch(
            f"{where_the_key_comes_from(settings)} is not the secret key this database's "
            "secrets were made with (checked against the value `alliance-hub migrate` "
            "stored): configure the original key; another would break every client secret "
            "and signing key"
        )
    if session.get(SecretKeyCheck, 1) is None:
        session.add(
            SecretKeyCheck(id=1, check_value=check_value(settings.secret_key), created_at=now)
        )
        session.flush()
