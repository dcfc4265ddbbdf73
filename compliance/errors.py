"""The exception a guard raises before anything is written."""

from __future__ import annotations

from compliance.rules import Violation


class ComplianceViolation(Exception):
    code = "COMPLIANCE_VIOLATION"

    def __init__(self, violation: Violation, field: list[str] | None = None) -> None:
        super().__init__(f"{violation.rule}: {violation.message}")
        self.rule = violation.rule
        self.message = violation.message
        self.field = field


class ComplianceSettingError(Exception):
    """Bad input to the operator's compliance settings (not a red-line refusal)."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class CaseNotFound(ComplianceSettingError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such case, or it is closed", ["caseId"])
