"""The operator's vocabulary of cash-like and points-like terms, and its withdrawal of
catalogue items."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class TermPage:
    edges: list[tuple[str, Term]]
    has_next: bool


async def terms(context: HubContext, first: int | None, after: str | None) -> TermPage:
    page = page_request(first, after, KIND)
    rows = await context.database.read(
        terms_page, limit=page.limit, after=str(page.after[0]) if page.after else None
    )
    shown = rows[: page.limit]
    return TermPage([(encode_cursor(KIND, [t.term]), t) for t in shown], len(rows) > page.limit)


@dataclass(frozen=True, slots=True)
class PhrasePage:
    edges: list[tuple[str, Phrase]]
    has_next: bool


async def phrases(context: HubContext, first: int | None, after: str | None) -> PhrasePage:
    page = page_request(first, after, PHRASE_KIND)
    rows = await context.database.read(
        honest_phrases_page, limit=page.limit, after=str(page.after[0]) if page.after else None
    )
    shown = rows[: page.limit]
    return PhrasePage(
        [(encode_cursor(PHRASE_KIND, [p.phrase]), p) for p in shown], len(rows) > page.limit
    )


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
