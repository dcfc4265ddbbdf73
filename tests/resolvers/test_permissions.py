"""The reusable scope permission, on a small schema built inline."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from core.db import Database
from resolvers.context import ANONYMOUS, HubContext, Principal
from resolvers.permissions import requires


@strawberry.type
class Query:
    @strawberry.field(extensions=requires("points:issue"))
    def award_quota(self, info: Info[HubContext, None]) -> int:
        return 7


SCHEMA = strawberry.Schema(query=Query)


def _run(principal: Principal) -> strawberry.types.ExecutionResult:
    context = HubContext(database=Database.__new__(Database), principal=principal)
    return SCHEMA.execute_sync("{ awardQuota }", context_value=context)


def test_a_token_with_the_scope_reads_the_field() -> None:
    result = _run(Principal("partner", "c1", 1, "cinema", frozenset({"points:issue"})))

    assert (result.data, result.errors) == ({"awardQuota": 7}, None)


def test_a_token_without_the_scope_is_forbidden_naming_it() -> None:
    result = _run(Principal("partner", "c1", 1, "cinema", frozenset({"catalog:read"})))

    assert result.data is None
    assert result.errors is not None
    assert result.errors[0].message == "missing scope points:issue"
    assert result.errors[0].extensions == {"code": "FORBIDDEN", "scope": "points:issue"}


def test_an_anonymous_caller_is_unauthenticated() -> None:
    result = _run(ANONYMOUS)

    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}
