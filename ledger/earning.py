"""Earning points on a purchase, and clawing them back when the purchase is refunded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ledger import accounts, repository
from ledger.errors import LotNotFound, ReversalExceedsEarned
from ledger.idempotency import IdempotencyKey, run_idempotent
from ledger.lots import allocate_fifo, repay_debt
from ledger.models import TransferCode
from ledger.repository import LotBalance
from ledger.results import ClawbackResult, EarnResult
from ledger.validation import require_future, require_points


def earn(
    session: Session,
    key: IdempotencyKey,
    *,
    member_id: int,
    partner_id: int,
    points: int,
    order_ref: str | None,
    expires_at: datetime,
    now: datetime,
    green: bool = False,
    code: TransferCode = TransferCode.EARN,
) -> EarnResult:
    """Issue ``points`` from the partner to the member as a new lot.

    If the member owes clawed-back points (CR-12), the new lot repays that debt
    first, in the same operation.
    """
    require_points("points", points)
    require_future("expires_at", expires_at, now)
    payload = {
        "member_id": member_id,
        "partner_id": partner_id,
        "points": points,
        "order_ref": order_ref,
        "green": green,
        "code": code.value,
    }

    def body(operation_id: int) -> EarnResult:
        transfer_id, lot_id, repaid = issue(
            session,
            Issue(
                operation_id, member_id, partner_id, points, code, expires_at, now, green, order_ref
            ),
        )
        return EarnResult(operation_id, transfer_id, lot_id, points, repaid)

    return run_idempotent(session, key, code.value, payload, EarnResult, now, body)


@dataclass(frozen=True, slots=True)
class Issue:
    operation_id: int
    member_id: int
    partner_id: int
    points: int
    code: TransferCode
    expires_at: datetime
    now: datetime
    green: bool = False
    order_ref: str | None = None
    hold_id: int | None = None


def issue(session: Session, issue: Issue) -> tuple[int, int, int]:
    """Post partner:<id>:issued → member as a new lot; repay any clawback debt from it.

    Returns (transfer id, lot id, debt repaid).
    """
    member, source = accounts.member(issue.member_id), accounts.partner_issued(issue.partner_id)
    transfer_id, applied = repository.post_transfer(
        session,
        operation_id=issue.operation_id,
        debit=source,
        credit=member,
        amount=issue.points,
        code=issue.code,
        now=issue.now,
        partner_id=issue.partner_id,
        member_id=issue.member_id,
        order_ref=issue.order_ref,
        hold_id=issue.hold_id,
        debt_account=accounts.member_debt(issue.member_id),
    )
    lot_id = repository.insert_lot(
        session,
        member_id=issue.member_id,
        issuer_partner_id=issue.partner_id,
        earn_transfer_id=transfer_id,
        points=issue.points,
        green=issue.green,
        earned_at=issue.now,
        expires_at=issue.expires_at,
    )
    repaid = repay_debt(
        session,
        issue.operation_id,
        issue.member_id,
        [LotBalance(lot_id, issue.points, issue.expires_at)],
        applied.outstanding_debt,
        issue.now,
    )
    return transfer_id, lot_id, repaid


def reverse_earn(
    session: Session,
    key: IdempotencyKey,
    *,
    lot_id: int,
    now: datetime,
    points: int | None = None,
    partner_id: int | None = None,
    order_ref: str | None = None,
) -> ClawbackResult:
    """Claw back the points of a refunded purchase (CR-12).

    The points come from the purchase's own lot first (and the lots a refund restored
    from it), then from the member's other live lots first-to-expire first. What the
    member has already spent becomes a clawback debt: the debt account owes the issuer,
    redemptions are blocked, and later earnings repay it; the issuer is credited in
    settlement for the points taken back now, and for the debt as it is repaid.
    ``partner_id`` scopes the call to the lot's issuer; ``points`` defaults to everything
    not yet reversed.
    """
    if points is not None:
        require_points("points", points)
    payload = {"lot_id": lot_id, "points": points, "partner_id": partner_id, "order_ref": order_ref}

    def body(operation_id: int) -> ClawbackResult:
        found = repository.lot_state(session, lot_id)
        if found is None or (partner_id is not None and found.issuer_partner_id != partner_id):
            raise LotNotFound(lot_id)
        member_id, issuer = found.member_id, found.issuer_partner_id
        # Both member accounts the clawback may debit, before the issuer's (ledger/locks.py).
        repository.lock_accounts(
            session, accounts.member(member_id), accounts.member_debt(member_id)
        )
        lot = repository.lot_state(session, lot_id)
        assert lot is not None
        reversible = lot.points - lot.reversed_points
        amount = reversible if points is None else points
        if amount > reversible or amount == 0:
            raise ReversalExceedsEarned(lot_id, amount, reversible)
        repository.add_reversed_points(session, lot_id, amount)

        own = min(lot.remaining, amount)
        taken = [(lot_id, own)] if own else []
        state = repository.member_points(session, member_id, "")
        others = [other for other in state.lots if other.id != lot_id and other.expires_at > now]
        # The purchase's own points that a refund gave back live in lots restored from its
        # lot: they go first (same issuer), then the member's other lots.
        restored = repository.lots_restored_from(session, lot_id)
        others.sort(key=lambda other: other.id not in restored)  # stable: FIFO kept
        from_others, shortfall = allocate_fifo(others, amount - own)
        taken += from_others

        transfer_ids = []
        issued = accounts.partner_issued(issuer)
        # Both parts name the earn they reverse: settlement credits the points taken back
        # at that earn's price, and the debt only as it is repaid (docs/settlement.md).
        original = repository.original_issue(session, lot_id)
        for debit, points_moved, allocated in (
            (accounts.member(member_id), amount - shortfall, taken),
            (accounts.member_debt(member_id), shortfall, []),
        ):
            if not points_moved:
                continue
            transfer_id, _ = repository.post_transfer(
                session,
                operation_id=operation_id,
                debit=debit,
                credit=issued,
                amount=points_moved,
                code=TransferCode.CLAWBACK,
                now=now,
                partner_id=issuer,
                member_id=member_id,
                order_ref=order_ref,
                original_transfer_id=original,
            )
            repository.record_allocations(session, transfer_id, allocated)
            transfer_ids.append(transfer_id)
        return ClawbackResult(operation_id, lot_id, amount - shortfall, shortfall, transfer_ids)

    return run_idempotent(session, key, "clawback", payload, ClawbackResult, now, body)
