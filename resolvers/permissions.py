"""Scope checks for strawberry fields: ``extensions=[requires("points:issue")]``."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from resolvers.context import HubContext


class RequireScope(BasePermission):
    """Anonymous callers get ``UNAUTHENTICATED``; a token without the scope (or any of the
    alternatives) gets ``FORBIDDEN`` naming the missing scope."""

    def __init__(self, scope: str, *alternatives: str) -> None:
        self.scope = scope
        self.accepted = {scope, *alternatives}

    def has_permission(self, source: Any, info: Info[HubContext, Any], **kwargs: Any) -> bool:
        principal = info.context.principal
        if not principal.authenticated:
            raise GraphQLError(
                f"authentication required: this field needs the scope {self.scope}",
                extensions={"code": "UNAUTHENTICATED"},
            )
        if not self.accepted & principal.scopes:
            raise GraphQLError(
                f"missing scope {self.scope}",
                extensions={"code": "FORBIDDEN", "scope": self.scope},
            )
        return True


class RequireAuthentication(BasePermission):
    def has_permission(self, source: Any, info: Info[HubContext, Any], **kwargs: Any) -> bool:
        if not info.context.principal.authenticated:
            raise GraphQLError("authentication required", extensions={"code": "UNAUTHENTICATED"})
        return True


def requires(scope: str, *alternatives: str) -> list[FieldExtension]:
    return [
        PermissionExtension(permissions=[RequireScope(scope, *alternatives)], use_directives=False)
    ]


def authenticated() -> list[FieldExtension]:
    return [PermissionExtension(permissions=[RequireAuthentication()], use_directives=False)]
