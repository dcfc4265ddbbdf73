"""Access-token signing keys: creation, rotation and the published JWKS."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.crypto import seal, unseal
from hub.oauth2.models import SigningKey

SEAL_PURPOSE = "oauth-signing-key"
ALGORITHM = "ES256"


@dataclass(frozen=True, slots=True)
class CurrentKey:
    kid: str
    key: ECKey


def _generate(session: Session, secret_key: str, now: datetime) -> str:
    kid = secrets.token_urlsafe(12)
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
    session.add(
        SigningKey(
            kid=kid,
            private_key_sealed=seal(
                secret_key, SEAL_PURPOSE, json.dumps(key.as_dict(private=True)).encode()
            ),
            public_jwk=json.dumps(key.as_dict(private=False)),
            created_at=now,
        )
    )
    session.flush()
    return kid


def ensure_signing_key(session: Session, secret_key: str, now: datetime) -> str:
    """The current key's id, creating the first key on a new hub."""
    kid = session.execute(
        select(SigningKey.kid)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return kid or _generate(session, secret_key, now)


def rotate_signing_key(session: Session, secret_key: str, now: datetime) -> str:
    """Publish a new key and retire the others; they verify for one more token lifetime."""
    session.execute(
        update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
    )
    return _generate(session, secret_key, now)


def current_key(session: Session, secret_key: str) -> CurrentKey:
    row = session.execute(
        select(SigningKey.kid, SigningKey.private_key_sealed)
        .where(SigningKey.retired_at.is_(None))
        .order_by(SigningKey.created_at.desc())
        .limit(1)
    ).first()
    if row is None:
        raise LookupError(
            "no signing key: run `alliance-hub migrate` or `alliance-hub keys rotate`"
        )
    private = json.loads(unseal(secret_key, SEAL_PURPOSE, row.private_key_sealed))
    return CurrentKey(row.kid, ECKey.import_key(private))


@dataclass(frozen=True, slots=True)
class PublishedKey:
    jwk: dict[str, Any]
    verifies_until: datetime | None


def published_keys(
    session: Session, now: datetime, token_lifetime: timedelta
) -> list[PublishedKey]:
    """The current key and every key retired less than a token lifetime ago."""
    rows = session.execute(
        select(SigningKey.public_jwk, SigningKey.retired_at)
        .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > now - token_lifetime))
        .order_by(SigningKey.created_at.desc())
    ).all()
    return [
        PublishedKey(
            json.loads(row.public_jwk),
            None if row.retired_at is None else row.retired_at + token_lifetime,
        )
        for row in rows
    ]


def jwks_document(keys: list[PublishedKey]) -> dict[str, Any]:
    return {"keys": [key.jwk for key in keys]}
