"""A signed-in member's own data and choices (``member:self``): every read and write here
takes the member from the token, never from an argument, so a member token reaches that
member only."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from core.config import get_settings
from core.db import utcnow
from ledger.queries import Balances
from members.consent import (
    ConsentRequestView,
    answer_consent_request,
    pending_requests,
    withdraw_consent,
)
from members.errors import MemberError
from members.privacy import Closure, close_account, export_member_data
from members.reminders import set_expiry_reminders
from members.self_service import (
    ConsentView,
    Preferences,
    consents_of,
    member_status,
    privacy_preferences,
    set_privacy_preferences,
)
from resolvers.context import HubContext
from resolvers.ids import decode_id
from resolvers.outcome import Outcome, attempt


class NotAMember(MemberError):
    code = "FORBIDDEN"

    def __init__(self) -> None:
        super().__init__("only a member signed in to the alliance's app can do this")


def signed_in_member(context: HubContext) -> int:
    if context.principal.member_id is None:
        raise NotAMember()
    return context.principal.member_id


def me(context: HubContext) -> int | None:
    return context.principal.member_id


async def balances(context: HubContext, member_id: int) -> Balances:
    found: Balances | None = await context.loaders.balances.load(member_id)
    return found or Balances(member_id, 0, 0)


async def consents(context: HubContext, member_id: int) -> list[ConsentView]:
    return await context.database.read(consents_of, member_id)


async def pending(context: HubContext, member_id: int) -> list[ConsentRequestView]:
    return await context.database.read(pending_requests, member_id, utcnow())


async def preferences(context: HubContext, member_id: int) -> Preferences:
    return await context.database.read(privacy_preferences, member_id)


async def answer(
    context: HubContext, request_gid: str, approve: bool
) -> Outcome[ConsentRequestView]:
    async def call() -> ConsentRequestView:
        return await context.database.write(
            answer_consent_request,
            member_id=signed_in_member(context),
            request_id=decode_id(request_gid, "ConsentRequest") or -1,
            approve=approve,
            now=utcnow(),
        )

    return await attempt(
        context, "approveConsentRequest" if approve else "denyConsentRequest", call
    )


async def withdraw(
    context: HubContext, partner_code: str, credit_level_only: bool
) -> Outcome[list[ConsentView]]:
    async def call() -> list[ConsentView]:
        member_id = signed_in_member(context)
        await context.database.write(
            withdraw_consent,
            member_id=member_id,
            partner_code=partner_code,
            credit_level_only=credit_level_only,
            now=utcnow(),
        )
        return await context.database.read(consents_of, member_id)

    return await attempt(context, "withdrawConsent", call)


async def set_preferences(
    context: HubContext,
    personalised_offers: bool,
    marketing_messages: bool,
    credit_benefits: bool | None = None,
) -> Outcome[Preferences]:
    async def call() -> Preferences:
        return await context.database.write(
            set_privacy_preferences,
            member_id=signed_in_member(context),
            personalised_offers=personalised_offers,
            marketing_messages=marketing_messages,
            now=utcnow(),
            credit_benefits=credit_benefits,
        )

    return await attempt(context, "setPrivacyPreferences", call)


async def set_reminders(
    context: HubContext, enabled: bool, phone: str | None
) -> Outcome[Preferences]:
    member_id = signed_in_member(context)

    def call_in(session: Session) -> Preferences:
        set_expiry_reminders(
            session,
            secret_key=get_settings().secret_key,
            member_id=member_id,
            enabled=enabled,
            phone=phone,
            now=utcnow(),
        )
        return privacy_preferences(session, member_id)

    async def call() -> Preferences:
        return await context.database.write(call_in)

    return await attempt(context, "setExpiryReminders", call)


async def status(context: HubContext, member_id: int) -> str:
    return await context.database.read(member_status, member_id)


async def export_data(context: HubContext) -> Outcome[str]:
    async def call() -> str:
        document = await context.database.read(
            export_member_data, signed_in_member(context), utcnow()
        )
        return json.dumps(document, ensure_ascii=False, sort_keys=True)

    return await attempt(context, "exportMyData", call)


async def close(context: HubContext, confirm: bool) -> Outcome[Closure]:
    async def call() -> Closure:
        return await context.database.write(
            close_account,
            member_id=signed_in_member(context),
            confirm=confirm,
            client_id=context.principal.client_id or "app",
            now=utcnow(),
        )

    return await attempt(context, "closeMyAccount", call)
