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
