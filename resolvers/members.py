"""Member registration, awards, redemptions and member reads: thin adapters from the
GraphQL context to the member services, with expected failures as userErrors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session

import ledger
from compliance.errors import ComplianceViolation
from compliance.rules import member_visible, sensitive_attribute
from core.config import get_settings
from core.db import utcnow
from core.notify import Notification
from ledger.errors import HoldNotFound
from ledger.queries import (
    ActivityTotals,
    Balances,
    Entry,
    ExpiringDay,
    LotView,
    balances,
    expiring_points,
    history_page,
    lots_page,
)
from ledger.results import ClawbackResult, RedemptionResult, RefundResult
from members.codes import CodeRefused
from members.consent import (
    ConsentRequestView,
    confirm_consent,
    refuse_partner_recorded_consent,
    request_consent,
    revoke_consent,
)
from members.earning import AwardExplanation, AwardResult, Line, award, reverse_award
from members.errors import MemberNotFound
from members.holds import capture_hold, void_hold
from members.redemption import ItemRedemption, charity_donation, redeem_item
from members.refund import refund_redemption as refund_redemption_in_kind
from members.registration import (
    VisibleMember,
    close_member,
    confirm_registration,
    set_credit_level,
    start_registration,
)
from members.self_service import MarketingChoices, member_donation
from resolvers.audit import refuse_read
from resolvers.codes import send_budgets, sending_code
from resolvers.context import HubContext
from resolvers.ids import decode_id
from resolvers.outcome import Outcome, attempt, require_partner
from resolvers.pagination import bad_input, encode_cursor, page_request

POINTS_LIFETIME = timedelta(days=365)
T = TypeVar("T")


def _key(context: HubContext, value: str) -> ledger.IdempotencyKey:
    return ledger.IdempotencyKey(context.principal.client_id or "", value)


def _member(member_gid: str) -> int:
    member_id = decode_id(member_gid, "Member")
    if member_id is None:
        raise MemberNotFound()
    return member_id


def _redemption(redemption_gid: str) -> int:
    hold_id = decode_id(redemption_gid, "Redemption")
    if hold_id is None:
        raise HoldNotFound(-1)
    return hold_id


@dataclass(frozen=True, slots=True)
class PendingRegistration:
    request_id: int
    member_id: int


async def register(
    context: HubContext,
    external_ref: str,
    phone: str,
    display_name: str | None,
    consent: bool,
    *,
    identity_verified: bool,
    credit_level_consent: bool,
    credit_benefits_consent: bool = False,
) -> Outcome[PendingRegistration]:
    async def write() -> tuple[PendingRegistration, Notification]:
        started = await context.database.write(
            start_registration,
            get_settings().secret_key,
            partner_id=require_partner(context),
            external_ref=external_ref,
            phone=phone,
            display_name=display_name,
            consent=consent,
            now=utcnow(),
            identity_verified=identity_verified,
            credit_level_consent=credit_level_consent,
            budgets=send_budgets(),
            credit_benefits_consent=credit_benefits_consent,
        )
        return PendingRegistration(started.request_id, started.member_id), started.notification

    return await sending_code(context, "registerMember", write)


async def confirm_member_registration(
    context: HubContext, request_gid: str, code: str
) -> Outcome[int]:
    async def call() -> int:
        member_id = await context.database.write(
            confirm_registration,
            get_settings().secret_key,
            partner_id=require_partner(context),
            request_id=decode_id(request_gid, "MemberRegistration") or -1,
            code=code,
            client_id=context.principal.client_id,
            now=utcnow(),
        )
        if member_id is None:
            raise CodeRefused()
        return member_id

    return await attempt(context, "confirmMemberRegistration", call)


async def request_member_consent(
    context: HubContext, phone: str, external_ref: str, credit_level: bool, purpose: str
) -> Outcome[ConsentRequestView]:
    async def write() -> tuple[ConsentRequestView, Notification]:
        requested = await context.database.write(
            request_consent,
            get_settings().secret_key,
            partner_id=require_partner(context),
            phone=phone,
            external_ref=external_ref,
            credit_level=credit_level,
            purpose=purpose,
            now=utcnow(),
            budgets=send_budgets(),
        )
        return requested.request, requested.notification

    return await sending_code(context, "requestMemberConsent", write)


async def confirm_member_consent(
    context: HubContext, request_gid: str, code: str
) -> Outcome[ConsentRequestView]:
    async def call() -> ConsentRequestView:
        answered = await context.database.write(
            confirm_consent,
            get_settings().secret_key,
            partner_id=require_partner(context),
            request_id=decode_id(request_gid, "ConsentRequest") or -1,
            code=code,
            client_id=context.principal.client_id,
            now=utcnow(),
        )
        if answered is None:
            raise CodeRefused()
        return answered

    return await attempt(context, "confirmMemberConsent", call)


async def record_member_consent(context: HubContext) -> Outcome[ConsentRequestView]:
    """Deprecated: a partner's word is never consent (CR-10). Refused whatever it names."""

    async def call() -> ConsentRequestView:
        require_partner(context)
        refuse_partner_recorded_consent()
        raise AssertionError("unreachable")

    return await attempt(context, "recordMemberConsent", call)


