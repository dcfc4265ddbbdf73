"""The assembled schema. Later issues add the catalogue, members and mutations."""

from __future__ import annotations

from importlib.metadata import version

import strawberry
from strawberry.types import Info

from resolvers import viewer as viewer_resolver
from resolvers.context import HubContext
from resolvers.permissions import authenticated


@strawberry.type(description="The authenticated client making this request.")
class Viewer:
    kind: str = strawberry.field(description="partner or operator.")
    client_id: str | None = strawberry.field(description="The OAuth client id.")
    partner_code: str | None = strawberry.field(
        description="The client's partner; null for the operator."
    )
    scopes: list[str] = strawberry.field(description="Scopes granted to this request's token.")


@strawberry.type(description="The alliance hub's GraphQL API.")
class Query:
    @strawberry.field(description="The version of alliance-hub serving this request.")
    def api_version(self) -> str:
        return version("alliance-hub")

    @strawberry.field(
        description="The calling client, from its access token.", extensions=authenticated()
    )
    def viewer(self, info: Info[HubContext, None]) -> Viewer:
        data = viewer_resolver.viewer(info.context.principal)
        return Viewer(
            kind=data.kind,
            client_id=data.client_id,
            partner_code=data.partner_code,
            scopes=data.scopes,
        )


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(query=Query)
