"""Settling redemptions (capture, void, refund) and the hub's own sweeps, each writing
its event in the same transaction as the ledger change (docs/events.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

import ledger
from events import EventType, global_id
from ledger.expiry import ExpiryBatch
from ledger.idempotency import SYSTEM_CLIENT_ID
from ledger.queries import HoldParties, hold_parties
from ledger.redemption import lock_lapsed_holds
from ledger.results import RedemptionResult, RefundResult
from members.events import emit_member_event, emit_partner_event


def redemption_event(
    session: Session,
    type: EventType,
    hold_id: int,
    now: datetime,
    *,
    parties: HoldParties | None = None,
    consents: bool | None = None,
    **details: int | str | None,
) -> None:
    """The event of a hold the ledger just moved. A caller that has the hold's parties at
    hand (the redemption that created it) passes them, and whether the member consents
    to the partner when this transaction checked it, instead of having them read again."""
    if parties is None:
        parties = hold_parties(session, hold_id)
    assert parties is not None  # the ledger just moved this hold
    emit_partner_event(
        session,
        type,
        member_id=parties.member_id,
        partner_id=parties.partner_id,
        payload={
            "redemptionId": global_id("Redemption", hold_id),
            "partnerId": global_id("Partner", parties.partner_id),
            "points": parties.amount,
            **details,
        },
        now=now,
        once_key=f"{type.value}:{hold_id}",
        consents=consents,
    )


def capture_hold(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    hold_id: int,
    now: datetime,
    partner_id: int | None = None,
) -> RedemptionResult:
    captured = ledger.capture(session, key, hold_id=hold_id, now=now, partner_id=partner_id)
    redemption_event(session, EventType.POINTS_REDEEMED, hold_id, now, status="CAPTURED")
    return captured


def void_hold(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    hold_id: int,
    now: datetime,
    partner_id: int | None = None,
    reason: str = "PARTNER",
) -> RedemptionResult:
    voided = ledger.void(session, key, hold_id=hold_id, now=now, partner_id=partner_id)
    redemption_event(session, EventType.REDEMPTION_VOIDED, hold_id, now, reason=reason)
    return voided


def refund_hold(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    hold_id: int,
    now: datetime,
    compensation_points: int = 0,
    compensation_expires_at: datetime | None = None,
    partner_id: int | None = None,
    fund_compensation: ledger.FundCompensation | None = None,
) -> RefundResult:
    refunded = ledger.refund(
        session,
        key,
        hold_id=hold_id,
        now=now,
        compensation_points=compensation_points,
        compensation_expires_at=compensation_expires_at,
        partner_id=partner_id,
        fund_compensation=fund_compensation,
    )
    redemption_event(
        session,
        EventType.REDEMPTION_REFUNDED,
        hold_id,
        now,
        compensationPoints=compensation_points,
    )
    return refunded


def void_lapsed_holds(session: Session, now: datetime, limit: int = 500) -> int:
    """The sweep: void every PENDING hold past its deadline (at most ``limit``), each with
    its ``redemption.voided`` event (reason ``DEADLINE``); returns how many."""
    lapsed = lock_lapsed_holds(session, now, limit)
    for hold_id in lapsed:
        void_hold(
            session,
            ledger.IdempotencyKey(SYSTEM_CLIENT_ID, f"auto-void:{hold_id}"),
            hold_id=hold_id,
            now=now,
            reason="DEADLINE",
        )
    return len(lapsed)


def expire_lapsed_lots(session: Session, now: datetime, limit: int = 500) -> ExpiryBatch:
    """Breakage of lapsed lots (CR-11) with one ``points.expired`` event per member."""
    batch = ledger.expire_lapsed_lots(session, now, limit)
    for member_id, points in batch.expired:
        if points:
            emit_member_event(
                session,
                EventType.POINTS_EXPIRED,
                member_id=member_id,
                payload={"points": points},
                now=now,
                once_key=f"points.expired:{batch.operation_id}:{member_id}",
            )
    return batch
