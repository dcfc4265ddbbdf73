"""Member errors, each with a stable code."""

from __future__ import annotations


class MemberError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, field: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class MemberNotFound(MemberError):
    """Unknown, or not linked to the calling partner by consent: the same answer, so a
    partner cannot probe for other partners' members."""

    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such member", ["memberId"])


class InvalidPhone(MemberError):
    def __init__(self) -> None:
        super().__init__("phone must be 6 to 15 digits, optionally starting with +", ["phone"])


class ExternalRefTaken(MemberError):
    code = "CONFLICT"

    def __init__(self) -> None:
        super().__init__("this externalRef already names another member", ["externalRef"])


class ItemNotRedeemable(MemberError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such available item in your catalogue", ["catalogItemId"])
