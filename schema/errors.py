"""Payload errors: every mutation returns ``userErrors`` for expected business outcomes."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
import strawberry.federation

from resolvers.errors import UserErrorData


@strawberry.enum(description="Stable codes partners can branch on.")
class ErrorCode(Enum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    COMPLIANCE_VIOLATION = "COMPLIANCE_VIOLATION"
    REDEMPTION_NOT_PENDING = "REDEMPTION_NOT_PENDING"
    REDEMPTION_EXPIRED = "REDEMPTION_EXPIRED"
    CLAWBACK_DEBT_OUTSTANDING = "CLAWBACK_DEBT_OUTSTANDING"
    PERIOD_CLOSED = "PERIOD_CLOSED"
    PERIOD_NOT_ENDED = "PERIOD_NOT_ENDED"
    PERIOD_NOT_RECONCILING = "PERIOD_NOT_RECONCILING"
    UNRESOLVED_LINES = "UNRESOLVED_LINES"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    UNSAFE_DESTINATION = "UNSAFE_DESTINATION"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_CODE = "INVALID_CODE"
    CONSENT_FROM_MEMBER_REQUIRED = "CONSENT_FROM_MEMBER_REQUIRED"
    CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
    SEND_LIMIT_EXCEEDED = "SEND_LIMIT_EXCEEDED"
    PHONE_NOT_SERVED = "PHONE_NOT_SERVED"


@strawberry.federation.type(shareable=True, description="Why a mutation did not do what was asked.")
class UserError:
    code: ErrorCode
    message: str
    field: list[str] | None = strawberry.field(
        description='Path to the input field at fault, e.g. ["items", "3", "kind"].'
    )
    rule: str | None = strawberry.field(
        description="For COMPLIANCE_VIOLATION: the red-line rule, e.g. CR-05."
    )

    @classmethod
    def from_data(cls, data: UserErrorData) -> UserError:
        return cls(
            code=ErrorCode(data.code), message=data.message, field=data.field, rule=data.rule
        )


def user_errors(outcome: Any) -> list[UserError]:
    """A mutation outcome's expected failures as payload errors."""
    return [UserError.from_data(e) for e in outcome.errors]
