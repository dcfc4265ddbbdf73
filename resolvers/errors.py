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


def field_path(field: object) -> list[str] | None:
    """A domain error's field as the payload's path: always a list of input names, so a
    service naming one field (``"compensation_points"``) answers ``["compensationPoints"]``."""
    if field is None:
        return None
    if isinstance(field, str):
        head, *rest = field.split("_")
        return [head + "".join(word.title() for word in rest)]
    return [str(step) for step in field]  # type: ignore[attr-defined]


def from_exception(error: Exception) -> UserErrorData:
    """A domain error's stable code, message, field path and (for red lines) rule."""
    if isinstance(error, ComplianceViolation):
        return UserErrorData(error.code, error.message, field_path(error.field), error.rule)
    return UserErrorData(
        getattr(error, "code", "BAD_USER_INPUT"),
        getattr(error, "message", str(error)),
        field_path(getattr(error, "field", None)),
        getattr(error, "rule", None),
    )
