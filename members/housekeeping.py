"""Forgetting what nobody finished (PIPL Art. 19: kept no longer than the purpose needs).

A registration holds the phone's hash and the partner's reference, and a PENDING
placeholder member; a consent request to a phone holds the same. When the person never
confirmed before they lapsed (a day for a registration, 7 days for a request), they serve
nothing any more: they go, with the placeholder. Answered requests and confirmed
registrations stay as evidence of consent. Code counters go once no limit counts them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from members.models import (
    ConsentRequest,
    ConsentRequestStatus,
    Member,
    MemberSignIn,
    MemberStatus,
    OneTimeCode,
    Registration,
    RegistrationStatus,
)

# The longest window a code counts in (the daily cap per phone), with a margin.
CODE_COUNTERS_KEPT = timedelta(days=2)
# A sign-in lives 10 minutes; a day later nothing refers to it any more.
SIGN_INS_KEPT = timedelta(days=1)


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def purge_abandoned(session: Session, now: datetime, batch: int = 500) -> int:
    """Delete up to ``batch`` lapsed registrations (and their placeholder members), lapsed
    consent requests, old code counters and old sign-ins; how many rows went."""
    purged = 0
    lapsed = session.execute(
        select(Registration.id, Registration.member_id)
        .where(Registration.status == RegistrationStatus.PENDING, Registration.expires_at <= now)
        .order_by(Registration.id)
        .limit(batch)
    ).all()
    if lapsed:
        purged += _count(
            session.execute(delete(Registration).where(Registration.id.in_([r.id for r in lapsed])))
        )
        placeholders = [r.member_id for r in lapsed if r.member_id is not None]
        purged += _count(
            session.execute(
                delete(Member).where(
                    Member.id.in_(placeholders),
                    Member.status == MemberStatus.PENDING,
                    ~exists().where(Registration.member_id == Member.id),
                )
            )
        )
    requests = (
        session.execute(
            select(ConsentRequest.id)
            .where(
                ConsentRequest.status == ConsentRequestStatus.PENDING,
                ConsentRequest.expires_at <= now,
            )
            .order_by(ConsentRequest.id)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    if requests:
        purged += _count(
            session.execute(delete(ConsentRequest).where(ConsentRequest.id.in_(requests)))
        )
    codes = (
        session.execute(
            select(OneTimeCode.id)
            .where(OneTimeCode.created_at < now - CODE_COUNTERS_KEPT)
            .order_by(OneTimeCode.id)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    if codes:
        purged += _count(session.execute(delete(OneTimeCode).where(OneTimeCode.id.in_(codes))))
    sign_ins = (
        session.execute(
            select(MemberSignIn.id)
            .where(MemberSignIn.expires_at < now - SIGN_INS_KEPT)
            .order_by(MemberSignIn.id)
            .limit(batch)
        )
        .scalars()
        .all()
    )
    if sign_ins:
        purged += _count(session.execute(delete(MemberSignIn).where(MemberSignIn.id.in_(sign_ins))))
    return purged
