"""Per-request loaders: every nested field is fetched in batches, each batch in its own
short read session (an AsyncSession must not be shared by concurrent resolvers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import TypeVar

from aiodataloader import DataLoader
from sqlalchemy.orm import Session

from core.db import Database
from ledger.queries import (
    ActivityTotals,
    Balances,
    ExpiringDay,
    activity_elsewhere,
    balances,
    expiring_elsewhere,
)
from members.baskets import PublishedBaskets, published_baskets
from members.earning import (
    AwardExplanation,
    PublishedRules,
    award_explanations,
    published_rules,
)
from members.member_prices import (
    PriceRow,
    ScheduledRow,
    member_prices,
    scheduled_member_prices,
)
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


MemberKey = tuple[int | None, int]


class VisibleMemberLoader(BatchLoader[MemberKey, VisibleMember]):
    """Who may see which member, and, in the same read, the balances of the visible
    members this request has not loaded yet: a member read nearly always shows them,
    so it costs one read (one connection, one transaction) instead of two. Balances a
    write of this request primed (read inside its transaction) are never replaced."""

    def __init__(self, database: Database, balances_loader: BatchLoader[int, Balances]) -> None:
        super().__init__(database, visible_members)
        self.balances = balances_loader

    async def batch_load_fn(self, keys: Sequence[MemberKey]) -> list[VisibleMember | None]:
        unread = {member for _, member in keys if member not in self.balances._cache}

        def fetch(
            session: Session, keys: list[MemberKey]
        ) -> tuple[dict[MemberKey, VisibleMember], dict[int, Balances]]:
            found = visible_members(session, keys)
            wanted = sorted(unread & {member.id for member in found.values()})
            return found, balances(session, wanted) if wanted else {}

        found, seen = await self.database.read(fetch, list(keys))
        for member_id, figures in seen.items():
            self.balances.prime(member_id, figures)  # never replaces a primed value
        return [found.get(key) for key in keys]


class Loaders:
    """The request's loaders, each made when a field first asks for it (a page of the
    catalogue from memory needs one of them, not twenty)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    @cached_property
    def partner(self) -> BatchLoader[int, PartnerView]:
        return BatchLoader(self.database, partners_by_ids)

    @cached_property
    def partner_by_code(self) -> BatchLoader[str, PartnerView]:
        return BatchLoader(self.database, partners_by_codes)

    @cached_property
    def item(self) -> BatchLoader[tuple[int, datetime], ItemWithPartner]:
        return BatchLoader(self.database, items_by_ids)

    @cached_property
    def item_by_sku(self) -> BatchLoader[tuple[str, str, datetime], ItemWithPartner]:
        return BatchLoader(self.database, items_by_partner_skus)

    @cached_property
    def promotion(self) -> BatchLoader[tuple[int, datetime], PromotionView]:
        return BatchLoader(self.database, running_promotions)

    @cached_property
    def scheduled_prices(self) -> BatchLoader[tuple[int, datetime], list[PriceView]]:
        return BatchLoader(self.database, scheduled_prices)

    @cached_property
    def balances(self) -> BatchLoader[int, Balances]:
        return BatchLoader(self.database, balances)

    @cached_property
    def marketing_choices(self) -> BatchLoader[int, MarketingChoices]:
        return BatchLoader(self.database, marketing_choices)

    @cached_property
    def partner_catalog(self) -> BatchLoader[CatalogSlice, list[ItemView]]:
        return BatchLoader(self.database, partner_catalogs)

    @cached_property
    def earning_rules(self) -> BatchLoader[tuple[int, datetime], PublishedRules]:
        return BatchLoader(self.database, published_rules)

    @cached_property
    def statements(self) -> BatchLoader[int, PeriodStatements]:
        return BatchLoader(self.database, statements_for)

    @cached_property
    def activity_elsewhere(self) -> BatchLoader[tuple[int, int], ActivityTotals]:
        return BatchLoader(self.database, activity_elsewhere)

    @cached_property
    def expiring_elsewhere(self) -> BatchLoader[tuple[int, int, datetime], list[ExpiringDay]]:
        return BatchLoader(self.database, expiring_elsewhere)

    @cached_property
    def visible_member(self) -> BatchLoader[MemberKey, VisibleMember]:
        return VisibleMemberLoader(self.database, self.balances)

    @cached_property
    def baskets(self) -> BatchLoader[tuple[int, datetime], PublishedBaskets]:
        return BatchLoader(self.database, published_baskets)

    @cached_property
    def member_prices(self) -> BatchLoader[tuple[int, datetime], list[PriceRow]]:
        return BatchLoader(self.database, member_prices)

    @cached_property
    def scheduled_member_prices(self) -> BatchLoader[tuple[int, datetime], list[ScheduledRow]]:
        return BatchLoader(self.database, scheduled_member_prices)

    @cached_property
    def award_explanation(self) -> BatchLoader[tuple[int, str], AwardExplanation]:
        return BatchLoader(self.database, award_explanations)

    @cached_property
    def tier_standing(self) -> BatchLoader[tuple[int, datetime], Standing]:
        return BatchLoader(self.database, standings)

    @cached_property
    def tier_progress(self) -> BatchLoader[tuple[int, datetime], Progress]:
        return BatchLoader(self.database, progresses)
