"""Redeeming points for an item of the redeeming partner's own catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

import ledger
from members.errors import ItemNotRedeemable, MemberError
from members.registration import consented_member
from partners.catalog import redeemable_item

MAX_QUANTITY = 100


@dataclass(frozen=True, slots=True)
class ItemRedemption:
    operation_id: int
    hold_id: int
    transfer_id: int
    points: int
    status: str


def redeem_item(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    partner_id: int,
    member_id: int,
    catalog_item_id: int,
    quantity: int,
    now: datetime,
) -> ItemRedemption:
    """Spend the member's points (earned at any partner) on ``quantity`` of an item the
    calling partner honours, at its effective price now. The request, not the price, is
    what a replay must match."""
    if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        raise MemberError(f"quantity must be 1 to {MAX_QUANTITY}", ["quantity"])
    payload = {
        "partner_id": partner_id,
        "member_id": member_id,
        "catalog_item_id": catalog_item_id,
        "quantity": quantity,
    }

    def body(operation_id: int) -> ItemRedemption:
        consented_member(session, partner_id, member_id)
        item = redeemable_item(session, partner_id, catalog_item_id, now)
        if item is None:
            raise ItemNotRedeemable()
        sku, points = item
        taken = ledger.take(
            session,
            ledger.Take(
                operation_id=operation_id,
                member_id=member_id,
                partner_id=partner_id,
                amount=points * quantity,
                reference=f"item:{sku}",
                now=now,
            ),
        )
        return ItemRedemption(
            operation_id, taken.hold_id, taken.transfer_id, taken.amount, taken.status
        )

    return ledger.run_idempotent(session, key, "redeem_item", payload, ItemRedemption, now, body)
