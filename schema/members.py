"""Members, their points, and the mutations that move points."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import strawberry
import strawberry.federation
from strawberry import relay
from strawberry.permission import PermissionExtension
from strawberry.types import Info

from ledger.queries import Entry, LotView
from members.earning import Line
from resolvers import members as resolve
from resolvers.context import HubContext
from resolvers.entities import key_text, not_found
from resolvers.ids import database_id, decode_id
from resolvers.permissions import RequireScope
from schema.connections import connection, scoped_mutation
from schema.errors import UserError, user_errors
from schema.partners import Partner, partner_by_id, partner_of
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
from schema.scalars import BigInt


@strawberry.type(description="Points from one purchase, with their issuer and expiry (CR-11).")
class Lot:
    points: int
    remaining: int
    green: bool
    earned_at: datetime
    expires_at: datetime
    issuer_id: strawberry.Private[int]

    @strawberry.field(
        description="The partner that issued these points: shown to that partner and the "
        "operator; null for any other partner (CR-10 minimisation)."
    )
    async def issuer(self, info: Info[HubContext, Any]) -> Partner | None:
        if not resolve.sees_partner_activity(info.context, self.issuer_id):
            return None
        return await partner_by_id(info, self.issuer_id)

    @classmethod
    def from_view(cls, view: LotView) -> Lot:
        return cls(
            points=view.points,
            remaining=view.remaining,
            green=view.green,
            earned_at=view.earned_at,
            expires_at=view.expires_at,
            issuer_id=view.issuer_partner_id,
        )


@strawberry.type(name="AwardExplanation", description="Why an award earned its points.")
class AwardExplanationType:
    points: int
    exact_points: str
    rounded_off_points: str
    breakdown: list[AwardLine]
    factors: list[AwardFactor]


@strawberry.type(description="One movement of the member's spendable points.")
class LedgerEntry:
    id: strawberry.ID
    code: str = strawberry.field(description="earn, redeem, hold, void, refund, expire, ...")
    amount: int = strawberry.field(description="Points in (positive) or out (negative).")
    created_at: datetime
    order_ref: str | None
    redemption_id: strawberry.ID | None
    partner_id: strawberry.Private[int | None]

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner | None:
        return await partner_of(info, self.partner_id)

    @strawberry.field(
        description="For an earn line: the breakdown of its award, every factor with the "
        'published rule version that produced it ("why did I get these points?"). Null for '
        "other lines and awards made before breakdowns were kept."
    )
    async def award(self, info: Info[HubContext, Any]) -> AwardExplanationType | None:
        if self.code != "earn" or self.partner_id is None or self.order_ref is None:
            return None
        found = await resolve.award_explanation(info.context, self.partner_id, self.order_ref)
        if found is None:
            return None
        return AwardExplanationType(
            points=found.points,
            exact_points=found.exact_points,
            rounded_off_points=found.rounded_off,
            breakdown=[_award_line(line) for line in found.lines],
            factors=[_award_factor(entry) for entry in found.factors],
        )

    @classmethod
    def from_entry(cls, entry: Entry) -> LedgerEntry:
        return cls(
            id=strawberry.ID(str(entry.id)),
            code=entry.code,
            amount=entry.amount,
            created_at=entry.created_at,
            order_ref=entry.order_ref,
            redemption_id=None
            if entry.hold_id is None
            else strawberry.ID(str(relay.GlobalID("Redemption", str(entry.hold_id)))),
            partner_id=entry.partner_id,
        )


@strawberry.type(
    description="A member's points in and out with every other partner, as totals only: no "
    "partner, order, item or time (CR-10 minimisation)."
)
class ActivityElsewhere:
    points_in: BigInt = strawberry.field(description="Points credited: earned, refunded.")
    points_out: BigInt = strawberry.field(
        description="Points debited: redeemed, donated, expired, clawed back."
    )


@strawberry.type(description="Points that expire on one day (UTC).")
class ExpiringPoints:
    expires_on: date
    points: int


@strawberry.type(
    description="A member's own choices about marketing (PIPL Art. 24), set only by the member."
)
class MemberMarketingChoices:
    personalised_offers: bool = strawberry.field(
        description="Offers chosen for this member by their history may be shown."
    )
    marketing_messages: bool = strawberry.field(description="Marketing messages may be sent.")


@strawberry.federation.type(keys=["id"], description="A person in the alliance.")
class Member(relay.Node):
    id: relay.NodeID[int]
    known_status: strawberry.Private[str | None] = None

    @strawberry.field(
        description="PENDING (registered, phone not yet proven: receives nothing, CR-03), "
        "ACTIVE, or CLOSED: a closed member earns and spends nothing."
    )
    async def status(self, info: Info[HubContext, Any]) -> str:
        if self.known_status is not None:
            return self.known_status
        found = await resolve.visible_member(info.context, self.id)
        return "CLOSED" if found is None else found.status

    @strawberry.field(
        description="A, B, C or D, or null when none is recorded. Sensitive: a partner "
        "sees it only with the member's separate credit-level consent, otherwise the field "
        "is refused with COMPLIANCE_VIOLATION CR-10."
    )
    async def credit_level(self, info: Info[HubContext, Any]) -> str | None:
        return await resolve.member_credit_level(info.context, self.id)

    @strawberry.field(
        description="The member's tier under the schedule in force: never null (the base "
        "tier at least). Seen by whoever may see the member (CR-10)."
    )
    async def tier(self, info: Info[HubContext, Any]) -> MemberTier:
        return await member_tier(info, self.id)

    @strawberry.field(description="The path to the next tier, explained.")
    async def tier_progress(self, info: Info[HubContext, Any]) -> TierProgress:
        return await member_tier_progress(info, self.id)

    @strawberry.field(description="Perks the member may claim now (for a partner: only its own).")
    async def perks(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[MemberPerk]:  # type: ignore[type-var]
        return await member_perks(info, self.id, first, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Every change of the member's tier, newest first (100 latest).")
    async def tier_history(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[TierChange]:  # type: ignore[type-var]
        return await member_tier_history(info, self.id, first, after)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Spendable points: at most 2,147,483,647, the ceiling of a member account."
    )
    async def balance(self, info: Info[HubContext, Any]) -> int:
        return (await resolve.balances_of(info.context, self.id)).balance

    @strawberry.field(
        description="What the member allows you: personalised offers and marketing messages "
        "(PIPL Art. 24). Both false unless the member turned them on in the alliance app; "
        "send no marketing and personalise nothing the member has not allowed."
    )
    async def marketing_choices(self, info: Info[HubContext, Any]) -> MemberMarketingChoices:
        found = await resolve.marketing_choices_of(info.context, self.id)
        return MemberMarketingChoices(
            personalised_offers=found.personalised_offers,
            marketing_messages=found.marketing_messages,
        )

    @strawberry.field(description="Points reserved by pending redemptions.")
    async def held_points(self, info: Info[HubContext, Any]) -> int:
        return (await resolve.balances_of(info.context, self.id)).held

    @strawberry.field(
        description="Lots, first to expire first. A partner sees only the lots it issued "
        "(CR-10 minimisation: another partner's lot would show when and how much the member "
        "bought there); the others, as expiring points by day, in `expiringElsewhere`. The "
        "operator sees every lot."
    )
    async def lots(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[Lot]:  # type: ignore[type-var]
        rows, has_next = await resolve.lots(
            info.context, self.id, first, after, info.context.principal.partner_id
        )
        return connection([(c, Lot.from_view(v)) for c, v in rows], has_next, after)  # type: ignore[no-any-return]

    @strawberry.field(description="Points that expire within the given number of days.")
    async def expiring_points(self, info: Info[HubContext, Any], within_days: int) -> int:
        return await resolve.expiring(info.context, self.id, within_days)

    @strawberry.field(
        description="For a partner, the points left in lots other partners issued, summed "
        "by the day (UTC) they expire, soonest first: no partner, lot, purchase time or "
        "original amount (CR-10 minimisation); null for the operator, who sees every lot."
    )
    async def expiring_elsewhere(self, info: Info[HubContext, Any]) -> list[ExpiringPoints] | None:
        found = await resolve.expiring_elsewhere(info.context, self.id)
        if found is None:
            return None
        return [ExpiringPoints(expires_on=day.day, points=day.points) for day in found]

    @strawberry.field(
        description="For a partner, the member's activity with every other partner, as "
        "totals; null for the operator, whose history shows every line."
    )
    async def activity_elsewhere(self, info: Info[HubContext, Any]) -> ActivityElsewhere | None:
        found = await resolve.activity_elsewhere(info.context, self.id)
        if found is None:
            return None
        return ActivityElsewhere(
            points_in=BigInt(found.points_in), points_out=BigInt(found.points_out)
        )

    @strawberry.field(
        description="Movements of the spendable balance, newest first. A partner sees only "
        "its own lines with the member (CR-10 minimisation); the operator sees every line."
    )
    async def history(
        self, info: Info[HubContext, Any], first: int | None = None, after: str | None = None
    ) -> relay.Connection[LedgerEntry]:  # type: ignore[type-var]
        rows, has_next = await resolve.history(info.context, self.id, first, after)
        return connection([(c, LedgerEntry.from_entry(v)) for c, v in rows], has_next, after)  # type: ignore[no-any-return]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info[HubContext, Any], node_ids: Iterable[str], required: bool = False
    ) -> list[Member | None]:
        found: list[Member | None] = []
        for node_id in node_ids:
            member_id = database_id(node_id)
            visible = (
                None if member_id is None else await resolve.visible_member(info.context, member_id)
            )
            found.append(None if visible is None else cls(id=visible.id))
        return found

    @classmethod
    async def resolve_reference(
        cls, info: Info[HubContext, Any], key: Mapping[str, object]
    ) -> Member:
        """As ``member(id:)``: the same scope check (UNAUTHENTICATED, FORBIDDEN) and the
        same audited CR-10 refusal for a partner without the member's consent."""
        MEMBER_READ.has_permission(None, info)
        member_gid = key_text(key, "id")
        visible = (
            None
            if member_gid is None
            else await resolve.read_member(info.context, member_gid, "_entities")
        )
        if visible is None:
            raise not_found("Member")
        return cls(id=visible.id)


