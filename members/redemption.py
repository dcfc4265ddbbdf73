"""Redeeming points for an item of the redeeming partner's own catalogue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

import ledger
from compliance.aml import open_cases, screen_redemption
from events import EventType
from ledger.queries import HoldParties
from members.errors import ItemNotRedeemable, MemberError
from members.holds import redemption_event
from members.member_prices import best_member_price, credit_level_shared
from members.registration import consented_spender
from partners.catalog import charity_project, redeemable_item

MAX_QUANTITY = 100
DONATION_KIND = "CHARITY"  # what AML screens a donation as


@dataclass(frozen=True, slots=True)
class ItemRedemption:
    operation_id: int
    hold_id: int
    transfer_id: int
    points: int
    status: str
    # The member price that applied: {"row_id", "tier_code", "credit_level", "points"};
    # the credit level only when the partner holds the member's credit-level consent.
    member_price: dict[str, Any] | None = None


def redeem_item(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    partner_id: int,
    member_id: int,
    catalog_item_id: int,
    quantity: int,
    now: datetime,
    deadline: datetime | None = None,
) -> ItemRedemption:
    """Spend the member's points (earned at any partner) on ``quantity`` of an item the
    calling partner honours, at its effective price now: captured at once, or, with a
    ``deadline``, reserved (PENDING) until captured or voided. The request, not the price,
    is what a replay must match."""
    if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
        raise MemberError(f"quantity must be 1 to {MAX_QUANTITY}", ["quantity"])
    payload = {
        "partner_id": partner_id,
        "member_id": member_id,
        "catalog_item_id": catalog_item_id,
        "quantity": quantity,
    }

    def body(operation_id: int) -> ItemRedemption:
        balance = consented_spender(session, partner_id, member_id)
        item = redeemable_item(session, partner_id, catalog_item_id, now)
        if item is None:
            raise ItemNotRedeemable()
        sku, points, kind = item
        applied = best_member_price(session, catalog_item_id, member_id, points, now)
        if applied is not None:
            points = applied.points
        screenings, earns = screen_redemption(
            session,
            member_id=member_id,
            kind=kind,
            points=points * quantity,
            now=now,
            balance_seen=balance,
        )
        taken = ledger.take(
            session,
            ledger.Take(
                operation_id=operation_id,
                member_id=member_id,
                partner_id=partner_id,
                amount=points * quantity,
                reference=f"item:{sku}",
                now=now,
                deadline=deadline,
            ),
        )
        open_cases(
            session,
            screenings,
            member_id=member_id,
            partner_id=partner_id,
            evidence=[*earns, taken.transfer_id],
            now=now,
        )
        if deadline is None:
            # The parties are this call's own, and the consent was checked above.
            redemption_event(
                session,
                EventType.POINTS_REDEEMED,
                taken.hold_id,
                now,
                parties=HoldParties(taken.hold_id, member_id, partner_id, taken.amount),
                consents=True,
                status=taken.status,
            )
        return ItemRedemption(
            operation_id,
            taken.hold_id,
            taken.transfer_id,
            taken.amount,
            taken.status,
            None
            if applied is None
            else {
                "row_id": applied.row_id,
                "tier_code": applied.tier_code,
                "credit_level": applied.credit_level
                if credit_level_shared(session, partner_id, member_id)
                else None,
                "points": applied.points,
            },
        )

    kind = "redeem_item" if deadline is None else "reserve_item"
    return ledger.run_idempotent(session, key, kind, payload, ItemRedemption, now, body)


def charity_donation(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    partner_id: int,
    member_id: int,
    project_item_id: int,
    points: int,
    now: datetime,
) -> int:
    """CR-06: the one way points leave a member for someone else: a donation to a charity
    project (a CHARITY item) of the calling charity partner. Returns the transfer id."""
    consented_spender(session, partner_id, member_id)
    return donate_to_project(
        session,
        key,
        partner_id=partner_id,
        member_id=member_id,
        project_item_id=project_item_id,
        points=points,
        now=now,
    )


def donate_to_project(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    partner_id: int,
    member_id: int,
    project_item_id: int,
    points: int,
    now: datetime,
) -> int:
    """The donation itself, once the caller may make it: the project must be an available
    CHARITY item of ``partner_id``, whose charity account receives the points."""
    if charity_project(session, partner_id, project_item_id) is None:
        raise ItemNotRedeemable()
    ledger.open_charity_account(session, project_item_id, now)

    def screen() -> Callable[[int], None]:
        # A donation is a spend (CR-08): counted with the day's redemptions, never liquid.
        screenings, _ = screen_redemption(
            session, member_id=member_id, kind=DONATION_KIND, points=points, now=now
        )
        return lambda transfer_id: open_cases(
            session,
            screenings,
            member_id=member_id,
            partner_id=partner_id,
            evidence=[transfer_id],
            now=now,
        )

    donated = ledger.donate(
        session,
        key,
        member_id=member_id,
        charity_id=project_item_id,
        points=points,
        now=now,
        partner_id=partner_id,
        screen=screen,
    )
    return donated.transfer_id
