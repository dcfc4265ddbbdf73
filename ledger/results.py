"""What each ledger operation returns; stored as JSON so a replay returns the same value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class EarnResult:
    operation_id: int
    transfer_id: int
    lot_id: int
    points: int
    debt_repaid: int


@dataclass(frozen=True, slots=True)
class RedemptionResult:
    operation_id: int
    hold_id: int
    transfer_id: int
    status: str
    amount: int


@dataclass(frozen=True, slots=True)
class RefundResult:
    operation_id: int
    hold_id: int
    transfer_id: int
    restored: int
    compensation_transfer_id: int | None
    compensation_lot_id: int | None


@dataclass(frozen=True, slots=True)
class ClawbackResult:
    operation_id: int
    lot_id: int
    clawed_back: int
    debt_recorded: int
    transfer_ids: list[int]


@dataclass(frozen=True, slots=True)
class DonationResult:
    operation_id: int
    transfer_id: int
    points: int


@dataclass(frozen=True, slots=True)
class AdjustmentResult:
    operation_id: int
    transfer_id: int
