"""The operator's vocabulary of cash-like and points-like terms, and its withdrawal of
catalogue items."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from compliance.vocabulary import (
    Phrase,
    Term,
    honest_phrases_page,
    set_honest_phrase,
    set_term,
    terms_page,
)
from core.db import utcnow
from partners.catalog import Withdrawal, withdraw_item
from resolvers.context import HubContext
from resolvers.ids import decode_id
from resolvers.outcome import Outcome, write
from resolvers.pagination import encode_cursor, page_request

KIND = "vocabulary"
PHRASE_KIND = "honestPhrase"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    edges: list[tuple[str, T]]
    has_next: bool


async def _page(
    context: HubContext,
    first: int | None,
    after: str | None,
    kind: str,
    reader: Callable[..., list[T]],
    key: Callable[[T], str],
) -> Page[T]:
    """A page of rows kept in the order of their text key (a term, a phrase)."""
    page = page_request(first, after, kind)
    rows = await context.database.read(
        reader, limit=page.limit, after=str(page.after[0]) if page.after else None
    )
    shown = rows[: page.limit]
    return Page([(encode_cursor(kind, [key(row)]), row) for row in shown], len(rows) > page.limit)


async def terms(context: HubContext, first: int | None, after: str | None) -> Page[Term]:
    return await _page(context, first, after, KIND, terms_page, lambda t: t.term)


async def phrases(context: HubContext, first: int | None, after: str | None) -> Page[Phrase]:
    return await _page(context, first, after, PHRASE_KIND, honest_phrases_page, lambda p: p.phrase)


async def phrase(context: HubContext, text: str, keep: bool) -> Outcome[Phrase | None]:
    return await write(
        context,
        "setHonestPhrase",
        set_honest_phrase,
        text,
        keep,
        context.principal.client_id or "",
        utcnow(),
    )


async def term(context: HubContext, text: str, rule: str | None) -> Outcome[Term | None]:
    return await write(context, "setVocabularyTerm", set_term, text, rule, utcnow())


async def withdraw(
    context: HubContext, item_gid: str, rule: str, reason: str
) -> Outcome[Withdrawal]:
    return await write(
        context,
        "withdrawCatalogItem",
        withdraw_item,
        item_id=decode_id(item_gid, "CatalogItem") or -1,
        rule=rule,
        reason=reason,
        client_id=context.principal.client_id or "",
        now=utcnow(),
    )
