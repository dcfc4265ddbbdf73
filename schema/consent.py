"""Consent after registration (CR-10), and the operator's member administration."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from members.consent import ConsentRequestView
from resolvers import members as resolve
from resolvers.context import HubContext
from resolvers.outcome import Outcome
from resolvers.permissions import requires
from schema.connections import scoped_mutation
from schema.credit_level import CreditLevel
from schema.errors import UserError, user_errors
from schema.members import Member
from schema.partners import Partner, partner_by_id

DEFAULT_PURPOSE = "to serve you as their member: earning and redeeming points"


@strawberry.enum(description="Where a consent request stands.")
class ConsentRequestStatus(Enum):
    PENDING = "PENDING"
    GRANTED = "GRANTED"
    DECLINED = "DECLINED"


@strawberry.type(description="What you asked a member to consent to, and their answer.")
class ConsentRequest:
    id: strawberry.ID
    status: ConsentRequestStatus
    credit_level: bool = strawberry.field(description="Asks for the credit level as well.")
    requested_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    member: Member | None = strawberry.field(description="Set once the member granted.")
    purpose: str = strawberry.field(description="Why the partner asks.")
    partner_id: strawberry.Private[int]

    @strawberry.field(description="The partner that asks.")
    async def partner(self, info: Info[HubContext, Any]) -> Partner:
        return await partner_by_id(info, self.partner_id)

    @classmethod
    def from_view(cls, view: ConsentRequestView) -> ConsentRequest:
        return cls(
            id=strawberry.ID(relay.to_base64("ConsentRequest", view.id)),
            status=ConsentRequestStatus(view.status),
            credit_level=view.credit_level,
            requested_at=view.requested_at,
            expires_at=view.expires_at,
            answered_at=view.answered_at,
            member=None if view.member_id is None else Member(id=view.member_id),
            purpose=view.purpose,
            partner_id=view.partner_id,
        )


@strawberry.type
class ConsentRequestPayload:
    request: ConsentRequest | None
    user_errors: list[UserError]


def request_payload(outcome: Outcome[ConsentRequestView]) -> ConsentRequestPayload:
    return ConsentRequestPayload(
        request=None if outcome.value is None else ConsentRequest.from_view(outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.type
class MemberPayload:
    member: Member | None
    user_errors: list[UserError]


def _member_payload(outcome: Outcome[int]) -> MemberPayload:
    return MemberPayload(
        member=None if outcome.value is None else Member(id=outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class RequestMemberConsentInput:
    phone: str = strawberry.field(description="Stored only as a keyed hash.")
    external_ref: str = strawberry.field(description="Your own reference for this member.")
    credit_level: bool = strawberry.field(
        default=False, description="Ask for the member's credit level too."
    )
    purpose: str = strawberry.field(
        default=DEFAULT_PURPOSE,
        description="Why you ask, shown to the member (1-200 characters).",
    )


async def request_member_consent(
    info: Info[HubContext, Any], input: RequestMemberConsentInput
) -> ConsentRequestPayload:
    return request_payload(
        await resolve.request_member_consent(
            info.context, input.phone, input.external_ref, input.credit_level, input.purpose
        )
    )


@strawberry.input
class ConfirmMemberConsentInput:
    request_id: strawberry.ID
    code: str = strawberry.field(description="The code the member read to you from their phone.")


async def confirm_member_consent(
    info: Info[HubContext, Any], input: ConfirmMemberConsentInput
) -> ConsentRequestPayload:
    return request_payload(
        await resolve.confirm_member_consent(info.context, str(input.request_id), input.code)
    )


@strawberry.input
class ConfirmMemberRegistrationInput:
    request_id: strawberry.ID
    code: str = strawberry.field(description="The code the member read to you from their phone.")


async def confirm_member_registration(
    info: Info[HubContext, Any], input: ConfirmMemberRegistrationInput
) -> MemberPayload:
    outcome = await resolve.confirm_member_registration(
        info.context, str(input.request_id), input.code
    )
    return MemberPayload(
        member=None if outcome.value is None else Member(id=outcome.value),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class RecordMemberConsentInput:
    request_id: strawberry.ID
    granted: bool
    evidence_ref: str = strawberry.field(
        description="Your reference to the evidence: a signed form, an in-app confirmation."
    )


async def record_member_consent(
    info: Info[HubContext, Any], input: RecordMemberConsentInput
) -> ConsentRequestPayload:
    return request_payload(await resolve.record_member_consent(info.context))


@strawberry.input
class RevokeMemberConsentInput:
    member_id: strawberry.ID
    credit_level_only: bool = strawberry.field(
        default=False, description="Withdraw only the credit-level consent."
    )


async def revoke_member_consent(
    info: Info[HubContext, Any], input: RevokeMemberConsentInput
) -> MemberPayload:
    return _member_payload(
        await resolve.revoke_member_consent(
            info.context, str(input.member_id), input.credit_level_only
        )
    )


@strawberry.input
class CloseMemberInput:
    member_id: strawberry.ID


async def close_member(info: Info[HubContext, Any], input: CloseMemberInput) -> MemberPayload:
    return _member_payload(await resolve.close(info.context, str(input.member_id)))


@strawberry.input
class SetMemberCreditLevelInput:
    member_id: strawberry.ID
    credit_level: CreditLevel | None = strawberry.field(description="Null clears it.")


async def set_member_credit_level(
    info: Info[HubContext, Any], input: SetMemberCreditLevelInput
) -> MemberPayload:
    level = None if input.credit_level is None else input.credit_level.value
    return _member_payload(await resolve.credit_level(info.context, str(input.member_id), level))


request_member_consent_field = scoped_mutation(
    request_member_consent,
    "members:write",
    "Ask the person with this phone for consent to your partnership (and optionally their "
    "credit level), saying why. They are notified and answer in the alliance app, or give "
    "you the code (valid 5 minutes) for confirmMemberConsent. The answer is the same "
    "whether or not the phone belongs to a member.",
)
record_member_consent_field = strawberry.mutation(
    resolver=record_member_consent,
    extensions=requires("members:write"),
    description="Refused with CONSENT_FROM_MEMBER_REQUIRED: consent comes from the member.",
    deprecation_reason="A partner cannot record consent. The member approves in the "
    "alliance app, or gives you the code sent to their phone: use confirmMemberConsent.",
)
confirm_member_consent_field = scoped_mutation(
    confirm_member_consent,
    "members:write",
    "Submit the code the member gave you: the member's own grant of your consent request.",
)
confirm_member_registration_field = scoped_mutation(
    confirm_member_registration,
    "members:write",
    "Submit the code the member gave you: proves the phone and activates (or links) the member.",
)
revoke_member_consent_field = scoped_mutation(
    revoke_member_consent,
    "members:write",
    "Record that the member withdrew consent: to their credit level only, or to you.",
)
close_member_field = scoped_mutation(
    close_member, "operator:admin", "Close a member: they earn and spend nothing more (CR-03)."
)
set_member_credit_level_field = scoped_mutation(
    set_member_credit_level, "operator:admin", "Record a member's credit level."
)
