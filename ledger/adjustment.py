"""Corrections between partner and alliance accounts, always as new ``adjust`` transfers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ledger import repository
from ledger.errors import LedgerError
from ledger.idempotency import IdempotencyKey, run_idempotent
from ledger.models import TransferCode
from ledger.results import AdjustmentResult
from ledger.validation import require_points


class MemberAccountNotAdjustable(LedgerError):
    """Member points move only through lots (earn, spend, refund, clawback, expiry)."""

    code = "BAD_USER_INPUT"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"{account_id} is a member account; adjust it through its own flows")
        self.account_id = account_id


def adjust(
    session: Session,
    key: IdempotencyKey,
    *,
    debit: str,
    credit: str,
    amount: int,
    now: datetime,
    reason: str,
    partner_id: int | None = None,
) -> AdjustmentResult:
    require_points("amount", amount)
    for address in (debit, credit):
        if address.startswith("member:"):
            raise MemberAccountNotAdjustable(address)
    payload = {"debit": debit, "credit": credit, "amount": amount, "reason": reason}

    def body(operation_id: int) -> AdjustmentResult:
        transfer_id, _ = repository.post_transfer(
            session,
            operation_id=operation_id,
            debit=debit,
            credit=credit,
            amount=amount,
            code=TransferCode.ADJUST,
            now=now,
            partner_id=partner_id,
            order_ref=reason[:128],
        )
        return AdjustmentResult(operation_id, transfer_id)

    return run_idempotent(session, key, "adjust", payload, AdjustmentResult, now, body)
