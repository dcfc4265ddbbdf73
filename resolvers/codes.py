"""Mutations that send a one-time code: the message goes out only after the write
committed, the phone's limit answers RATE_LIMITED and the partner's send budget
SEND_LIMIT_EXCEEDED (audited), both with ``Retry-After``, and a gateway failure is
SERVICE_UNAVAILABLE. Codes and phones never reach a log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from core.config import Settings, get_settings
from core.db import utcnow
from core.notify import Notification, NotificationFailed
from members.codes import CodeRateLimited, SendBudgets, SendLimitExceeded, audit_send_refusal
from members.errors import MemberError
from resolvers.context import HubContext
from resolvers.outcome import Outcome, attempt

T = TypeVar("T")


class DeliveryFailed(MemberError):
    code = "SERVICE_UNAVAILABLE"

    def __init__(self) -> None:
        super().__init__("the message to the phone could not be sent; try again shortly")


async def deliver(context: HubContext, notification: Notification) -> None:
    if context.notifier is None:
        raise DeliveryFailed()
    try:
        await context.notifier.send(notification)
    except NotificationFailed:
        raise DeliveryFailed() from None


def send_budgets(settings: Settings | None = None) -> SendBudgets:
    settings = settings or get_settings()
    return SendBudgets(
        per_partner_hour=settings.codes_per_partner_hour,
        per_app_hour=settings.codes_per_app_hour,
        per_address=settings.codes_per_address,
        country_codes=tuple(settings.sms_country_codes.split(",")),
    )


def _retry_after(context: HubContext, seconds: int) -> None:
    if context.response is not None:
        context.response.headers["Retry-After"] = str(seconds)


async def sending_code(
    context: HubContext,
    operation: str,
    write: Callable[[], Awaitable[tuple[T, Notification]]],
) -> Outcome[T]:
    """Run ``write`` (which returns its result and the message), then send the message."""

    async def call() -> T:
        try:
            value, notification = await write()
        except CodeRateLimited as error:
            _retry_after(context, error.retry_after)
            if isinstance(error, SendLimitExceeded):
                await context.database.write(
                    audit_send_refusal,
                    client_id=context.principal.client_id or "anonymous",
                    partner_id=context.principal.partner_id,
                    operation=operation,
                    now=utcnow(),
                )
            raise
        await deliver(context, notification)
        return value

    return await attempt(context, operation, call)
