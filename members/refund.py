"""Refunds in kind, and the compensation the redeeming partner issues with one (CR-12)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from compliance.aml import open_cases, record_issuance, screen_award, screen_issuance
from compliance.errors import ComplianceViolation
from compliance.rules import compensation_within_cap
from ledger.results import RefundResult
from members.holds import refund_hold
from members.registration import identified
from partners.models import Partner
from partners.registry import require_active
from partners.terms import consume_budget


def compensation_cap_percent(session: Session, partner_id: int) -> int:
    """The operator's cap on this partner's compensation, in percent of the points refunded."""
    return int(
        session.execute(
            select(Partner.compensation_cap_percent).where(Partner.id == partner_id)
        ).scalar_one()
    )


def refund_redemption(
    session: Session,
    key: ledger.IdempotencyKey,
    *,
    partner_id: int,
    hold_id: int,
    compensation_points: int,
    now: datetime,
    compensation_expires_at: datetime,
) -> RefundResult:
    """Refund the partner's captured redemption in kind. Compensation is issuance by the
    partner that compensates, held to every rule an award is: a lot issued by it, capped by
    the operator's policy (CR-12), to an identified member (CR-03), screened as points the
    member earned today (CR-08), funded atomically from its marketing budget (CR-02), and
    charged in its settlement statement like any issuance."""

    def fund(hold: ledger.HoldState) -> Callable[[int], None]:
        violation = compensation_within_cap(
            compensation_points, hold.amount, compensation_cap_percent(session, hold.partner_id)
        )
        if violation is not None:
            raise ComplianceViolation(violation, ["compensationPoints"])
        require_active(session, hold.partner_id)
        identified(session, hold.partner_id, hold.member_id)
        screenings = screen_award(
            session,
            member_id=hold.member_id,
            partner_id=hold.partner_id,
            points=compensation_points,
            now=now,
        )
        violation = consume_budget(session, hold.partner_id, compensation_points, now)
        if violation is not None:
            raise ComplianceViolation(violation, ["compensationPoints"])
        screenings.append(
            screen_issuance(
                session, partner_id=hold.partner_id, points=compensation_points, now=now
            )
        )
        record_issuance(session, hold.partner_id, compensation_points, now)

        def issued(transfer_id: int) -> None:
            open_cases(
                session,
                screenings,
                member_id=hold.member_id,
                partner_id=hold.partner_id,
                evidence=[transfer_id],
                now=now,
            )

        return issued

    return refund_hold(
        session,
        key,
        hold_id=hold_id,
        now=now,
        compensation_points=compensation_points,
        compensation_expires_at=compensation_expires_at,
        partner_id=partner_id,
        fund_compensation=fund,
    )