async def revoke_member_consent(
    context: HubContext, member_gid: str, credit_level_only: bool
) -> Outcome[int]:
    async def call() -> int:
        return await context.database.write(
            revoke_consent,
            partner_id=require_partner(context),
            member_id=_member(member_gid),
            credit_level_only=credit_level_only,
            now=utcnow(),
            client_id=context.principal.client_id,
        )

    return await attempt(context, "revokeMemberConsent", call)


async def close(context: HubContext, member_gid: str) -> Outcome[int]:
    async def call() -> int:
        return await context.database.write(close_member, _member(member_gid), utcnow())

    return await attempt(context, "closeMember", call)


async def credit_level(context: HubContext, member_gid: str, level: str | None) -> Outcome[int]:
    async def call() -> int:
        return await context.database.write(set_credit_level, _member(member_gid), level)

    return await attempt(context, "setMemberCreditLevel", call)


def _with_balances(
    session: Session,
    fn: Callable[..., T],
    key: ledger.IdempotencyKey,
    member_id: int,
    /,
    **kwargs: Any,
) -> tuple[T, Balances | None]:
    """Run a points-moving write under ``key``, reading the member's balances after it in
    its own transaction. They are kept with the write's result, so a replay shows the
    balances the first answer showed, not those at replay time."""

    def read() -> dict[str, int] | None:
        found = balances(session, [member_id]).get(member_id)
        return None if found is None else {"balance": found.balance, "held": found.held}

    ledger.keep_with_result(session, key, "balances", read)
    result = fn(session, key, member_id=member_id, **kwargs)
    kept = ledger.kept_figures(session, key)
    # A result stored before balances were kept with it has none: read them now.
    figures = kept["balances"] if "balances" in kept else read()
    if figures is None:
        return result, None
    return result, Balances(member_id, int(figures["balance"]), int(figures["held"]))


async def _write_seen(
    context: HubContext,
    fn: Callable[..., T],
    member_id: int,
    key: ledger.IdempotencyKey,
    **kwargs: Any,
) -> T:
    """A committed write is never reported as failed: the balances its payload shows are
    read inside the write's transaction (or, on a replay, kept from the first) and primed
    into this request's loader, so no read after the commit (which could time out under
    load) stands between it and the client.

    At most a few of one member's writes run at once in this worker: a burst on one
    member waits here, holding no database connection, rather than as connections parked
    on the member's row lock (docs/operations.md)."""
    written: tuple[T, Balances | None] = await context.database.write_limited(
        ("member", member_id), _with_balances, fn, key, member_id, **kwargs
    )
    result, seen = written
    if seen is not None:
        context.loaders.balances.clear(member_id).prime(member_id, seen)
    return result


async def award_points(
    context: HubContext,
    key: str,
    member_gid: str,
    order_ref: str,
    paid_amount_fen: int,
    lines: list[Line],
) -> Outcome[AwardResult]:
    now = utcnow()

    async def call() -> AwardResult:
        return await _write_seen(
            context,
            award,
            _member(member_gid),
            _key(context, key),
            partner_id=require_partner(context),
            order_ref=order_ref,
            paid_amount_fen=paid_amount_fen,
            lines=lines,
            now=now,
            expires_at=now + POINTS_LIFETIME,
        )

    return await attempt(context, "awardPoints", call)