MEMBER_READ = RequireScope("members:read", "operator:admin")


async def member(info: Info[HubContext, Any], id: strawberry.ID) -> Member | None:
    visible = await resolve.read_member(info.context, str(id))
    return None if visible is None else Member(id=visible.id)


member_field = strawberry.field(
    resolver=member,
    extensions=[PermissionExtension(permissions=[MEMBER_READ], use_directives=False)],
    description="A member the caller may see: the operator (null for an unknown id), or a "
    "partner holding the member's consent; any other id is refused with "
    "COMPLIANCE_VIOLATION CR-10.",
)


@strawberry.input
class RegisterMemberInput:
    external_ref: str = strawberry.field(description="Your own reference for this member.")
    phone: str = strawberry.field(description="Stored only as a keyed hash.")
    display_name: str | None = None
    consent: bool = strawberry.field(description="The member consents to your partnership.")
    identity_verified: bool = strawberry.field(
        default=True,
        description="You verified the person (the phone, at your counter or app): you attest "
        "their identity. An unverified member earns nothing until a partner verifies them "
        "(CR-03).",
    )
    credit_level_consent: bool = strawberry.field(
        default=False,
        description="The member's separate consent to show you their credit level (CR-10).",
    )
    credit_benefits_consent: bool = strawberry.field(
        default=False,
        description="The member agrees that their credit level raises their points by the "
        "alliance's published credit schedule; the code's message says so, and the member "
        "can turn it off in the app. Separate from creditLevelConsent: you still never see "
        "the level without that.",
    )


