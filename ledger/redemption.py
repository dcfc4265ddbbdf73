"""Redemptions: two-phase (reserve, then capture or void), one-step, and refund in kind."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ledger import accounts, repository
from ledger.earning import Issue, issue
from ledger.errors import HoldExpired, HoldNotFound, HoldNotPending
from ledger.idempotency import SYSTEM_CLIENT_ID, IdempotencyKey, run_idempotent
from ledger.lots import Restore, Spend, restore, spend
from ledger.models import HoldStatus, TransferCode
from ledger.repository import HoldState
from ledger.results import RedemptionResult, RefundResult
from ledger.validation import require_future, require_points


def reserve(
    session: Session,
    key: IdempotencyKey,
    *,
    member_id: int,
    partner_id: int,
    amount: int,
    deadline: datetime,
    now: datetime,
    reference: str | None = None,
) -> RedemptionResult:
    """Move points from the member to ``member:<id>:held`` until capture, void or ``deadline``."""
    require_future("deadline", deadline, now)
    return _take(session, key, member_id, partner_id, amount, reference, now, deadline)


def redeem(
    session: Session,
    key: IdempotencyKey,
    *,
    member_id: int,
    partner_id: int,
    amount: int,
    now: datetime,
    reference: str | None = None,
) -> RedemptionResult:
    """Reserve and capture in one step: the points go straight to the redeeming partner."""
    return _take(session, key, member_id, partner_id, amount, reference, now, deadline=None)


@dataclass(frozen=True, slots=True)
class Take:
    """A redemption's spend inside an operation: PENDING into the held account with a
    deadline, or CAPTURED straight to the partner without one."""

    operation_id: int
    member_id: int
    partner_id: int
    amount: int
    reference: str | None
    now: datetime
    deadline: datetime | None = None


def take(session: Session, take: Take) -> RedemptionResult:
    require_points("amount", take.amount)
    two_phase = take.deadline is not None
    status = HoldStatus.PENDING if two_phase else HoldStatus.CAPTURED
    hold_id = repository.insert_hold(
        session,
        operation_id=take.operation_id,
        member_id=take.member_id,
        partner_id=take.partner_id,
        amount=take.amount,
        status=status,
        reference=take.reference,
        deadline=take.deadline,
        now=take.now,
    )
    transfer_id = spend(
        session,
        Spend(
            operation_id=take.operation_id,
            member_id=take.member_id,
            credit=accounts.member_held(take.member_id)
            if two_phase
            else accounts.partner_redeemed(take.partner_id),
            amount=take.amount,
            code=TransferCode.HOLD if two_phase else TransferCode.REDEEM,
            now=take.now,
            partner_id=take.partner_id,
            hold_id=hold_id,
            order_ref=take.reference,
        ),
    )
    return RedemptionResult(take.operation_id, hold_id, transfer_id, status, take.amount)


def _take(
    session: Session,
    key: IdempotencyKey,
    member_id: int,
    partner_id: int,
    amount: int,
    reference: str | None,
    now: datetime,
    deadline: datetime | None,
) -> RedemptionResult:
    require_points("amount", amount)
    payload = {
        "member_id": member_id,
        "partner_id": partner_id,
        "amount": amount,
        "reference": reference,
    }
    kind = "reserve" if deadline is not None else "redeem"

    def body(operation_id: int) -> RedemptionResult:
        return take(
            session, Take(operation_id, member_id, partner_id, amount, reference, now, deadline)
        )

    return run_idempotent(session, key, kind, payload, RedemptionResult, now, body)


# Given the refunded hold, check and fund its compensation (raising to refuse it); returns
# what to run once the compensation's transfer exists, if anything.
FundCompensation = Callable[[HoldState], Callable[[int], None] | None]


def _refuse_transition(
    session: Session, hold_id: int, partner_id: int | None, expected: HoldStatus, now: datetime
) -> Exception:
    hold = repository.hold_state(session, hold_id)
    if hold is None or (partner_id is not None and hold.partner_id != partner_id):
        return HoldNotFound(hold_id)
    if hold.status == expected and hold.deadline is not None and hold.deadline <= now:
        return HoldExpired(hold_id)
    return HoldNotPending(hold_id, hold.status, expected)


def capture(
    session: Session,
    key: IdempotencyKey,
    *,
    hold_id: int,
    now: datetime,
    partner_id: int | None = None,
) -> RedemptionResult:
    """Complete a PENDING redemption before its deadline: held points go to the partner."""

    def body(operation_id: int) -> RedemptionResult:
        hold = repository.transition_hold(
            session,
            hold_id,
            from_status=HoldStatus.PENDING,
            to_status=HoldStatus.CAPTURED,
            now=now,
            partner_id=partner_id,
            live_at=now,
        )
        if hold is None:
            raise _refuse_transition(session, hold_id, partner_id, HoldStatus.PENDING, now)
        held, redeemed = (
            accounts.member_held(hold.member_id),
            accounts.partner_redeemed(hold.partner_id),
        )
        transfer_id, _ = repository.post_transfer(
            session,
            operation_id=operation_id,
            debit=held,
            credit=redeemed,
            amount=hold.amount,
            code=TransferCode.CAPTURE,
            now=now,
            partner_id=hold.partner_id,
            member_id=hold.member_id,
            hold_id=hold_id,
        )
        return RedemptionResult(
            operation_id, hold_id, transfer_id, HoldStatus.CAPTURED, hold.amount
        )

    return run_idempotent(
        session, key, "capture", {"hold_id": hold_id}, RedemptionResult, now, body
    )


def void(
    session: Session,
    key: IdempotencyKey,
    *,
    hold_id: int,
    now: datetime,
    partner_id: int | None = None,
) -> RedemptionResult:
    """Cancel a PENDING redemption: the held points go back to the lots they came from."""

    def body(operation_id: int) -> RedemptionResult:
        hold = repository.transition_hold(
            session,
            hold_id,
            from_status=HoldStatus.PENDING,
            to_status=HoldStatus.VOIDED,
            now=now,
            partner_id=partner_id,
        )
        if hold is None:
            raise _refuse_transition(session, hold_id, partner_id, HoldStatus.PENDING, now)
        transfer_id = _give_back(session, operation_id, hold, TransferCode.VOID, now)
        return RedemptionResult(operation_id, hold_id, transfer_id, HoldStatus.VOIDED, hold.amount)

    return run_idempotent(session, key, "void", {"hold_id": hold_id}, RedemptionResult, now, body)


def _give_back(
    session: Session, operation_id: int, hold: HoldState, code: TransferCode, now: datetime
) -> int:
    consumed_id, spent_at = repository.consuming_transfer(session, hold.id)
    source = (
        accounts.member_held(hold.member_id)
        if code is TransferCode.VOID
        else accounts.partner_redeemed(hold.partner_id)
    )
    return restore(
        session,
        Restore(
            operation_id=operation_id,
            member_id=hold.member_id,
            debit=source,
            amount=hold.amount,
            consumed_transfer_id=consumed_id,
            spent_at=spent_at,
            code=code,
            now=now,
            partner_id=hold.partner_id,
            hold_id=hold.id,
            original_transfer_id=(
                repository.settled_redemption(session, hold.id)
                if code is TransferCode.REFUND
                else None
            ),
        ),
    )


def refund(
    session: Session,
    key: IdempotencyKey,
    *,
    hold_id: int,
    now: datetime,
    compensation_points: int = 0,
    compensation_expires_at: datetime | None = None,
    partner_id: int | None = None,
    fund_compensation: FundCompensation | None = None,
) -> RefundResult:
    """Refund in kind (CR-12): a captured redemption's points return to their lots.

    Optional compensation points are a new lot issued, and paid for, by the
    redeeming partner. Never money (CR-05). ``fund_compensation`` runs in the same
    operation before anything is posted (the caps, budget and AML screening of the domain
    that calls); the function it returns runs with the compensation's transfer id.
    """
    require_points("compensation_points", compensation_points, allow_zero=True)
    if compensation_points:
        if compensation_expires_at is None:
            raise TypeError("compensation_expires_at is required with compensation points")
        require_future("compensation_expires_at", compensation_expires_at, now)
    payload = {"hold_id": hold_id, "compensation_points": compensation_points}

    def body(operation_id: int) -> RefundResult:
        hold = repository.transition_hold(
            session,
            hold_id,
            from_status=HoldStatus.CAPTURED,
            to_status=HoldStatus.REFUNDED,
            now=now,
            partner_id=partner_id,
        )
        if hold is None:
            raise _refuse_transition(session, hold_id, partner_id, HoldStatus.CAPTURED, now)
        issued = None
        if compensation_points and fund_compensation is not None:
            # As an award: AML screening locks the member's accounts first, then the
            # budget row is taken, before any partner account: one order for both.
            issued = fund_compensation(hold)
        if compensation_points:
            # The compensation's source ranks below the redeemed account the give-back
            # locks: take all four in the global order first (ledger/locks.py).
            repository.lock_accounts(
                session,
                accounts.member(hold.member_id),
                accounts.member_debt(hold.member_id),
                accounts.partner_issued(hold.partner_id),
                accounts.partner_redeemed(hold.partner_id),
            )
        transfer_id = _give_back(session, operation_id, hold, TransferCode.REFUND, now)
        compensation_transfer = compensation_lot = None
        if compensation_points:
            assert compensation_expires_at is not None
            compensation_transfer, compensation_lot, _ = issue(
                session,
                Issue(
                    operation_id=operation_id,
                    member_id=hold.member_id,
                    partner_id=hold.partner_id,
                    points=compensation_points,
                    code=TransferCode.COMPENSATE,
                    expires_at=compensation_expires_at,
                    now=now,
                    hold_id=hold.id,
                ),
            )
            if issued is not None:
                issued(compensation_transfer)
        return RefundResult(
            operation_id,
            hold_id,
            transfer_id,
            hold.amount,
            compensation_transfer,
            compensation_lot,
        )

    return run_idempotent(session, key, "refund", payload, RefundResult, now, body)


def lock_lapsed_holds(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """The PENDING holds past their deadline (at most ``limit``), for a sweep that voids
    them all in one transaction. In the global lock order: the holds first, then every
    member account the voids will touch, in one statement each, so the sweep never steps
    back down the order (ledger/locks.py)."""
    lapsed = repository.lock_lapsed_holds(session, now, limit)
    if lapsed:
        repository.lock_accounts(
            session,
            *(address for hold in lapsed for address in accounts.member_accounts(hold.member_id)),
        )
    return [hold.id for hold in lapsed]


def void_lapsed_holds(session: Session, now: datetime, limit: int = 500) -> int:
    """Void every PENDING hold past its deadline (at most ``limit``); returns how many."""
    lapsed = lock_lapsed_holds(session, now, limit)
    for hold_id in lapsed:
        void(
            session,
            IdempotencyKey(SYSTEM_CLIENT_ID, f"auto-void:{hold_id}"),
            hold_id=hold_id,
            now=now,
        )
    return len(lapsed)
