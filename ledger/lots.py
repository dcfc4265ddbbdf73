"""Spending from lots first-to-expire first, and giving points back to the same lots.

Every function here runs after the member's account row is locked (by the
balance update or :func:`repository.lock_account`), so the lots it reads cannot
change under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ledger import accounts, repository
from ledger.errors import ClawbackDebtOutstanding
from ledger.models import TransferCode
from ledger.repository import LotBalance


class LotsOutOfBalance(RuntimeError):
    """The member's account and lots disagree: a broken invariant, never a user error, so
    not a LedgerError: the API masks it as an internal error."""

    def __init__(self, member_id: int, wanted: int, found: int) -> None:
        super().__init__(f"member {member_id}: lots hold {found} spendable points, {wanted} needed")


def allocate_fifo(lots: Sequence[LotBalance], amount: int) -> tuple[list[tuple[int, int]], int]:
    """Take up to ``amount`` from ``lots`` in the order given.

    Returns ``(lot_id, points)`` per lot used and the shortfall left uncovered.
    """
    taken: list[tuple[int, int]] = []
    left = amount
    for lot in lots:
        if left == 0:
            break
        points = min(lot.remaining, left)
        if points > 0:
            taken.append((lot.id, points))
            left -= points
    return taken, left


@dataclass(frozen=True, slots=True)
class Spend:
    """One debit of a member's spendable points to ``credit``."""

    operation_id: int
    member_id: int
    credit: str
    amount: int
    code: TransferCode
    now: datetime
    partner_id: int | None = None
    hold_id: int | None = None
    order_ref: str | None = None


def spend(session: Session, spend: Spend, *, blocked_by_debt: bool = True) -> int:
    """Debit the member and consume lots FIFO; returns the transfer id.

    Lots that lapsed but were not yet swept are expired first, so points are
    only ever spent from live lots (CR-11). With ``blocked_by_debt`` a member
    owing clawed-back points may not spend (CR-12).
    """
    member = accounts.member(spend.member_id)
    repository.apply_balances(session, member, spend.credit, spend.amount)
    state = repository.member_points(
        session, spend.member_id, accounts.member_debt(spend.member_id)
    )
    if blocked_by_debt and state.outstanding_debt > 0:
        raise ClawbackDebtOutstanding(spend.member_id, state.outstanding_debt)
    live = [lot for lot in state.lots if lot.expires_at > spend.now]
    lapsed = [lot for lot in state.lots if lot.expires_at <= spend.now]
    if lapsed:
        expire(session, spend.operation_id, spend.member_id, lapsed, spend.now)
    taken, shortfall = allocate_fifo(live, spend.amount)
    if shortfall:
        raise LotsOutOfBalance(spend.member_id, spend.amount, spend.amount - shortfall)
    transfer_id = repository.insert_transfer(
        session,
        operation_id=spend.operation_id,
        debit=member,
        credit=spend.credit,
        amount=spend.amount,
        code=spend.code,
        now=spend.now,
        partner_id=spend.partner_id,
        member_id=spend.member_id,
        hold_id=spend.hold_id,
        order_ref=spend.order_ref,
    )
    repository.record_allocations(session, transfer_id, taken)
    return transfer_id


def expire(
    session: Session, operation_id: int, member_id: int, lapsed: Sequence[LotBalance], now: datetime
) -> int:
    """Breakage: move the remaining points of lapsed lots to ``alliance:expired``."""
    amount = sum(lot.remaining for lot in lapsed)
    member = accounts.member(member_id)
    transfer_id, _ = repository.post_transfer(
        session,
        operation_id=operation_id,
        debit=member,
        credit=accounts.ALLIANCE_EXPIRED,
        amount=amount,
        code=TransferCode.EXPIRE,
        now=now,
        member_id=member_id,
    )
    repository.record_allocations(session, transfer_id, [(lot.id, lot.remaining) for lot in lapsed])
    return transfer_id


@dataclass(frozen=True, slots=True)
class Restore:
    """Give back to their lots the points that ``consumed_transfer_id`` took (CR-12)."""

    operation_id: int
    member_id: int
    debit: str
    amount: int
    consumed_transfer_id: int
    spent_at: datetime
    code: TransferCode
    now: datetime
    partner_id: int | None = None
    hold_id: int | None = None
    # What settlement prices the give-back at (the redemption a refund reverses); by
    # default the transfer that consumed the points.
    original_transfer_id: int | None = None


