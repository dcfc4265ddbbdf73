"""Forward keyset pagination for every list: ``first`` (at most 100) and an opaque
``after`` cursor that encodes the sort key of the last row seen, so pages stay stable
while rows are added."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from graphql import GraphQLError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def bad_input(message: str, field: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": [field]})


MAX_DATABASE_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    after: tuple[Any, ...] | None

    def after_int(self, index: int = 0) -> int | None:
        """Element ``index`` of the cursor as a 64-bit id or position; a cursor that holds
        anything else was not made by the hub and is refused like any foreign cursor."""
        if self.after is None:
            return None
        value = self.after[index] if index < len(self.after) else None
        if type(value) is not int or not 0 <= value <= MAX_DATABASE_ID:
            raise bad_input("after is not a cursor of this list", "after")
        return value

    def after_instant(self) -> datetime:
        """Element 0 of the cursor as the aware instant a walk through pages is priced at."""
        assert self.after is not None
        try:
            instant = datetime.fromisoformat(str(self.after[0]))
        except ValueError as error:
            raise bad_input("after is not a cursor of this list", "after") from error
        if instant.tzinfo is None:
            raise bad_input("after is not a cursor of this list", "after")
        return instant


def encode_cursor(kind: str, key: Sequence[Any]) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_prefix(kind: str, key: Sequence[Any]) -> tuple[str, str]:
    """The shared start of many cursors of one page (``kind`` and the leading ``key``),
    for :func:`extend_cursor`: its JSON is padded with spaces to a multiple of 3 bytes, so
    its base64 is whole and each cursor only encodes its own tail. The cursors decode to
    the same lists as :func:`encode_cursor`'s."""
    raw = json.dumps([kind, *key], separators=(",", ":"), default=str)[:-1] + ","
    raw += " " * (-len(raw.encode()) % 3)
    return base64.urlsafe_b64encode(raw.encode()).decode(), raw


def extend_cursor(prefix: tuple[str, str], first: int | str, last: int) -> str:
    """A cursor of ``prefix`` followed by ``first`` (an integer, or a string that needs no
    JSON escaping, such as an ISO instant) and the integer ``last``."""
    return prefix[0] + cursor_tail(first, last)


def cursor_tail(first: int | str, last: int) -> str:
    """The part of :func:`extend_cursor`'s cursor after any prefix: the same for every
    prefix, so a caller may keep it."""
    rest = f"{first},{last}]" if type(first) is int else f'"{first}",{last}]'
    return base64.urlsafe_b64encode(rest.encode()).decode().rstrip("=")


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
    position = page.after_int()
    start = 0 if position is None else position + 1
    shown = rows[start : start + page.limit]
    edges = [(encode_cursor(kind, [start + n]), row) for n, row in enumerate(shown)]
    return edges, start + page.limit < len(rows)
