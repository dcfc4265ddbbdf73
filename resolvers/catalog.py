"""Catalogue reads and publication."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.config import get_settings
from core.db import Database, utcnow
from members.member_prices import (
    PriceRow,
    PriceRowInput,
    ScheduledRow,
    upsert_items_with_member_prices,
)
from partners.catalog import (
    CatalogQuery,
    ItemInput,
    ItemView,
    ItemWithPartner,
    PriceView,
    PromotionView,
    catalog_page,
)
from partners.catalog_memory import CatalogueSnapshot, load_snapshot
from partners.freshness import VERSION_SQL, CatalogueVersion, version_of
from partners.registry import PartnerView
from resolvers.context import HubContext
from resolvers.outcome import Outcome, attempt, require_partner
from resolvers.pagination import (
    PageRequest,
    bad_input,
    cursor_prefix,
    cursor_tail,
    encode_cursor,
    extend_cursor,
    page_request,
)

log = logging.getLogger("alliance_hub.catalogue")
TOO_LARGE_RETRY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class CatalogPage:
    edges: list[tuple[str, ItemView]]
    has_next: bool
    as_of: datetime
    # The in-memory snapshot the page came from, if any (its memo keeps derived objects).
    snapshot: CatalogueSnapshot | None = None


class CatalogueMemory:
    """One worker's in-memory catalogue (partners.catalog_memory): the latest snapshot,
    reloaded in the background when a request finds it behind the version it read or
    outside its time window. Until then requests read the database."""

    def __init__(self, database: Database, max_items: int) -> None:
        self.database = database
        self.max_items = max_items
        self.snapshot: CatalogueSnapshot | None = None
        self._loading: asyncio.Task[None] | None = None
        self._too_large_at = float("-inf")

    async def version(self) -> CatalogueVersion:
        return version_of(await self.database.peek(VERSION_SQL))

    def usable(
        self, version: CatalogueVersion, as_of: datetime, now: datetime
    ) -> CatalogueSnapshot | None:
        snapshot = self.snapshot
        if snapshot is not None and snapshot.serves(version, as_of):
            return snapshot
        if snapshot is None or not snapshot.serves(version, now):
            self._reload()
        return None

    async def settled(self) -> None:
        """Once a reload under way has finished (for tests and benchmarks)."""
        if self._loading is not None:
            await asyncio.shield(self._loading)

    async def close(self) -> None:
        """Stop a reload under way (the app is shutting down)."""
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loading

    def _reload(self) -> None:
        if self.max_items <= 0 or (self._loading is not None and not self._loading.done()):
            return
        if time.monotonic() - self._too_large_at < TOO_LARGE_RETRY_SECONDS:
            return
        self._loading = asyncio.create_task(self._load())

    async def _load(self) -> None:
        try:
            snapshot = await self.database.read(load_snapshot, utcnow(), self.max_items)
        except Exception as error:  # the next request reads the database and tries again
            log.warning("catalogue snapshot not loaded: %s", type(error).__name__)
            return
        if snapshot is None:
            if self.snapshot is None or await self.version() == self.snapshot.version:
                self._too_large_at = time.monotonic()  # or changing under the load
            return
        # One load runs at a time, each started after the last: the one just read is the
        # latest, even at a lower number or another stamp (a failover or a restore took the
        # version back; keeping the held one would reload on every request).
        self.snapshot = snapshot


async def list_catalog(
    context: HubContext, query: CatalogQuery, sort: str, first: int | None, after: str | None
) -> CatalogPage:
    """The unified catalogue. Prices are computed at one instant, carried in the cursor, so
    every page of one walk sees the same prices and order even if a promotion starts."""
    kind = f"catalog:{sort}"
    page = page_request(first, after, kind)
    if page.after is None:
        as_of, key = context.started_at, None
    else:
        as_of, key = page.after_instant(), _catalog_key(page, sort)
    if query.max_points is not None and query.max_points < 0:
        raise bad_input("maxPoints must not be negative", "filter.maxPoints")
    snapshot, found = None, None
    memory: CatalogueMemory | None = context.catalogue
    if memory is not None:
        version = context.catalogue_version
        if version is None:
            version = await memory.version()
        snapshot = memory.usable(version, as_of, context.started_at)
        if snapshot is not None:
            found = snapshot.page(query, sort, page.limit, key)
            if found is None:
                snapshot = None
    if found is None:
        found = await context.database.read(
            catalog_page, query=query, sort=sort, limit=page.limit, after=key, as_of=as_of
        )
    for partner in {partner.id: partner for _, partner in found}.values():
        context.loaders.partner.prime(partner.id, partner)  # no second read for partners
    rows = [item for item, _ in found]
    shown = rows[: page.limit]
    prefix = cursor_prefix(kind, [as_of.isoformat()])
    if snapshot is not None:
        # A cursor's tail depends only on the item's sort key, fixed in a snapshot.
        tails: dict[int, str] = snapshot.memo.setdefault(("cursor tails", sort == "NEWEST"), {})
        edges = []
        for item in shown:
            tail = tails.get(item.id)
            if tail is None:
                tail = tails[item.id] = cursor_tail(_sort_key(item, sort), item.id)
            edges.append((prefix[0] + tail, item))
    else:
        edges = [(extend_cursor(prefix, _sort_key(item, sort), item.id), item) for item in shown]
    return CatalogPage(edges, len(rows) > page.limit, as_of, snapshot)


def _sort_key(item: ItemView, sort: str) -> int | str:
    """What a cursor of this sort holds before the item's id."""
    return item.created_at.isoformat() if sort == "NEWEST" else item.points


