"""Blocked attempts: every red-line refusal, from the hash-chained audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from compliance.audit import AttemptView
from resolvers import audit as resolve
from resolvers.context import HubContext
from resolvers.permissions import authenticated
from schema.connections import connection
from schema.partners import Partner


@strawberry.type(description="A request refused by a compliance rule.")
class BlockedAttempt:
    id: strawberry.ID
    at: datetime
    rule: str = strawberry.field(description="The rule's id, e.g. CR-01.")
    operation: str = strawberry.field(description="The mutation that was refused.")
    partner_id: strawberry.Private[int | None]

    @strawberry.field
    async def partner(self, info: Info[HubContext, Any]) -> Partner | None:
        if self.partner_id is None:
            return None
        return Partner.from_view(await info.context.loaders.partner.load(self.partner_id))

    @classmethod
    def from_view(cls, view: AttemptView) -> BlockedAttempt:
        return cls(
            id=strawberry.ID(str(relay.GlobalID("BlockedAttempt", str(view.id)))),
            at=view.at,
            rule=view.rule,
            operation=view.operation,
            partner_id=view.partner_id,
        )


async def blocked_attempts(
    info: Info[HubContext, Any],
    first: int | None = None,
    after: str | None = None,
    rule: str | None = None,
    partner_code: str | None = None,
) -> relay.Connection[BlockedAttempt]:  # type: ignore[type-var]
    page = await resolve.blocked_attempts(info.context, first, after, rule, partner_code)
    edges = [(cursor, BlockedAttempt.from_view(view)) for cursor, view in page.edges]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


blocked_attempts_field = strawberry.field(
    resolver=blocked_attempts,
    extensions=authenticated(),
    description="Refusals, newest first: all of them for the operator, a partner's own otherwise.",
)
