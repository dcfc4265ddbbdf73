"""Forward keyset pagination for every list: ``first`` (at most 100) and an opaque
``after`` cursor that encodes the sort key of the last row seen, so pages stay stable
while rows are added."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
