"""Running a mutation's write: expected domain refusals become ``userErrors``, and
red-line refusals are also appended to the compliance audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from compliance.errors import ComplianceSettingError, ComplianceViolation
from ledger.errors import IdempotencyKeyReused, LedgerError
from ledger.idempotency import InvalidIdempotencyKey, OperationInFlight
from members.errors import MemberError
from partners.errors import PartnerError
from resolvers.audit import record_refusal
from resolvers.context import HubContext
from resolvers.errors import UserErrorData, from_exception
from settlement.errors import SettlementError
from webhooks.errors import WebhookError

T = TypeVar("T")
EXPECTED = (
    LedgerError,
    MemberError,
    PartnerError,
    ComplianceViolation,
    ComplianceSettingError,
    SettlementError,
    WebhookError,
)
KEY_ERRORS = (IdempotencyKeyReused, InvalidIdempotencyKey, OperationInFlight)


@dataclass(slots=True)
class Outcome(Generic[T]):
    value: T | None = None
    errors: list[UserErrorData] = field(default_factory=list)


class NotAPartner(MemberError):
    code = "FORBIDDEN"

    def __init__(self) -> None:
        super().__init__("only a partner's client can do this")


def require_partner(context: HubContext) -> int:
    """The calling partner; the operator cannot act as one."""
    if context.principal.partner_id is None:
        raise NotAPartner()
    return context.principal.partner_id


async def attempt(
    context: HubContext, operation: str, call: Callable[[], Awaitable[T]]
) -> Outcome[T]:
    try:
        return Outcome(value=await call())
    except EXPECTED as error:
        if isinstance(error, ComplianceViolation):
            await record_refusal(context, operation, error)
        found = from_exception(error)
        if isinstance(error, KEY_ERRORS):
            found = UserErrorData(found.code, found.message, ["idempotencyKey"], found.rule)
        return Outcome(errors=[found])


async def write(
    context: HubContext, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any
) -> Outcome[T]:
    """``attempt`` of one domain function as one unit of work."""
    return await attempt(context, operation, lambda: context.database.write(fn, *args, **kwargs))
