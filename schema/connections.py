"""Relay connections and scoped mutations, built one way everywhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import strawberry
from strawberry import relay
from strawberry.federation.schema_directives import Shareable
from strawberry.types.base import get_object_definition

from resolvers.permissions import requires

T = TypeVar("T")

# Relay's page types are plain values a partner's subgraph defines too (Relay names every
# connection `<Node>Connection` with `<Node>Edge` and one `PageInfo`), so they are
# @shareable: without it both composers refuse a partner that also paginates
# (INVALID_FIELD_SHARING). They are strawberry's own types, shared by every connection
# of this schema, so the directive is added to their definitions once, here.
for _value_type in (relay.PageInfo, relay.Connection, relay.Edge):
    _definition = get_object_definition(_value_type, strict=True)
    if not any(isinstance(d, Shareable) for d in _definition.directives or ()):
        _definition.directives = [*(_definition.directives or ()), Shareable()]


def connection(edges: Sequence[tuple[str, T]], has_next: bool, after: str | None) -> Any:
    """A forward page: ``edges`` as (cursor, node), and whether more follow."""
    built = [relay.Edge(cursor=cursor, node=node) for cursor, node in edges]  # type: ignore[type-var]
    return relay.Connection(
        edges=built,
        page_info=relay.PageInfo(
            has_next_page=has_next,
            has_previous_page=after is not None,
            start_cursor=built[0].cursor if built else None,
            end_cursor=built[-1].cursor if built else None,
        ),
    )


def scoped_mutation(resolver: Callable[..., Any], scope: str, description: str) -> Any:
    return strawberry.mutation(
        resolver=resolver, extensions=requires(scope), description=description
    )