def _catalog_key(page: PageRequest, sort: str) -> tuple[Any, ...]:
    """The sort key after the instant: (points or creation time, item id), as the hub wrote
    it; anything else is a foreign cursor."""
    assert page.after is not None
    if len(page.after) != 3:
        raise bad_input("after is not a cursor of this list", "after")
    if sort == "NEWEST":
        try:
            created = datetime.fromisoformat(str(page.after[1]))
        except ValueError as error:
            raise bad_input("after is not a cursor of this list", "after") from error
        return (created.isoformat(), page.after_int(2))
    return (page.after_int(1), page.after_int(2))


async def promotion_of(context: HubContext, item_id: int, as_of: datetime) -> PromotionView | None:
    found: PromotionView | None = await context.loaders.promotion.load((item_id, as_of))
    return found


async def scheduled_prices_of(
    context: HubContext, item_id: int, as_of: datetime
) -> list[PriceView]:
    found: list[PriceView] = await context.loaders.scheduled_prices.load((item_id, as_of))
    return found


def visible(context: HubContext, item: ItemView, partner: PartnerView) -> bool:
    """An available item of an active partner is public; a withdrawn item, or any item of
    a suspended partner, only to its own partner and the operator."""
    principal = context.principal
    if principal.kind == "operator" or principal.partner_id == item.partner_id:
        return True
    return item.available and partner.status == "ACTIVE"


def _shown(
    context: HubContext, found: list[ItemWithPartner | None]
) -> list[ItemWithPartner | None]:
    for pair in found:
        if pair is not None:
            context.loaders.partner.prime(pair[1].id, pair[1])
    return [pair if pair is not None and visible(context, *pair) else None for pair in found]


async def items_by_id(context: HubContext, ids: list[int]) -> list[ItemWithPartner | None]:
    """Items the caller may see, with their partners, in one batch."""
    now = context.started_at
    found: list[ItemWithPartner | None] = await context.loaders.item.load_many(
        [(i, now) for i in ids]
    )
    return _shown(context, found)


async def items_by_sku(
    context: HubContext, keys: list[tuple[str, str]]
) -> list[ItemWithPartner | None]:
    """Items by (partner code, SKU), as ``items_by_id``."""
    now = context.started_at
    found: list[ItemWithPartner | None] = await context.loaders.item_by_sku.load_many(
        [(code, sku, now) for code, sku in keys]
    )
    return _shown(context, found)


async def upsert_catalog_items(
    context: HubContext,
    items: list[ItemInput],
    member_prices: list[list[PriceRowInput] | None] | None = None,
) -> Outcome[list[tuple[int, str]]]:
    """Publish the calling partner's items (and their member prices), all or nothing."""
    rows = member_prices if member_prices is not None else [None] * len(items)
    return await attempt(
        context,
        "upsertCatalogItems",
        lambda: context.database.write(
            upsert_items_with_member_prices,
            require_partner(context),
            items,
            rows,
            utcnow(),
            get_settings().price_notice,
        ),
    )


async def member_prices_of(context: HubContext, item_id: int, as_of: datetime) -> list[PriceRow]:
    found: list[PriceRow] | None = await context.loaders.member_prices.load((item_id, as_of))
    return found or []


async def scheduled_member_prices_of(
    context: HubContext, item_id: int, as_of: datetime
) -> list[ScheduledRow]:
    found: list[ScheduledRow] | None = await context.loaders.scheduled_member_prices.load(
        (item_id, as_of)
    )
    return found or []


async def partner_catalog(
    context: HubContext, partner_id: int, first: int | None, after: str | None
) -> CatalogPage:
    """One partner's available items by SKU, batched across every partner on the page."""
    kind = "partner-catalog"
    page = page_request(first, after, kind)
    if page.after is None:
        as_of, after_sku = context.started_at, None
    else:
        as_of = page.after_instant()
        if len(page.after) != 2 or not isinstance(page.after[1], str):
            raise bad_input("after is not a cursor of this list", "after")
        after_sku = page.after[1]
    rows: list[ItemView] = await context.loaders.partner_catalog.load(
        (partner_id, page.limit, after_sku, as_of)
    )
    shown = rows[: page.limit]
    edges = [(encode_cursor(kind, [as_of.isoformat(), item.sku]), item) for item in shown]
    return CatalogPage(edges, len(rows) > page.limit, as_of)
