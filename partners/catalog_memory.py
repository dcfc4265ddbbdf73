"""The unified catalogue held in memory by each worker, for pages without SQL.

A **snapshot** is every available item of every active partner, priced at one instant,
read in one unit of work together with the catalogue's version and the window of time in
which those prices hold: from the latest price or promotion boundary at or before the
instant to the next one after it (``partners.freshness``). Within that window and at that
version, the snapshot's answer to any catalogue page equals the database's: the same
rows, prices, order and keyset cursors. A request uses it only when the version it read
at its start is the snapshot's and its pricing instant lies in the window; otherwise it
reads the database as before (``catalog_page``), so a change committed on any worker is
seen by the next request on every worker.

Memory is bounded: a catalogue larger than ``max_items`` is never held (every page then
reads the database). Title search reads the database too (SQLite and PostgreSQL lowercase
differently; the database is the reference).
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from compliance.vocabulary import normalise
from partners.catalog import CatalogQuery, ItemWithPartner, base_points, effective_points, item_view
from partners.freshness import NO_BOUNDARY, VERSION_SQL, CatalogueVersion, version_of
from partners.models import CatalogItem, Partner, PartnerStatus, Promotion, ScheduledPrice
from partners.registry import PartnerView, partner_view

NO_START = datetime(1, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _micros(value: datetime) -> int:
    """An instant as whole microseconds (exact, unlike a float timestamp)."""
    return (_aware(value, NO_START) - NO_START) // MICROSECOND


def _aware(value: datetime | None, default: datetime) -> datetime:
    if value is None:
        return default
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(slots=True)
class CatalogueSnapshot:
    version: CatalogueVersion  # number and stamp (partners.freshness)
    priced_at: datetime
    valid_from: datetime  # the latest boundary at or before priced_at
    valid_until: datetime  # the first boundary after priced_at
    # Ascending (points, id): POINTS_ASC forwards, POINTS_DESC backwards.
    by_points: list[ItemWithPartner]
    points_keys: list[tuple[int, int]]
    # Descending (created_at, id), as NEWEST; keys negated to bisect ascending.
    by_newest: list[ItemWithPartner]
    newest_keys: list[tuple[int, int]]
    partners: dict[int, PartnerView]
    # Whatever the layers above derive from this snapshot (their partners' objects).
    memo: dict[Any, Any] = field(default_factory=dict)

    def serves(self, version: CatalogueVersion, as_of: datetime) -> bool:
        return version == self.version and self.valid_from <= as_of < self.valid_until

    def page(
        self, query: CatalogQuery, sort: str, limit: int, after: tuple[Any, ...] | None
    ) -> list[ItemWithPartner] | None:
        """As ``catalog_page``: up to ``limit + 1`` items after the keyset ``after``; None
        when this query must read the database (title search)."""
        if query.search:
            return None
        wanted = _matcher(query)
        if sort == "POINTS_ASC":
            start = 0 if after is None else bisect.bisect_right(self.points_keys, tuple(after))
            rows: Any = itertools.islice(self.by_points, start, None)
        elif sort == "POINTS_DESC":
            end = (
                len(self.points_keys)
                if after is None
                else bisect.bisect_left(self.points_keys, tuple(after))
            )
            rows = (self.by_points[i] for i in range(end - 1, -1, -1))
        else:
            if after is None:
                start = 0
            else:
                created = datetime.fromisoformat(str(after[0]))
                key = (-_micros(created), -int(after[1]))
                start = bisect.bisect_right(self.newest_keys, key)
            rows = itertools.islice(self.by_newest, start, None)
        cap = query.max_points
        ascending = sort == "POINTS_ASC"
        found: list[ItemWithPartner] = []
        for row in rows:
            if cap is not None and row[0].points > cap:
                if ascending:
                    break  # every later item costs more
                continue
            if wanted is None or wanted(row):
                found.append(row)
                if len(found) > limit:
                    break
        return found


def _matcher(query: CatalogQuery) -> Any:
    """The filter's conditions as one test of a row; None when there are none."""
    codes = None if query.partner_codes is None else frozenset(query.partner_codes)
    categories = (
        None
        if query.categories is None
        else frozenset(normalise(category) for category in query.categories)
    )
    green = query.green
    if codes is None and categories is None and green is None:
        return None

    def wanted(row: ItemWithPartner) -> bool:
        item, partner = row
        return (
            (codes is None or partner.code in codes)
            and (categories is None or item.category in categories)
            and (green is None or item.green is green)
        )

    return wanted


def _boundaries(session: Session, at: datetime) -> tuple[datetime, datetime]:
    """The latest price or promotion boundary at or before ``at``, and the first after."""
    before = [
        session.execute(select(func.max(column)).where(column <= at)).scalar()
        for column in (ScheduledPrice.effective_at, Promotion.starts_at, Promotion.ends_at)
    ]
    after = [
        session.execute(select(func.min(column)).where(column > at)).scalar()
        for column in (ScheduledPrice.effective_at, Promotion.starts_at, Promotion.ends_at)
    ]
    return (
        max((_aware(t, NO_START) for t in before if t is not None), default=NO_START),
        min((_aware(t, NO_BOUNDARY) for t in after if t is not None), default=NO_BOUNDARY),
    )


def catalogue_size(session: Session) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(CatalogItem)
            .join(Partner, Partner.id == CatalogItem.partner_id)
            .where(Partner.status == PartnerStatus.ACTIVE, CatalogItem.available.is_(True))
        ).scalar_one()
    )


def load_snapshot(session: Session, at: datetime, max_items: int) -> CatalogueSnapshot | None:
    """The catalogue priced at ``at`` with its version and window, or None when it holds
    more than ``max_items`` items or changed while it was read (the version read before
    and after differ)."""
    version = version_of(session.execute(text(VERSION_SQL)).one())
    if catalogue_size(session) > max_items:
        return None
    valid_from, valid_until = _boundaries(session, at)
    points = effective_points(at).label("points")
    rows = session.execute(
        select(CatalogItem, points, base_points(at).label("base"), Partner)
        .join(Partner, Partner.id == CatalogItem.partner_id)
        .where(Partner.status == PartnerStatus.ACTIVE, CatalogItem.available.is_(True))
        .limit(max_items + 1)
    ).all()
    if len(rows) > max_items:
        return None
    if version_of(session.execute(text(VERSION_SQL)).one()) != version:
        return None
    partners: dict[int, PartnerView] = {}
    items: list[ItemWithPartner] = []
    for item, item_points, base, partner in rows:
        view = partners.get(partner.id)
        if view is None:
            view = partners[partner.id] = partner_view(partner)
        items.append((item_view(item, item_points, base), view))
    by_points = sorted(items, key=lambda row: (row[0].points, row[0].id))
    by_newest = sorted(items, key=lambda row: (-_micros(row[0].created_at), -row[0].id))
    return CatalogueSnapshot(
        version=version,
        priced_at=at,
        valid_from=valid_from,
        valid_until=valid_until,
        by_points=by_points,
        points_keys=[(row[0].points, row[0].id) for row in by_points],
        by_newest=by_newest,
        newest_keys=[(-_micros(row[0].created_at), -row[0].id) for row in by_newest],
        partners=partners,
    )
