"""Forward keyset pagination for every list: ``first`` (at most 100) and an opaque
``after`` cursor that encodes the sort key of the last row seen, so pages stay stable
while rows are added."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import GraphQLError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def bad_input(message: str, field: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": [field]})


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: tuple[Any, ...] | None


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def page_request(first: int | None, after: str | None, kind: str) -> PageRequest:
    limit = DEFAULT_PAGE_SIZE if first is None else first
    if not 0 <= limit <= MAX_PAGE_SIZE:
        raise bad_input(f"first must be between 0 and {MAX_PAGE_SIZE}", "first")
    if after is None:
        return PageRequest(limit, None)
    try:
        decoded = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise bad_input("after is not a cursor of this list", "after") from error
    if not isinstance(decoded, list) or not decoded or decoded[0] != kind:
        raise bad_input("after is not a cursor of this list", "after")
    return PageRequest(limit, tuple(decoded[1:]))


T = TypeVar("T")


def position_page(
    rows: Sequence[T], kind: str, first: int | None, after: str | None
) -> tuple[list[tuple[str, T]], bool]:
    """A page of a list computed whole in a fixed order (a report section, one row per
    partner of a period): a position is a stable cursor."""
    page = page_request(first, after, kind)
    start = 0 if page.after is None else int(page.after[0]) + 1
    if start < 0:
        raise bad_input("after is not a cursor of this list", "after")
    shown = rows[start : start + page.limit]
    edges = [(encode_cursor(kind, [start + n]), row) for n, row in enumerate(shown)]
    return edges, start + page.limit < len(rows)