async def redeem_points(
    context: HubContext,
    key: str,
    member_gid: str,
    item_gid: str,
    quantity: int,
    *,
    two_phase: bool = False,
) -> Outcome[ItemRedemption]:
    """One-step redemption, or with ``two_phase`` a reservation held for the hold TTL."""
    item_id = decode_id(item_gid, "CatalogItem") or -1
    now = utcnow()
    deadline = now + get_settings().hold_ttl if two_phase else None

    async def call() -> ItemRedemption:
        return await _write_seen(
            context,
            redeem_item,
            _member(member_gid),
            _key(context, key),
            partner_id=require_partner(context),
            catalog_item_id=item_id,
            quantity=quantity,
            now=now,
            deadline=deadline,
        )

    return await attempt(context, "reserveRedemption" if two_phase else "redeemPoints", call)


async def settle_redemption(
    context: HubContext, redemption_gid: str, action: str
) -> Outcome[RedemptionResult]:
    """Capture or void the calling partner's PENDING redemption. Keyed by the redemption
    itself, so repeating the call returns the first outcome."""
    operation = capture_hold if action == "capture" else void_hold

    async def call() -> RedemptionResult:
        return await context.database.write(
            operation,
            _key(context, f"{action}:{_redemption(redemption_gid)}"),
            hold_id=_redemption(redemption_gid),
            now=utcnow(),
            partner_id=require_partner(context),
        )

    return await attempt(context, f"{action}Redemption", call)


async def refund_redemption(
    context: HubContext, key: str, redemption_gid: str, compensation_points: int
) -> Outcome[RefundResult]:
    now = utcnow()

    async def call() -> RefundResult:
        return await context.database.write(
            refund_redemption_in_kind,
            _key(context, key),
            partner_id=require_partner(context),
            hold_id=_redemption(redemption_gid),
            compensation_points=compensation_points,
            now=now,
            compensation_expires_at=now + POINTS_LIFETIME,
        )

    return await attempt(context, "refundRedemption", call)


async def reverse_points(context: HubContext, key: str, order_ref: str) -> Outcome[ClawbackResult]:

    async def call() -> ClawbackResult:
        return await context.database.write(
            reverse_award,
            _key(context, key),
            partner_id=require_partner(context),
            order_ref=order_ref,
            now=utcnow(),
        )

    return await attempt(context, "reverseAward", call)


async def donate_points(
    context: HubContext, key: str, member_gid: str, project_gid: str, points: int
) -> Outcome[int]:
    """A charity partner donates a consenting member's points, or a signed-in member
    donates their own (their idempotency keys are theirs alone, not the app's)."""
    project_id = decode_id(project_gid, "CatalogItem") or -1
    member_self = context.principal.member_id

    async def call() -> int:
        if member_self is not None:
            if _member(member_gid) != member_self:
                raise MemberNotFound()
            return await context.database.write(
                member_donation,
                ledger.IdempotencyKey(f"{context.principal.client_id}:member:{member_self}", key),
                member_id=member_self,
                project_item_id=project_id,
                points=points,
                now=utcnow(),
            )
        return await context.database.write(
            charity_donation,
            _key(context, key),
            partner_id=require_partner(context),
            member_id=_member(member_gid),
            project_item_id=project_id,
            points=points,
            now=utcnow(),
        )

    return await attempt(context, "donatePoints", call)


async def visible_member(context: HubContext, member_id: int) -> VisibleMember | None:
    """The operator sees every member; a partner only those who consented to it (CR-10)."""
    partner_id = context.principal.partner_id
    if partner_id is None and context.principal.kind != "operator":
        return None
    found: VisibleMember | None = await context.loaders.visible_member.load((partner_id, member_id))
    return found


