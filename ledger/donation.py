"""Donations to registered charity projects: the one way points may leave a member for
someone else's benefit (CR-06)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from ledger import accounts
from ledger.idempotency import IdempotencyKey, run_idempotent
from ledger.lots import Spend, spend
from ledger.models import TransferCode
from ledger.results import DonationResult
from ledger.validation import require_points


def donate(
    session: Session,
    key: IdempotencyKey,
    *,
    member_id: int,
    charity_id: int,
    points: int,
    now: datetime,
    partner_id: int | None = None,
    screen: Callable[[], Callable[[int], None]] | None = None,
) -> DonationResult:
    """Move ``points`` from the member's lots, first-to-expire first, to ``charity:<id>``.

    ``screen`` runs in the operation before the spend (the domain's AML screening, which
    locks the member first, raising to refuse); what it returns runs with the transfer id.
    A replay runs neither."""
    require_points("points", points)
    payload = {
        "member_id": member_id,
        "charity_id": charity_id,
        "points": points,
        "partner_id": partner_id,
    }

    def body(operation_id: int) -> DonationResult:
        screened = None if screen is None else screen()
        transfer_id = spend(
            session,
            Spend(
                operation_id=operation_id,
                member_id=member_id,
                credit=accounts.charity(charity_id),
                amount=points,
                code=TransferCode.DONATE,
                now=now,
                partner_id=partner_id,
            ),
        )
        if screened is not None:
            screened(transfer_id)
        return DonationResult(operation_id, transfer_id, points)

    return run_idempotent(session, key, "donate", payload, DonationResult, now, body)