@strawberry.type
class RegisterMemberPayload:
    request_id: strawberry.ID | None = strawberry.field(
        description="Confirm it with the code sent to the phone: confirmMemberRegistration."
    )
    member: Member | None = strawberry.field(
        description="A PENDING member until the code is confirmed; the same answer whether "
        "or not the phone already belongs to a member."
    )
    user_errors: list[UserError]


async def register_member(
    info: Info[HubContext, Any], input: RegisterMemberInput
) -> RegisterMemberPayload:
    outcome = await resolve.register(
        info.context,
        input.external_ref,
        input.phone,
        input.display_name,
        input.consent,
        identity_verified=input.identity_verified,
        credit_level_consent=input.credit_level_consent,
        credit_benefits_consent=input.credit_benefits_consent,
    )
    pending = outcome.value
    return RegisterMemberPayload(
        request_id=None
        if pending is None
        else strawberry.ID(relay.to_base64("MemberRegistration", pending.request_id)),
        member=None if pending is None else Member(id=pending.member_id, known_status="PENDING"),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class OrderLineInput:
    sku: str
    category: str
    amount_fen: int
    green: bool = False


@strawberry.input
class AwardPointsInput:
    idempotency_key: str
    member_id: strawberry.ID
    order_ref: str
    paid_amount_fen: int
    lines: list[OrderLineInput]


@strawberry.type(description="How one order line earned its points, exactly.")
class AwardLine:
    sku: str
    category: str = strawberry.field(description="The category as the rules read it (normalised).")
    amount_fen: int
    green: bool = strawberry.field(description="Whether the line claimed to be green.")
    green_bonus_applied: bool = strawberry.field(
        description="Whether the green bonus applied: only for a SKU verified green for you."
    )
    note: str | None = strawberry.field(
        description="Why the line earned less than it claimed (e.g. an unverified green SKU)."
    )
    points_per_yuan: str
    category_multiplier: str
    green_multiplier: str
    tier_multiplier: str = strawberry.field(
        description="The member's tier multiplier (the tier held before this award)."
    )
    member_benefits_multiplier: str = strawberry.field(
        description="The credit-linked benefit, only with the member's consent to it; a "
        "factor, never the level."
    )
    basket_multiplier: str = strawberry.field(
        description="The product of the multipliers of the basket bonuses this line matched."
    )
    programme_factor: str = strawberry.field(
        description="tier x member benefits x basket, capped at the schedule's maxCombinedFactor."
    )
    exact_points: str = strawberry.field(
        description="The line's exact points, a decimal string; the order is floored once."
    )
    points: int = strawberry.field(
        deprecation_reason="Lines are no longer rounded one by one: read exactPoints, and the "
        "order's points (floored once) on the payload."
    )


def _award_line(line: dict[str, Any]) -> AwardLine:
    """A stored line; one stored before order-level rounding reads as it was awarded."""
    defaults = {
        "green_bonus_applied": line["green"],
        "note": None,
        "exact_points": str(line["points"]),
        "tier_multiplier": "1",
        "member_benefits_multiplier": "1",
        "basket_multiplier": "1",
        "programme_factor": "1",
    }
    return AwardLine(**{**defaults, **line})


@strawberry.type(
    description="What one factor of the order added, in the documented order: BASE_RATE, "
    "CATEGORY, GREEN (the partner's earning rule), TIER, MEMBER_BENEFITS, BASKET_BONUS (one "
    "per basket bonus in force, by code; the programme), CAP (the maximum combined factor), "
    "ROUNDING (the one rounding down)."
)
class AwardFactor:
    kind: str
    multiplier: str | None = strawberry.field(description="For a programme factor.")
    rule: str = strawberry.field(description="The published rule version that produced it.")
    exact_points: str = strawberry.field(description="Points it added (negative: took).")
    note: str | None = strawberry.field(
        description="Why a basket bonus in force did not apply to this order."
    )


def _award_factor(entry: dict[str, Any]) -> AwardFactor:
    return AwardFactor(
        kind=entry["kind"],
        multiplier=entry["multiplier"],
        rule=entry["rule"],
        exact_points=entry["exact_points"],
        note=entry.get("note"),
    )


@strawberry.type(description="The tier change an award caused.")
class AwardTierChange:
    from_tier: str
    to_tier: str
    reason: str


@strawberry.type(description="A ledger transfer.")
class Transfer:
    id: strawberry.ID
    code: str
    amount: int


@strawberry.type
class AwardPointsPayload:
    transfer: Transfer | None
    points: int | None
    breakdown: list[AwardLine] | None
    exact_points: str | None = strawberry.field(
        description="The exact sum of the lines' points, before the order's one rounding."
    )
    rounded_off_points: str | None = strawberry.field(
        description="What the one rounding down of the order took: exactPoints - points."
    )
    factors: list[AwardFactor] | None = strawberry.field(
        description="Every factor of the order with the rule version that produced it."
    )
    tier_change: AwardTierChange | None = strawberry.field(
        description="The upgrade this award caused, at once; null when none."
    )
    member: Member | None
    user_errors: list[UserError]


async def award_points(info: Info[HubContext, Any], input: AwardPointsInput) -> AwardPointsPayload:
    outcome = await resolve.award_points(
        info.context,
        input.idempotency_key,
        str(input.member_id),
        input.order_ref,
        input.paid_amount_fen,
        [Line(line.sku, line.category, line.amount_fen, line.green) for line in input.lines],
    )
    errors = user_errors(outcome)
    if outcome.value is None:
        return AwardPointsPayload(
            transfer=None,
            points=None,
            breakdown=None,
            exact_points=None,
            rounded_off_points=None,
            factors=None,
            tier_change=None,
            member=None,
            user_errors=errors,
        )
    result = outcome.value
    return AwardPointsPayload(
        transfer=Transfer(
            id=strawberry.ID(str(result.transfer_id)), code="earn", amount=result.points
        ),
        points=result.points,
        breakdown=[_award_line(line) for line in result.breakdown],
        exact_points=result.exact_points,
        rounded_off_points=result.rounded_off,
        factors=[_award_factor(entry) for entry in result.factors],
        tier_change=None
        if result.tier_change is None
        else AwardTierChange(
            from_tier=result.tier_change["from"],
            to_tier=result.tier_change["to"],
            reason=result.tier_change["reason"],
        ),
        member=Member(id=result.member_id),
        user_errors=errors,
    )


@strawberry.input
class RedeemPointsInput:
    idempotency_key: str
    member_id: strawberry.ID
    catalog_item_id: strawberry.ID
    quantity: int = 1


@strawberry.type(description="The member price a redemption was charged at.")
class AppliedMemberPrice:
    tier_code: str | None
    credit_level: str | None = strawberry.field(
        description="Only with the member's credit-level consent to you (CR-10)."
    )
    points: int


@strawberry.type(description="Points spent on an item.")
class Redemption:
    id: strawberry.ID
    status: str
    points: int
    member_price: AppliedMemberPrice | None = strawberry.field(
        default=None,
        description="The member price that applied, when one did (in this mutation's answer).",
    )


@strawberry.type
class RedeemPointsPayload:
    redemption: Redemption | None
    member: Member | None
    user_errors: list[UserError]


async def redeem_points(
    info: Info[HubContext, Any], input: RedeemPointsInput
) -> RedeemPointsPayload:
    outcome = await resolve.redeem_points(
        info.context,
        input.idempotency_key,
        str(input.member_id),
        str(input.catalog_item_id),
        input.quantity,
    )
    errors = user_errors(outcome)
    if outcome.value is None:
        return RedeemPointsPayload(redemption=None, member=None, user_errors=errors)
    member_id = decode_id(str(input.member_id), "Member")
    return RedeemPointsPayload(
        redemption=Redemption(
            id=strawberry.ID(str(relay.GlobalID("Redemption", str(outcome.value.hold_id)))),
            status=outcome.value.status,
            points=outcome.value.points,
            member_price=None
            if outcome.value.member_price is None
            else AppliedMemberPrice(
                tier_code=outcome.value.member_price["tier_code"],
                credit_level=outcome.value.member_price["credit_level"],
                points=outcome.value.member_price["points"],
            ),
        ),
        member=None if member_id is None else Member(id=member_id),
        user_errors=errors,
    )


register_member_field = scoped_mutation(
    register_member,
    "members:write",
    "Start registering the person with this phone: a code is sent to it, and the member "
    "stays PENDING (receiving nothing, CR-03) until confirmMemberRegistration submits it. A "
    "phone already registered links that same person once confirmed.",
)
award_points_field = scoped_mutation(
    award_points,
    "points:issue",
    "Award points for a purchase, computed from your published earning rule.",
)
redeem_points_field = scoped_mutation(
    redeem_points,
    "points:redeem",
    "Spend a member's points on an item of your catalogue, in one step.",
)
