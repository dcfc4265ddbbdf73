"""The red lines as pure functions: facts in, a violation or None out.

Each rule's docstring names its ID and basis (shared/design/compliance.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Violation:
    rule: str
    message: str


CASH_LIKE_KINDS = frozenset({"CASH_EQUIVALENT"})
CROSS_PLATFORM_KINDS = frozenset({"EXTERNAL_POINTS", "UNIVERSAL_VOUCHER"})


def no_cash_out(kind: str) -> Violation | None:
    """CR-05 NO_CASH_OUT: points never become money, so nothing cash-like (cash, e-wallet
    credit, stored value, red packets, multi-merchant gift cards) may be published."""
    if kind in CASH_LIKE_KINDS:
        return Violation("CR-05", "points can never be exchanged for cash or cash equivalents")
    return None


def closed_alliance(kind: str) -> Violation | None:
    """CR-04 CLOSED_ALLIANCE: no cross-platform "super points"; alliance points are never
    exchanged into another programme's points or a universal voucher."""
    if kind in CROSS_PLATFORM_KINDS:
        return Violation(
            "CR-04",
            "alliance points cannot become another programme's points or a universal voucher",
        )
    return None


def catalogue_item_allowed(kind: str) -> Violation | None:
    """The rules a catalogue item must pass before it is published."""
    return no_cash_out(kind) or closed_alliance(kind)
