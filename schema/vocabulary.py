"""The operator's vocabulary of cash-like and points-like terms (CR-05, CR-07), and the
withdrawal of catalogue items."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.types import Info

from resolvers import vocabulary as resolve
from resolvers.context import HubContext
from resolvers.permissions import authenticated
from schema.connections import connection, scoped_mutation
from schema.errors import UserError, user_errors


@strawberry.enum(description="The rule a vocabulary term stands for.")
class VocabularyRule(Enum):
    CR_05 = strawberry.enum_value("CR-05", description="Cash-like: points never become money.")
    CR_07 = strawberry.enum_value("CR-07", description="Points-like: members cannot buy points.")


@strawberry.type(
    description="A term (normalised) that refuses any catalogue title or category, or order "
    "line category, containing it, with its rule."
)
class VocabularyTerm:
    term: str
    rule: str


async def compliance_vocabulary(
    info: Info[HubContext, Any], first: int | None = None, after: str | None = None
) -> relay.Connection[VocabularyTerm]:  # type: ignore[type-var]
    page = await resolve.terms(info.context, first, after)
    edges = [(cursor, VocabularyTerm(term=t.term, rule=t.rule)) for cursor, t in page.edges]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


compliance_vocabulary_field = strawberry.field(
    resolver=compliance_vocabulary,
    extensions=authenticated(),
    description="The operator's cash-like and points-like terms, by term.",
)


@strawberry.type(
    description="An honest phrase (normalised): a term the vocabulary finds inside it, covered "
    "whole, is ignored there: a word that holds a term (`微积分` holds `积分`, `呈现金黄` holds "
    "`现金`), or a name that holds one (`johnny cash`)."
)
class HonestPhrase:
    phrase: str
    updated_at: datetime


async def compliance_honest_phrases(
    info: Info[HubContext, Any], first: int | None = None, after: str | None = None
) -> relay.Connection[HonestPhrase]:  # type: ignore[type-var]
    page = await resolve.phrases(info.context, first, after)
    edges = [
        (cursor, HonestPhrase(phrase=p.phrase, updated_at=p.updated_at)) for cursor, p in page.edges
    ]
    return connection(edges, page.has_next, after)  # type: ignore[no-any-return]


compliance_honest_phrases_field = strawberry.field(
    resolver=compliance_honest_phrases,
    extensions=authenticated(),
    description="The operator's honest phrases: a term inside one, covered whole, is ignored.",
)


@strawberry.input
class SetHonestPhraseInput:
    phrase: str = strawberry.field(description="Kept normalised (NFKC, case-folded).")
    keep: bool = strawberry.field(default=True, description="False removes the phrase.")


@strawberry.type
class SetHonestPhrasePayload:
    phrase: HonestPhrase | None
    user_errors: list[UserError]


async def set_honest_phrase(
    info: Info[HubContext, Any], input: SetHonestPhraseInput
) -> SetHonestPhrasePayload:
    outcome = await resolve.phrase(info.context, input.phrase, input.keep)
    found = outcome.value
    return SetHonestPhrasePayload(
        phrase=None
        if found is None
        else HonestPhrase(phrase=found.phrase, updated_at=found.updated_at),
        user_errors=user_errors(outcome),
    )


set_honest_phrase_field = scoped_mutation(
    set_honest_phrase,
    "operator:admin",
    "Add or remove an honest phrase: a term inside it, covered whole, is ignored "
    "(audited). A phrase that reads as no letter, or inside a term, is refused.",
)


@strawberry.input
class SetVocabularyTermInput:
    term: str = strawberry.field(description="Kept normalised (NFKC, case-folded).")
    rule: VocabularyRule | None = strawberry.field(
        default=None, description="The rule the term stands for; null removes the term."
    )


@strawberry.type
class SetVocabularyTermPayload:
    term: VocabularyTerm | None
    user_errors: list[UserError]


async def set_vocabulary_term(
    info: Info[HubContext, Any], input: SetVocabularyTermInput
) -> SetVocabularyTermPayload:
    outcome = await resolve.term(
        info.context, input.term, None if input.rule is None else input.rule.name.replace("_", "-")
    )
    found = outcome.value
    return SetVocabularyTermPayload(
        term=None if found is None else VocabularyTerm(term=found.term, rule=found.rule),
        user_errors=user_errors(outcome),
    )


@strawberry.input
class WithdrawCatalogItemInput:
    catalog_item_id: strawberry.ID
    rule: str = strawberry.field(description="The rule the item breaks, e.g. `CR-05`.")
    reason: str = strawberry.field(description="1-200 characters, kept in the audit.")


@strawberry.type
class CatalogItemWithdrawal:
    sku: str
    rule: str
    withdrawn_at: datetime


@strawberry.type
class WithdrawCatalogItemPayload:
    withdrawal: CatalogItemWithdrawal | None
    user_errors: list[UserError]


async def withdraw_catalog_item(
    info: Info[HubContext, Any], input: WithdrawCatalogItemInput
) -> WithdrawCatalogItemPayload:
    outcome = await resolve.withdraw(
        info.context, str(input.catalog_item_id), input.rule, input.reason
    )
    found = outcome.value
    return WithdrawCatalogItemPayload(
        withdrawal=None
        if found is None
        else CatalogItemWithdrawal(sku=found.sku, rule=found.rule, withdrawn_at=found.withdrawn_at),
        user_errors=user_errors(outcome),
    )


set_vocabulary_term_field = scoped_mutation(
    set_vocabulary_term,
    "operator:admin",
    "Add, change or remove a cash-like (CR-05) or points-like (CR-07) term. A term that "
    "reads as no letter (a symbol, an emoji, punctuation or digits alone) is refused: it "
    "would be found in every text.",
)
withdraw_catalog_item_field = scoped_mutation(
    withdraw_catalog_item,
    "operator:admin",
    "Withdraw any partner's catalogue item for the rule it breaks (audited).",
)
