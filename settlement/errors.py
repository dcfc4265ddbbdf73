"""Settlement errors, each with a stable code."""

from __future__ import annotations


class SettlementError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class PeriodNotFound(SettlementError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such settlement period", ["periodId"])


class PeriodClosed(SettlementError):
    code = "PERIOD_CLOSED"

    def __init__(self) -> None:
        super().__init__("the period is closed: its statements can no longer change", ["periodId"])


class PeriodNotEnded(SettlementError):
    code = "PERIOD_NOT_ENDED"

    def __init__(self) -> None:
        super().__init__("the period has not ended yet; reconcile it after its end", ["periodId"])


class PeriodNotReconciling(SettlementError):
    code = "PERIOD_NOT_RECONCILING"

    def __init__(self) -> None:
        super().__init__("reconcile the period before this", ["periodId"])


class UnresolvedLines(SettlementError):
    code = "UNRESOLVED_LINES"

    def __init__(self, count: int) -> None:
        super().__init__(
            f"{count} reconciliation lines are unresolved or disputed; resolve them first",
            ["periodId"],
        )
        self.count = count


class LineNotFound(SettlementError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such unmatched reconciliation line", ["lineId"])


class LineConflict(SettlementError):
    code = "CONFLICT"

    def __init__(self, index: int) -> None:
        super().__init__(
            "a line with this kind and reference was already posted with other figures",
            ["lines", str(index)],
        )