def restore(session: Session, restore: Restore) -> int:
    """Credit the member from ``debit`` with exactly the points ``consumed_transfer_id``
    took, each with the lifetime it had left when spent (CR-12); returns the first
    transfer id.

    One transfer per lot the points came from gives them back to that lot (its
    allocation), so provenance and settlement see them return to their issuer. Unless the
    refund comes at the instant of spending, the points then move on to a new lot restored
    from it: the same issuer, expiring ``now + (lot's expiry - spent_at)``, never more
    than they had left. The lot's own unspent points keep their expiry, whether it lapsed
    meanwhile or not: repeated redeem-and-refund cycles extend nothing but the points
    refunded, and those only by the time they spent with the partner.
    """
    member = accounts.member(restore.member_id)
    applied = repository.apply_balances(
        session,
        restore.debit,
        member,
        restore.amount,
        debt_account=accounts.member_debt(restore.member_id),
    )
    taken = repository.allocations_of(session, restore.consumed_transfer_id)
    found = sum(lot.points for lot in taken)
    if found != restore.amount:
        raise LotsOutOfBalance(restore.member_id, restore.amount, found)
    restored: list[LotBalance] = []
    transfer_ids: list[int] = []
    for lot in taken:
        transfer_id = repository.insert_transfer(
            session,
            operation_id=restore.operation_id,
            debit=restore.debit,
            credit=member,
            amount=lot.points,
            code=restore.code,
            now=restore.now,
            partner_id=restore.partner_id,
            member_id=restore.member_id,
            hold_id=restore.hold_id,
            original_transfer_id=restore.original_transfer_id or restore.consumed_transfer_id,
        )
        transfer_ids.append(transfer_id)
        repository.record_allocations(session, transfer_id, [(lot.lot_id, -lot.points)])
        expires_at = restore.now + (lot.expires_at - restore.spent_at)
        if expires_at <= lot.expires_at:  # refunded the instant it was spent
            restored.append(LotBalance(lot.lot_id, lot.points, lot.expires_at))
            continue
        repository.move_out_of_lot(session, lot.lot_id, lot.points)
        restored_lot = repository.insert_lot(
            session,
            member_id=restore.member_id,
            issuer_partner_id=lot.issuer_partner_id,
            earn_transfer_id=transfer_id,
            points=lot.points,
            green=lot.green,
            earned_at=lot.earned_at,
            expires_at=expires_at,
            restored_from_lot_id=lot.lot_id,
        )
        restored.append(LotBalance(restored_lot, lot.points, expires_at))
    restored.sort(key=lambda lot: lot.expires_at)
    repay_debt(
        session,
        restore.operation_id,
        restore.member_id,
        restored,
        applied.outstanding_debt,
        restore.now,
    )
    return transfer_ids[0]


def repay_debt(
    session: Session,
    operation_id: int,
    member_id: int,
    lots: Sequence[LotBalance],
    debt: int,
    now: datetime,
) -> int:
    """CR-12: points that come back to a member who owes clawed-back points repay that debt
    first, from ``lots`` in order. Returns the points repaid."""
    taken, _ = allocate_fifo(lots, min(debt, sum(lot.remaining for lot in lots)))
    repaid = sum(points for _, points in taken)
    if not repaid:
        return 0
    member, owed = accounts.member(member_id), accounts.member_debt(member_id)
    left = repaid
    # Oldest debt first, one transfer per debt repaid: each names its issuer and the earn
    # it reverses, so settlement credits the issuer now, at that earn's price. A debt
    # recorded before migration 0037 names no earn: its issuer was credited when it was
    # recorded, so its repayment names no partner and settles nothing.
    for debt_owed in repository.outstanding_debts(session, member_id):
        if not left:
            break
        points = min(left, debt_owed.owed)
        part, taken = split_allocations(taken, points)
        transfer_id, _ = repository.post_transfer(
            session,
            operation_id=operation_id,
            debit=member,
            credit=owed,
            amount=points,
            code=TransferCode.CLAWBACK,
            now=now,
            partner_id=(
                debt_owed.partner_id if debt_owed.original_transfer_id is not None else None
            ),
            member_id=member_id,
            original_transfer_id=debt_owed.original_transfer_id,
        )
        repository.record_allocations(session, transfer_id, part)
        left -= points
    if left:
        raise LotsOutOfBalance(member_id, repaid, repaid - left)
    return repaid


def split_allocations(
    taken: Sequence[tuple[int, int]], points: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The first ``points`` of ``(lot_id, points)`` allocations, and the rest."""
    head: list[tuple[int, int]] = []
    rest: list[tuple[int, int]] = []
    for lot_id, available in taken:
        used = min(available, points)
        if used:
            head.append((lot_id, used))
            points -= used
        if available > used:
            rest.append((lot_id, available - used))
    return head, rest
