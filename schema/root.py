"""The assembled schema. Later issues add the catalogue, members and mutations."""

from __future__ import annotations

from importlib.metadata import version

import strawberry


@strawberry.type(description="The alliance hub's GraphQL API.")
class Query:
    @strawberry.field(description="The version of alliance-hub serving this request.")
    def api_version(self) -> str:
        return version("alliance-hub")


def build_schema() -> strawberry.Schema:
    return strawberry.Schema(query=Query)
