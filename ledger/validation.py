"""Argument checks shared by every ledger operation: amounts are exact whole points (int)."""

from __future__ import annotations

from datetime import datetime

from ledger.errors import InvalidAmount, InvalidExpiry

MAX_POINTS = 2**62


def require_points(field: str, value: object, *, allow_zero: bool = False) -> int:
    if type(value) is not int or value < (0 if allow_zero else 1) or value > MAX_POINTS:
        raise InvalidAmount(field, value)
    return value


def require_future(field: str, value: datetime, now: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidExpiry(f"{field} must carry a UTC offset")
    if value <= now:
        raise InvalidExpiry(f"{field} must be later than now")
    return value
