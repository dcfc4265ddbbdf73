"""The expiry job: breakage of lots whose expiry has passed (CR-11)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from ledger import accounts, repository
from ledger.idempotency import SYSTEM_CLIENT_ID, IdempotencyKey, run_idempotent
from ledger.lots import expire


@dataclass(frozen=True, slots=True)
class ExpiryBatch:
    operation_id: int
    members: int
    points: int
    # [member_id, points expired] for each member whose lots expired in this batch.
    expired: list[list[int]] = field(default_factory=list)


def expire_lapsed_lots(session: Session, now: datetime, limit: int = 500) -> ExpiryBatch:
    """Expire the lapsed lots of up to ``limit`` members as one operation.

    Run it in a loop, one transaction per batch, until ``members`` is 0.
    """
    members = repository.lapsed_lot_members(session, now, limit)

    def body(operation_id: int) -> ExpiryBatch:
        expired: list[list[int]] = []
        # Every member of the batch first, then alliance:expired (ledger/locks.py).
        repository.lock_accounts(session, *(accounts.member(m) for m in members))
        for member_id in members:
            state = repository.member_points(session, member_id, "")
            lapsed = [lot for lot in state.lots if lot.expires_at <= now]
            if lapsed:
                expire(session, operation_id, member_id, lapsed, now)
                expired.append([member_id, sum(lot.remaining for lot in lapsed)])
        return ExpiryBatch(
            operation_id, len(members), sum(points for _, points in expired), expired
        )

    if not members:
        return ExpiryBatch(0, 0, 0)
    key = IdempotencyKey(SYSTEM_CLIENT_ID, f"expire:{uuid.uuid4()}")
    return run_idempotent(session, key, "expire", {"members": members}, ExpiryBatch, now, body)


@dataclass(frozen=True, slots=True)
class Forfeiture:
    operation_id: int
    points: int


def forfeit_member_points(
    session: Session, key: IdempotencyKey, member_id: int, now: datetime
) -> Forfeiture:
    """A member who closes their account (PIPL Art. 47) gives up their remaining points,
    after being warned: every lot's remaining points go to breakage (``alliance:expired``)
    as one ``expire`` transfer, the same movement as expiry, so settlement treats them
    alike. The member's held points must be settled first (the caller checks)."""

    def body(operation_id: int) -> Forfeiture:
        repository.lock_account(session, accounts.member(member_id))
        live = repository.member_points(session, member_id, "").lots
        if not live:
            return Forfeiture(operation_id, 0)
        expire(session, operation_id, member_id, live, now)
        return Forfeiture(operation_id, sum(lot.remaining for lot in live))

    return run_idempotent(session, key, "forfeit", {"member": member_id}, Forfeiture, now, body)
