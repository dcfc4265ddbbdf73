"""Ledger errors, each named for the rule it protects and carrying a stable code."""

from __future__ import annotations


class LedgerError(Exception):
    code = "ledger_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InsufficientPoints(LedgerError):
    """The debited account would go below zero (TigerBeetle's ``exceeds_credits``)."""

    code = "INSUFFICIENT_POINTS"

    def __init__(self, account_id: str, requested: int, available: int) -> None:
        super().__init__(f"{account_id} has {available} points; {requested} requested")
        self.account_id = account_id
        self.requested = requested
        self.available = available


class LimitExceeded(LedgerError):
    """A non-member account's flag forbids this posting (e.g. un-issuing more than was issued)."""

    code = "LIMIT_EXCEEDED"

    def __init__(self, account_id: str, requested: int) -> None:
        super().__init__(f"posting {requested} points would break the limit of {account_id}")
        self.account_id = account_id
        self.requested = requested


class BalanceCeilingExceeded(LedgerError):
    """A member account would hold more than MEMBER_BALANCE_MAX points."""

    code = "LIMIT_EXCEEDED"

    def __init__(self, account_id: str, requested: int, ceiling: int) -> None:
        super().__init__(
            f"crediting {requested} points would take {account_id} above {ceiling} points"
        )
        self.account_id = account_id
        self.requested = requested


class AccountNotFound(LedgerError):
    code = "NOT_FOUND"

    def __init__(self, account_id: str) -> None:
        super().__init__(f"no ledger account {account_id}")
        self.account_id = account_id


class IdempotencyKeyReused(LedgerError):
    """The key was used before by this client for a different request."""

    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request")
        self.key = key


class HoldNotFound(LedgerError):
    code = "NOT_FOUND"

    def __init__(self, hold_id: int) -> None:
        super().__init__(f"no redemption {hold_id}")
        self.hold_id = hold_id


class HoldNotPending(LedgerError):
    """Capture and void need a PENDING hold; refund needs a CAPTURED one."""

    code = "REDEMPTION_NOT_PENDING"

    def __init__(self, hold_id: int, status: str, expected: str = "PENDING") -> None:
        super().__init__(f"redemption {hold_id} is {status}, not {expected}")
        self.hold_id = hold_id
        self.status = status


class HoldExpired(LedgerError):
    """A hold past its deadline can only be voided (the sweep does it)."""

    code = "REDEMPTION_EXPIRED"

    def __init__(self, hold_id: int) -> None:
        super().__init__(f"redemption {hold_id} passed its deadline and is being voided")
        self.hold_id = hold_id


class LotNotFound(LedgerError):
    code = "NOT_FOUND"

    def __init__(self, lot_id: int) -> None:
        super().__init__(f"no lot {lot_id}")
        self.lot_id = lot_id


class ReversalExceedsEarned(LedgerError):
    """A clawback may not take back more than the lot's earn minus earlier reversals."""

    code = "BAD_USER_INPUT"

    def __init__(self, lot_id: int, requested: int, reversible: int) -> None:
        super().__init__(f"lot {lot_id} has {reversible} reversible points; {requested} requested")
        self.lot_id = lot_id
        self.requested = requested
        self.reversible = reversible


class ClawbackDebtOutstanding(LedgerError):
    """CR-12: a member who owes clawed-back points may not spend until the debt is repaid."""

    code = "CLAWBACK_DEBT_OUTSTANDING"

    def __init__(self, member_id: int, debt: int) -> None:
        super().__init__(f"member {member_id} owes {debt} clawed-back points")
        self.member_id = member_id
        self.debt = debt


class InvalidAmount(LedgerError):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str, value: object) -> None:
        super().__init__(f"{field} must be a positive whole number of points, got {value!r}")
        self.field = field
        self.value = value


class InvalidExpiry(LedgerError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str) -> None:
        super().__init__(message)


class MemberToMemberTransfer(LedgerError):
    """CR-06 NO_MEMBER_TRANSFER: no transfer, gift, sale or pooling between members; the
    ledger itself refuses any posting from one member's accounts to another's."""

    code = "COMPLIANCE_VIOLATION"
    rule = "CR-06"

    def __init__(self) -> None:
        super().__init__("points never move from one member to another")
