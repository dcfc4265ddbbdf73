"""Relay connections and scoped mutations, built one way everywhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import strawberry
from strawberry import relay

from resolvers.permissions import requires

T = TypeVar("T")


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
