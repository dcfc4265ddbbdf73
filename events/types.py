"""The event types partners and the operator subscribe to (docs/events.md)."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    POINTS_AWARDED = "points.awarded"
    POINTS_REDEEMED = "points.redeemed"
    REDEMPTION_VOIDED = "redemption.voided"
    REDEMPTION_REFUNDED = "redemption.refunded"
    POINTS_EXPIRING = "points.expiring"
    POINTS_EXPIRED = "points.expired"
    MEMBER_TIER_CHANGED = "member.tier_changed"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_WITHDRAWN = "consent.withdrawn"
    SETTLEMENT_STATEMENT_READY = "settlement.statement_ready"
    SETTLEMENT_PERIOD_CLOSED = "settlement.period_closed"
    AML_CASE_OPENED = "aml.case_opened"
    WEBHOOK_ENDPOINT_DISABLED = "webhook.endpoint_disabled"


# Events only the operator may receive, whatever their audience says.
OPERATOR_ONLY = frozenset({EventType.AML_CASE_OPENED, EventType.WEBHOOK_ENDPOINT_DISABLED})
