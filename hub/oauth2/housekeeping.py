"""Forget what can no longer matter: used assertion ids and revoked token ids past their
expiry (a replayed assertion or a revoked token is refused by its ``exp`` by then)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from hub.oauth2.models import RevokedToken, UsedAssertion


def purge_expired(session: Session, now: datetime) -> int:
    purged = 0
    for model in (UsedAssertion, RevokedToken):
        result = session.execute(delete(model).where(model.expires_at < now))
        purged += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return purged
