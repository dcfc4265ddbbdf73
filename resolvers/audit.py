"""Blocked attempts and the audit that records them (the compliance guard's last step)."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError

from compliance.audit import AttemptView, attempts_page, record_blocked
from compliance.errors import ComplianceViolation
from core.db import utcnow
from partners.errors import PartnerNotFound
from partners.registry import find_partner
from resolvers.context import HubContext
from resolvers.pagination import encode_cursor, page_request


async def record_refusal(context: HubContext, operation: str, error: ComplianceViolation) -> None:
    """Append the refusal to the audit in its own transaction: the refused one has rolled
    back. The summary is the rule's message: no member data, no request values."""
    await context.database.write(
        record_blocked,
        client_id=context.principal.client_id or "anonymous",
        partner_id=context.principal.partner_id,
        operation=operation,
        rule=error.rule,
        summary=error.message,
        now=utcnow(),
    )


async def refuse_read(
    context: HubContext, operation: str, error: ComplianceViolation
) -> GraphQLError:
    """A refused read: audited like a refused write, answered as a field error with the
    rule id (a read has no payload to carry ``userErrors``)."""
    await record_refusal(context, operation, error)
    return GraphQLError(
        error.message,
        extensions={"code": error.code, "rule": error.rule, "field": error.field},
    )


@dataclass(frozen=True, slots=True)
class AttemptPage:
    edges: list[tuple[str, AttemptView]]
    has_next: bool


async def blocked_attempts(
    context: HubContext,
    first: int | None,
    after: str | None,
    rule: str | None,
    partner_code: str | None,
) -> AttemptPage:
    """The operator sees every blocked attempt; a partner only its own."""
    page = page_request(first, after, "blocked")
    before_id = page.after_int()
    if context.principal.kind == "operator":
        partner_ids = None
        if partner_code is not None:
            try:
                partner_ids = [(await context.database.read(find_partner, partner_code)).id]
            except PartnerNotFound:
                partner_ids = []
    else:
        own = context.principal.partner_id
        partner_ids = (
            [own]
            if own is not None and partner_code in (None, context.principal.partner_code)
            else []
        )
    rows = await context.database.read(
        attempts_page, limit=page.limit, before_id=before_id, rule=rule, partner_ids=partner_ids
    )
    shown = rows[: page.limit]
    return AttemptPage(
        [(encode_cursor("blocked", [r.id]), r) for r in shown], len(rows) > page.limit
    )
