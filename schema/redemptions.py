"""Two-phase redemptions, refunds in kind, award reversals and donations."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from resolvers import members as resolve
from resolvers.context import HubContext
from resolvers.ids import decode_id
from resolvers.permissions import requires
from schema.connections import scoped_mutation
from schema.errors import UserError, user_errors
from schema.members import Member, Redemption


def _redemption(hold_id: int, status: str, points: int) -> Redemption:
    return Redemption(
        id=strawberry.ID(str(relay.GlobalID("Redemption", str(hold_id)))),
        status=status,
        points=points,
    )


@strawberry.type
class RedemptionOutcome:
    redemption: Redemption | None
    user_errors: list[UserError]


@strawberry.type
class ReserveRedemptionPayload(RedemptionOutcome):
    """The payload of reserveRedemption, named per the contract."""


@strawberry.type
class CaptureRedemptionPayload(RedemptionOutcome):
    """The payload of captureRedemption, named per the contract."""


@strawberry.type
class VoidRedemptionPayload(RedemptionOutcome):
    """The payload of voidRedemption, named per the contract."""


@strawberry.input
class ReserveRedemptionInput:
    idempotency_key: str
    member_id: strawberry.ID
    catalog_item_id: strawberry.ID
    quantity: int = 1


async def reserve_redemption(
    info: Info[HubContext, Any], input: ReserveRedemptionInput
) -> ReserveRedemptionPayload:
    outcome = await resolve.redeem_points(
        info.context,
        input.idempotency_key,
        str(input.member_id),
        str(input.catalog_item_id),
        input.quantity,
        two_phase=True,
    )
    found = outcome.value
    return ReserveRedemptionPayload(
        redemption=None
        if found is None
        else _redemption(found.hold_id, found.status, found.points),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class RedemptionIdInput:
    redemption_id: strawberry.ID


@strawberry.input
class CaptureRedemptionInput(RedemptionIdInput):
    """The input of captureRedemption, named per the contract."""


@strawberry.input
class VoidRedemptionInput(RedemptionIdInput):
    """The input of voidRedemption, named per the contract."""


async def capture_redemption(
    info: Info[HubContext, Any], input: CaptureRedemptionInput
) -> CaptureRedemptionPayload:
    outcome = await resolve.settle_redemption(info.context, str(input.redemption_id), "capture")
    found = outcome.value
    return CaptureRedemptionPayload(
        redemption=None
        if found is None
        else _redemption(found.hold_id, found.status, found.amount),
        user_errors=user_errors(outcome),
    )


async def void_redemption(
    info: Info[HubContext, Any], input: VoidRedemptionInput
) -> VoidRedemptionPayload:
    outcome = await resolve.settle_redemption(info.context, str(input.redemption_id), "void")
    found = outcome.value
    return VoidRedemptionPayload(
        redemption=None
        if found is None
        else _redemption(found.hold_id, found.status, found.amount),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class RefundRedemptionInput:
    idempotency_key: str
    redemption_id: strawberry.ID
    compensation_points: int = 0


@strawberry.type
class RefundRedemptionPayload:
    redemption: Redemption | None
    restored_points: int | None
    compensation_points: int | None
    user_errors: list[UserError]


async def refund_redemption(
    info: Info[HubContext, Any], input: RefundRedemptionInput
) -> RefundRedemptionPayload:
    outcome = await resolve.refund_redemption(
        info.context, input.idempotency_key, str(input.redemption_id), input.compensation_points
    )
    found = outcome.value
    return RefundRedemptionPayload(
        redemption=None
        if found is None
        else _redemption(found.hold_id, "REFUNDED", found.restored),
        restored_points=None if found is None else found.restored,
        compensation_points=None if found is None else input.compensation_points,
        user_errors=user_errors(outcome),
    )


@strawberry.input
class ReverseAwardInput:
    idempotency_key: str
    order_ref: str


@strawberry.type
class ReverseAwardPayload:
    clawed_back: int | None = strawberry.field(description="Points taken back from the member.")
    debt_recorded: int | None = strawberry.field(
        description="Points already spent, now owed and repaid from the member's next points."
    )
    user_errors: list[UserError]


async def reverse_award(
    info: Info[HubContext, Any], input: ReverseAwardInput
) -> ReverseAwardPayload:
    outcome = await resolve.reverse_points(info.context, input.idempotency_key, input.order_ref)
    found = outcome.value
    return ReverseAwardPayload(
        clawed_back=None if found is None else found.clawed_back,
        debt_recorded=None if found is None else found.debt_recorded,
        user_errors=user_errors(outcome),
    )


@strawberry.input
class DonatePointsInput:
    idempotency_key: str
    member_id: strawberry.ID
    charity_project_id: strawberry.ID = strawberry.field(
        description="A CHARITY item: of the calling charity partner, or any, for a member."
    )
    points: int


@strawberry.type
class DonatePointsPayload:
    points: int | None
    member: Member | None
    user_errors: list[UserError]


async def donate_points(
    info: Info[HubContext, Any], input: DonatePointsInput
) -> DonatePointsPayload:
    outcome = await resolve.donate_points(
        info.context,
        input.idempotency_key,
        str(input.member_id),
        str(input.charity_project_id),
        input.points,
    )
    member_id = decode_id(str(input.member_id), "Member")
    done = outcome.value is not None
    return DonatePointsPayload(
        points=input.points if done else None,
        member=Member(id=member_id) if done and member_id is not None else None,
        user_errors=user_errors(outcome),
    )


reserve_redemption_field = scoped_mutation(
    reserve_redemption,
    "points:redeem",
    "Reserve points for an item until captured, voided, or the hold expires.",
)
capture_redemption_field = scoped_mutation(
    capture_redemption, "points:redeem", "Complete a reservation before its deadline."
)
void_redemption_field = scoped_mutation(
    void_redemption,
    "points:redeem",
    "Cancel a reservation: the points return to the lots they came from.",
)
refund_redemption_field = scoped_mutation(
    refund_redemption,
    "points:redeem",
    "Refund a completed redemption in kind (CR-12), optionally with compensation.",
)
reverse_award_field = scoped_mutation(
    reverse_award, "points:reverse", "Claw back the points of your refunded order (CR-12)."
)
donate_points_field = strawberry.mutation(
    resolver=donate_points,
    extensions=requires("points:redeem", "member:self"),
    description="Donate a member's points to a registered charity project (CR-06): a charity "
    "partner for a consenting member, to its own projects; or a signed-in member, their own "
    "points (memberId must be theirs) to any registered project.",
)