async def read_member(
    context: HubContext, member_gid: str, operation: str = "member"
) -> VisibleMember | None:
    """A member read by id. A partner without the member's consent is refused CR-10, and
    the refusal is audited; an unknown member id answers the same, so ids cannot be
    probed. The operator gets null for an unknown id; anything not a member id is null."""
    member_id = decode_id(member_gid, "Member")
    if member_id is None:
        return None  # not a member id at all
    found = await visible_member(context, member_id)
    if found is None and context.principal.partner_id is not None:
        violation = member_visible(False)
        assert violation is not None
        raise await refuse_read(context, operation, ComplianceViolation(violation, ["id"]))
    return found


async def member_credit_level(context: HubContext, member_id: int) -> str | None:
    """The credit level, only under the member's separate consent (CR-10)."""
    found = await visible_member(context, member_id)
    if found is None:
        return None
    if not found.credit_level_consent:
        violation = sensitive_attribute(False)
        assert violation is not None
        raise await refuse_read(
            context, "Member.creditLevel", ComplianceViolation(violation, ["creditLevel"])
        )
    return found.credit_level


async def marketing_choices_of(context: HubContext, member_id: int) -> MarketingChoices:
    found: MarketingChoices | None = await context.loaders.marketing_choices.load(member_id)
    return found or MarketingChoices()


async def balances_of(context: HubContext, member_id: int) -> Balances:
    found: Balances | None = await context.loaders.balances.load(member_id)
    return found or Balances(member_id, 0, 0)


async def lots(
    context: HubContext,
    member_id: int,
    first: int | None,
    after: str | None,
    issuer: int | None = None,
) -> tuple[list[tuple[str, LotView]], bool]:
    """The member's lots; only those ``issuer`` issued when given (a partner's view)."""
    page = page_request(first, after, f"lots:{member_id}")
    after_id = page.after_int()
    rows = await context.database.read(lots_page, member_id, page.limit, after_id, issuer)
    shown = rows[: page.limit]
    return [(encode_cursor(f"lots:{member_id}", [r.id]), r) for r in shown], len(rows) > page.limit


def sees_partner_activity(context: HubContext, partner_id: int | None) -> bool:
    """CR-10 minimisation (PIPL Art. 6): a partner sees what a member did with it, never
    with another partner; the operator sees everything."""
    caller = context.principal.partner_id
    return caller is None or caller == partner_id


async def history(
    context: HubContext, member_id: int, first: int | None, after: str | None
) -> tuple[list[tuple[str, Entry]], bool]:
    """The member's movements: for a partner, only those with that partner."""
    page = page_request(first, after, f"history:{member_id}")
    before_id = page.after_int()
    rows = await context.database.read(
        history_page, member_id, page.limit, before_id, context.principal.partner_id
    )
    shown = rows[: page.limit]
    return (
        [(encode_cursor(f"history:{member_id}", [r.id]), r) for r in shown],
        len(rows) > page.limit,
    )


async def activity_elsewhere(context: HubContext, member_id: int) -> ActivityTotals | None:
    """For a partner: the member's points in and out with everyone else, as two totals.
    None for the operator, whose history already shows every line."""
    partner_id = context.principal.partner_id
    if partner_id is None:
        return None
    found: ActivityTotals = await context.loaders.activity_elsewhere.load((partner_id, member_id))
    return found


async def expiring_elsewhere(context: HubContext, member_id: int) -> list[ExpiringDay] | None:
    """For a partner: the points left in lots other partners issued, by the day they
    expire, with no issuer or time (CR-10). None for the operator, who sees every lot."""
    partner_id = context.principal.partner_id
    if partner_id is None:
        return None
    found: list[ExpiringDay] = await context.loaders.expiring_elsewhere.load(
        (partner_id, member_id, context.started_at)
    )
    return found


async def expiring(context: HubContext, member_id: int, within_days: int) -> int:
    if not 0 <= within_days <= 3660:
        raise bad_input("withinDays must be 0 to 3660", "withinDays")
    now = utcnow()
    return await context.database.read(
        expiring_points, member_id, now, now + timedelta(days=within_days)
    )


async def award_explanation(
    context: HubContext, partner_id: int, order_ref: str
) -> AwardExplanation | None:
    """The breakdown of the award behind an earn line of a history the caller may read."""
    found: AwardExplanation | None = await context.loaders.award_explanation.load(
        (partner_id, order_ref)
    )
    return found
