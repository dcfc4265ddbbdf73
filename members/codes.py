"""One-time codes sent to a member's phone: 6 digits, stored only as a keyed hash, valid
5 minutes, at most 5 attempts; and the limits on how many are sent, per phone and per
caller address, which apply alike whether or not the phone belongs to a member."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from core.crypto import hashes_equal, keyed_hash
from members.errors import MemberError
from members.models import OneTimeCode

CODE_PURPOSE = "one-time-code"
ADDRESS_PURPOSE = "caller-address"
CODE_LIFETIME = timedelta(minutes=5)
MAX_ATTEMPTS = 5
LIMIT_WINDOW = timedelta(minutes=15)
CODES_PER_PHONE = 5
CODES_PER_ADDRESS = 20


class CodeRateLimited(MemberError):
    """Too many codes sent lately; ``retry_after`` seconds until the next may be sent."""

    code = "RATE_LIMITED"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many codes requested; try again in {retry_after} seconds")
        self.retry_after = retry_after


class CodeRefused(MemberError):
    """Wrong, expired, used or exhausted: one answer for all, so nothing is learnt."""

    code = "INVALID_CODE"

    def __init__(self) -> None:
        super().__init__("the code is wrong or no longer valid; ask for a new one", ["code"])


@dataclass(frozen=True, slots=True)
class IssuedCode:
    id: int
    code: str


def address_hash(secret_key: str, address: str | None) -> str | None:
    return None if not address else keyed_hash(secret_key, ADDRESS_PURPOSE, address)


def _code_hash(secret_key: str, purpose: str, subject_id: int, code: str) -> str:
    return keyed_hash(secret_key, CODE_PURPOSE, f"{purpose}:{subject_id}:{code}")


def _retry_after(
    session: Session,
    column: InstrumentedAttribute[str | None],
    value: str,
    limit: int,
    now: datetime,
) -> int:
    since = now - LIMIT_WINDOW
    recent = (
        session.execute(
            select(OneTimeCode.created_at)
            .where(column == value, OneTimeCode.created_at > since)
            .order_by(OneTimeCode.created_at.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if len(recent) < limit:
        return 0
    return max(1, math.ceil((recent[-1] + LIMIT_WINDOW - now).total_seconds()))


def check_send_limits(
    session: Session, *, phone_hash: str | None, address: str | None, now: datetime
) -> None:
    """At most 5 codes per phone and 20 per caller address in any 15 minutes."""
    waits = [0]
    if phone_hash is not None:
        waits.append(
            _retry_after(session, OneTimeCode.phone_hash, phone_hash, CODES_PER_PHONE, now)
        )
    if address is not None:
        waits.append(
            _retry_after(session, OneTimeCode.address_hash, address, CODES_PER_ADDRESS, now)
        )
    if max(waits) > 0:
        raise CodeRateLimited(max(waits))


def issue_code(
    session: Session,
    secret_key: str,
    *,
    purpose: str,
    subject_id: int,
    phone_hash: str | None,
    address: str | None = None,
    now: datetime,
) -> IssuedCode:
    """A fresh code for ``(purpose, subject_id)``; earlier unused codes for it lapse.
    ``address`` is the caller's address already hashed (``address_hash``)."""
    check_send_limits(session, phone_hash=phone_hash, address=address, now=now)
    session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.purpose == purpose,
            OneTimeCode.subject_id == subject_id,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    row = OneTimeCode(
        purpose=purpose,
        subject_id=subject_id,
        phone_hash=phone_hash,
        address_hash=address,
        code_hash=_code_hash(secret_key, purpose, subject_id, code),
        attempts=0,
        created_at=now,
        expires_at=now + CODE_LIFETIME,
    )
    session.add(row)
    session.flush()
    return IssuedCode(row.id, code)


def redeem_code(
    session: Session, secret_key: str, *, purpose: str, subject_id: int, code: str, now: datetime
) -> bool:
    """Whether ``code`` is the live code for ``(purpose, subject_id)``; a right code is used
    up, a wrong one counts an attempt. The caller must commit either way (and refuse
    after committing), or the attempt would not count."""
    row = session.execute(
        select(OneTimeCode)
        .where(OneTimeCode.purpose == purpose, OneTimeCode.subject_id == subject_id)
        .order_by(OneTimeCode.id.desc())
        .limit(1)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return False
    if row.attempts >= MAX_ATTEMPTS:
        return False
    given = code.strip()
    if not (len(given) == 6 and given.isdigit()) or not hashes_equal(
        _code_hash(secret_key, purpose, subject_id, given), row.code_hash
    ):
        row.attempts += 1
        session.flush()
        return False
    row.used_at = now
    session.flush()
    return True
