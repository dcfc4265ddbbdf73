"""Partner registry and client errors, each with a stable code."""

from __future__ import annotations


class PartnerError(Exception):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PartnerNotFound(PartnerError):
    code = "NOT_FOUND"

    def __init__(self, code: str) -> None:
        super().__init__(f"no partner {code!r}")


class PartnerCodeTaken(PartnerError):
    code = "CONFLICT"

    def __init__(self, code: str) -> None:
        super().__init__(f"partner code {code!r} is taken")


class InvalidPartnerCode(PartnerError):
    def __init__(self, code: str) -> None:
        super().__init__(
            f"partner code {code!r} must be 2-32 lowercase letters, digits or '-', "
            "starting with a letter or digit"
        )


class InvalidPartnerName(PartnerError):
    def __init__(self) -> None:
        super().__init__("a partner's name and legal entity are 1-200 characters")


class InvalidPartnerKind(PartnerError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown partner kind {kind!r}: MERCHANT or CHARITY")


class InvalidCompensationCap(PartnerError):
    def __init__(self) -> None:
        super().__init__("capPercent must be a whole percent from 0 to 1000")


class PartnerNotActive(PartnerError):
    code = "FORBIDDEN"

    def __init__(self, code: str) -> None:
        super().__init__(f"partner {code!r} is suspended")


class ClientNotFound(PartnerError):
    code = "NOT_FOUND"

    def __init__(self, client_id: str) -> None:
        super().__init__(f"no active client {client_id!r}")


class UnknownScope(PartnerError):
    def __init__(self, scopes: list[str]) -> None:
        super().__init__(f"unknown scopes: {' '.join(scopes)}")


class OperatorScopeForbidden(PartnerError):
    """``operator:admin`` can never be granted to a partner client."""

    code = "FORBIDDEN"

    def __init__(self) -> None:
        super().__init__("operator:admin can never be granted to a partner client")


class InvalidClientKeys(PartnerError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"client keys refused: {reason}")


class SecretlessClient(PartnerError):
    def __init__(self, client_id: str) -> None:
        super().__init__(
            f"client {client_id!r} authenticates with private_key_jwt; it has no secret"
        )
