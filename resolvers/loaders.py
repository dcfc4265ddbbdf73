"""Per-request loaders: every nested field is fetched in batches, each batch in its own
short read session (an AsyncSession must not be shared by concurrent resolvers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

from aiodataloader import DataLoader
from sqlalchemy.orm import Session

from core.db import Database
from ledger.queries import ActivityTotals, Balances, activity_elsewhere, balances
from members.baskets import PublishedBaskets, published_baskets
from members.earning import (
    AwardExplanation,
    PublishedRules,
    award_explanations,
    published_rules,
)
from members.member_prices import PriceRow, member_prices
from members.registration import VisibleMember, visible_members
from members.self_service import MarketingChoices, marketing_choices
from members.tiers import Progress, Standing, progresses, standings
from partners.catalog import (
    CatalogSlice,
    ItemView,
    ItemWithPartner,
    PriceView,
    PromotionView,
    items_by_ids,
    items_by_partner_skus,
    partner_catalogs,
    running_promotions,
    scheduled_prices,
)
from partners.registry import PartnerView, partners_by_codes, partners_by_ids
from settlement.periods import PeriodStatements, statements_for

K = TypeVar("K")
V = TypeVar("V")


class BatchLoader(DataLoader[K, V | None]):
    """Loads ``fetch(session, keys) -> {key: value}`` in one read; missing keys are None."""

    def __init__(
        self, database: Database, fetch: Callable[[Session, Sequence[K]], Mapping[K, V]]
    ) -> None:
        super().__init__()
        self.database = database
        self.fetch = fetch

    def load(self, key: K) -> asyncio.Future[V | None]:
        """The shared future behind a key, shielded for each caller: when graphql-core
        cancels one field's pending work (a sibling field failed), the cancellation must not
        reach the future that other fields of the same request await, or they would see a
        CancelledError that escapes the whole request."""
        return asyncio.shield(super().load(key))

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | None]:
        found = await self.database.read(self.fetch, list(keys))
        return [found.get(key) for key in keys]


class Loaders:
    def __init__(self, database: Database) -> None:
        self.partner: BatchLoader[int, PartnerView] = BatchLoader(database, partners_by_ids)
        self.partner_by_code: BatchLoader[str, PartnerView] = BatchLoader(
            database, partners_by_codes
        )
        self.item: BatchLoader[tuple[int, datetime], ItemWithPartner] = BatchLoader(
            database, items_by_ids
        )
        self.item_by_sku: BatchLoader[tuple[str, str, datetime], ItemWithPartner] = BatchLoader(
            database, items_by_partner_skus
        )
        self.promotion: BatchLoader[tuple[int, datetime], PromotionView] = BatchLoader(
            database, running_promotions
        )
        self.scheduled_prices: BatchLoader[tuple[int, datetime], list[PriceView]] = BatchLoader(
            database, scheduled_prices
        )
        self.balances: BatchLoader[int, Balances] = BatchLoader(database, balances)
        self.marketing_choices: BatchLoader[int, MarketingChoices] = BatchLoader(
            database, marketing_choices
        )
        self.partner_catalog: BatchLoader[CatalogSlice, list[ItemView]] = BatchLoader(
            database, partner_catalogs
        )
        self.earning_rules: BatchLoader[tuple[int, datetime], PublishedRules] = BatchLoader(
            database, published_rules
        )
        self.statements: BatchLoader[int, PeriodStatements] = BatchLoader(database, statements_for)
        self.activity_elsewhere: BatchLoader[tuple[int, int], ActivityTotals] = BatchLoader(
            database, activity_elsewhere
        )
        self.visible_member: BatchLoader[tuple[int | None, int], VisibleMember] = BatchLoader(
            database, visible_members
        )
        self.baskets: BatchLoader[tuple[int, datetime], PublishedBaskets] = BatchLoader(
            database, published_baskets
        )
        self.member_prices: BatchLoader[tuple[int, datetime], list[PriceRow]] = BatchLoader(
            database, member_prices
        )
        self.award_explanation: BatchLoader[tuple[int, str], AwardExplanation] = BatchLoader(
            database, award_explanations
        )
        self.tier_standing: BatchLoader[tuple[int, datetime], Standing] = BatchLoader(
            database, standings
        )
        self.tier_progress: BatchLoader[tuple[int, datetime], Progress] = BatchLoader(
            database, progresses
        )
