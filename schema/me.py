"""The signed-in member's own view (``me``) and choices, for ``member:self`` tokens."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from members.self_service import ConsentView, Preferences
from resolvers import me as resolve
from resolvers import members as members_resolve
from resolvers.context import HubContext
from resolvers.permissions import requires
from schema.connections import connection, scoped_mutation
from schema.consent import ConsentRequest, ConsentRequestPayload, request_payload
from schema.errors import UserError, user_errors
from schema.members import LedgerEntry, Lot
from schema.partners import Partner, partner_by_id
from schema.programme import (
    MemberPerk,
    MemberTier,
    TierChange,
    TierProgress,
    member_perks,
    member_tier,
    member_tier_history,
    member_tier_progress,
)

MEMBERSHIP_DATA = ["balance", "heldPoints", "lots", "expiringPoints", "history", "status"]


@strawberry.type(description="A partner you consented to, and what it may see.")
class MemberConsent:
    granted_at: datetime
    credit_level: bool = strawberry.field(description="It may see your credit level too.")
    covers: list[str] = strawberry.field(
        description="The fields of your membership the partner may read."
    )
    partner_id: strawberry.Private[int]

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.partner_id)

    @classmethod
    def from_view(cls, view: ConsentView) -> MemberConsent:
        covers = MEMBERSHIP_DATA + (["creditLevel"] if view.credit_level else [])
        return cls(
            granted_at=view.granted_at,
            credit_level=view.credit_level,
            covers=covers,
            partner_id=view.partner_id,
        )


@strawberry.type(description="Your choices about personalisation (PIPL Art. 24).")
class PrivacyPreferences:
    personalised_offers: bool
    marketing_messages: bool
    updated_at: datetime | None
    credit_benefits: bool = strawberry.field(
        description="Your credit level raises your points by the published credit schedule "
        "(docs/programme.md). Off until you turn it on; no partner sees your level for it."
    )
    expiry_reminders: bool = strawberry.field(
        description="Whether a message on your phone tells you before your points expire "
        "(到期提醒); off until you turn it on with setExpiryReminders."
    )

    @classmethod
    def from_data(cls, data: Preferences) -> PrivacyPreferences:
        return cls(
            personalised_offers=data.personalised_offers,
            marketing_messages=data.marketing_messages,
            updated_at=data.updated_at,
            credit_benefits=data.credit_benefits,
            expiry_reminders=data.expiry_reminders,
        )


@strawberry.type(description="You, the signed-in member: everything the hub holds on you.")
class Me:
    member_id: strawberry.Private[int]

    @strawberry.field(description="Your member id, the same partners see.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(relay.to_base64("Member", self.member_id))

    @strawberry.field
    async def status(self, info: Info[HubContext, Any]) -> str:
        return await resolve.status(info.context, self.member_id)

    @strawberry.field(description="Your tier under the schedule in force (the base tier at least).")
    async def tier(self, info: Info[HubContext, Any]) -> MemberTier:
        return await member_tier(info, self.member_id)

    @strawberry.field(description="Your path to the next tier, explained.")
    async def tier_progress(self, info: Info[HubContext, Any]) -> TierProgress:
        return await member_tier_progress(info, self.member_id)

    @strawberry.field(description="Perks the member may claim now (for a partner: only its own).")
    async def perks(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[MemberPerk]:  # type: ignore[type-var]
        return await member_perks(info, self.member_id, first, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Every change of your tier, newest first (100 latest).")
    async def tier_history(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[TierChange]:  # type: ignore[type-var]
        return await member_tier_history(info, self.member_id, first, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Spendable points.")
    async def balance(self, info: Info[HubContext, Any]) -> int:
        return (await resolve.balances(info.context, self.member_id)).balance

    @strawberry.field(description="Points reserved by pending redemptions.")
    async def held_points(self, info: Info[HubContext, Any]) -> int:
        return (await resolve.balances(info.context, self.member_id)).held

    @strawberry.field(description="Your lots, first to expire first, with their expiry.")
    async def lots(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Lot]:  # type: ignore[type-var]
        rows, has_next = await members_resolve.lots(info.context, self.member_id, first, after)
        return connection([(c, Lot.from_view(v)) for c, v in rows], has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Points that expire within the given number of days.")
    async def expiring_points(self, info: Info[HubContext, Any], within_days: int) -> int:
        return await members_resolve.expiring(info.context, self.member_id, within_days)

    @strawberry.field(description="Every movement of your points, newest first.")
    async def history(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[LedgerEntry]:  # type: ignore[type-var]
        rows, has_next = await members_resolve.history(info.context, self.member_id, first, after)
        return connection([(c, LedgerEntry.from_entry(v)) for c, v in rows], has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(description="The partners you consented to (at most one per partner).")
    async def consents(self, info: Info[HubContext, Any]) -> list[MemberConsent]:
        return [
            MemberConsent.from_view(v) for v in await resolve.consents(info.context, self.member_id)
        ]

    @strawberry.field(description="Partners' requests waiting for your answer (the 100 oldest).")
    async def pending_consent_requests(self, info: Info[HubContext, Any]) -> list[ConsentRequest]:
        return [
            ConsentRequest.from_view(v) for v in await resolve.pending(info.context, self.member_id)
        ]

    @strawberry.field
    async def privacy_preferences(self, info: Info[HubContext, Any]) -> PrivacyPreferences:
        return PrivacyPreferences.from_data(await resolve.preferences(info.context, self.member_id))


async def me(info: Info[HubContext, Any]) -> Me | None:
    member_id = resolve.me(info.context)
    return None if member_id is None else Me(member_id=member_id)


me_field = strawberry.field(
    resolver=me,
    extensions=requires("member:self"),
    description="The signed-in member (a member:self token from the alliance's app).",
)


@strawberry.input
class ApproveConsentRequestInput:
    request_id: strawberry.ID


@strawberry.input
class DenyConsentRequestInput:
    request_id: strawberry.ID


async def approve_consent_request(
    info: Info[HubContext, Any], input: ApproveConsentRequestInput
) -> ConsentRequestPayload:
    return request_payload(await resolve.answer(info.context, str(input.request_id), True))


async def deny_consent_request(
    info: Info[HubContext, Any], input: DenyConsentRequestInput
) -> ConsentRequestPayload:
    return request_payload(await resolve.answer(info.context, str(input.request_id), False))


@strawberry.input
class WithdrawConsentInput:
    partner_code: str
    credit_level_only: bool = strawberry.field(
        default=False, description="Withdraw only the consent to your credit level."
    )


@strawberry.type
class WithdrawConsentPayload:
    consents: list[MemberConsent] | None = strawberry.field(description="Your consents now.")
    user_errors: list[UserError]


async def withdraw_consent(
    info: Info[HubContext, Any], input: WithdrawConsentInput
) -> WithdrawConsentPayload:
    outcome = await resolve.withdraw(info.context, input.partner_code, input.credit_level_only)
    return WithdrawConsentPayload(
        consents=None
        if outcome.value is None
        else [MemberConsent.from_view(v) for v in outcome.value],
        user_errors=user_errors(outcome),
    )


@strawberry.input
class SetPrivacyPreferencesInput:
    personalised_offers: bool
    marketing_messages: bool
    credit_benefits: bool | None = strawberry.field(
        default=None, description="Turn credit-linked benefits on or off; null keeps them."
    )


@strawberry.type
class SetPrivacyPreferencesPayload:
    preferences: PrivacyPreferences | None
    user_errors: list[UserError]


async def set_privacy_preferences(
    info: Info[HubContext, Any], input: SetPrivacyPreferencesInput
) -> SetPrivacyPreferencesPayload:
    outcome = await resolve.set_preferences(
        info.context, input.personalised_offers, input.marketing_messages, input.credit_benefits
    )
    return SetPrivacyPreferencesPayload(
        preferences=None if outcome.value is None else PrivacyPreferences.from_data(outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class SetExpiryRemindersInput:
    enabled: bool
    phone: str | None = strawberry.field(
        default=None,
        description="To turn reminders on: the phone you signed in with, kept encrypted for "
        "reminders only and dropped when you turn them off or close your account.",
    )


@strawberry.type
class SetExpiryRemindersPayload:
    preferences: PrivacyPreferences | None
    user_errors: list[UserError]


async def set_expiry_reminders(
    info: Info[HubContext, Any], input: SetExpiryRemindersInput
) -> SetExpiryRemindersPayload:
    outcome = await resolve.set_reminders(info.context, input.enabled, input.phone)
    return SetExpiryRemindersPayload(
        preferences=None if outcome.value is None else PrivacyPreferences.from_data(outcome.value),
        user_errors=user_errors(outcome),
    )


approve_consent_request_field = scoped_mutation(
    approve_consent_request, "member:self", "Grant a partner's consent request (channel APP)."
)
deny_consent_request_field = scoped_mutation(
    deny_consent_request, "member:self", "Refuse a partner's consent request."
)
withdraw_consent_field = scoped_mutation(
    withdraw_consent,
    "member:self",
    "Withdraw your consent to a partner (or only to your credit level): its next read of "
    "you is refused (CR-10).",
)
set_expiry_reminders_field = scoped_mutation(
    set_expiry_reminders,
    "member:self",
    "Turn messages before your points expire on (with your own phone) or off.",
)
set_privacy_preferences_field = scoped_mutation(
    set_privacy_preferences,
    "member:self",
    "Turn personalised offers and marketing messages on or off (PIPL Art. 24).",
)


@strawberry.enum(description="How the copy of your data is written.")
class ExportFormat(Enum):
    JSON = "JSON"


@strawberry.input
class ExportMyDataInput:
    format: ExportFormat = ExportFormat.JSON


@strawberry.type
class ExportMyDataPayload:
    document: str | None = strawberry.field(
        description="One JSON document: every row the hub holds about you, by table."
    )
    user_errors: list[UserError]


async def export_my_data(
    info: Info[HubContext, Any], input: ExportMyDataInput | None = None
) -> ExportMyDataPayload:
    outcome = await resolve.export_data(info.context)
    return ExportMyDataPayload(document=outcome.value, user_errors=user_errors(outcome))


@strawberry.input
class CloseMyAccountInput:
    confirm: bool = strawberry.field(
        description="true to close. Without it nothing happens, and the error says what "
        "you would lose."
    )


@strawberry.type
class CloseMyAccountPayload:
    closed: bool
    points_forfeited: int | None = strawberry.field(
        description="Your remaining points, gone to breakage."
    )
    user_errors: list[UserError]


async def close_my_account(
    info: Info[HubContext, Any], input: CloseMyAccountInput
) -> CloseMyAccountPayload:
    outcome = await resolve.close(info.context, input.confirm)
    return CloseMyAccountPayload(
        closed=outcome.value is not None,
        points_forfeited=None if outcome.value is None else outcome.value.points_forfeited,
        user_errors=user_errors(outcome),
    )


export_my_data_field = scoped_mutation(
    export_my_data,
    "member:self",
    "A copy of everything the hub holds about you (PIPL Art. 45).",
)
close_my_account_field = scoped_mutation(
    close_my_account,
    "member:self",
    "Close your account (PIPL Art. 47): your personal data is erased; your ledger history "
    "stays under your opaque id; your remaining points go to breakage. Needs confirm: true.",
)
