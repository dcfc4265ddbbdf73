"""Expected business outcomes as payload errors: ``userErrors { code message field rule }``."""

from __future__ import annotations

from dataclasses import dataclass

from compliance.errors import ComplianceViolation


@dataclass(frozen=True, slots=True)
class UserErrorData:
    code: str
    message: str
    field: list[str] | None = None
    rule: str | None = None


def from_exception(error: Exception) -> UserErrorData:
    """A domain error's stable code, message, field path and (for red lines) rule."""
    if isinstance(error, ComplianceViolation):
        return UserErrorData(error.code, error.message, error.field, error.rule)
    return UserErrorData(
        getattr(error, "code", "BAD_USER_INPUT"),
        getattr(error, "message", str(error)),
        getattr(error, "field", None),
        getattr(error, "rule", None),
    )
