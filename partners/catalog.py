"""Partners' catalogues and the unified catalogue across every active partner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, func, or_, select
from sqlalchemy.orm import Session

from compliance.errors import ComplianceViolation
from compliance.rules import catalogue_item_allowed
from core.db import dialect_insert
from partners.errors import PartnerError
from partners.models import CatalogItem, CatalogItemKind, Partner, PartnerStatus, Promotion
from partners.registry import PartnerView, partner_view

MAX_ITEMS_PER_CALL = 500
MAX_POINTS = 2**31 - 1


class InvalidItem(PartnerError):
    def __init__(self, message: str, field: list[str]) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ItemInput:
    sku: str
    title: str
    category: str
    kind: str
    green: bool
    base_points: int
    available: bool = True


def _check(index: int, item: ItemInput) -> None:
    def refuse(field: str, message: str) -> InvalidItem:
        return InvalidItem(message, ["items", str(index), field])

    if not item.sku.strip() or len(item.sku) > 64:
        raise refuse("sku", "sku must be 1-64 characters")
    if not item.title.strip() or len(item.title) > 200:
        raise refuse("title", "title must be 1-200 characters")
    if not item.category.strip() or len(item.category) > 64:
        raise refuse("category", "category must be 1-64 characters")
    if item.kind not in CatalogItemKind.__members__:
        raise refuse("kind", f"unknown kind {item.kind!r}")
    if type(item.base_points) is not int or not 0 < item.base_points <= MAX_POINTS:
        raise refuse("basePoints", "basePoints must be a whole number of points above 0")
    violation = catalogue_item_allowed(item.kind)
    if violation is not None:
        raise ComplianceViolation(violation, ["items", str(index), "kind"])


def upsert_items(
    session: Session, partner_id: int, items: Sequence[ItemInput], now: datetime
) -> list[tuple[int, str]]:
    """Publish or update items by SKU. Every item is checked first; if any is refused,
    nothing is written. Returns ``(id, sku)`` in input order."""
    if not 1 <= len(items) <= MAX_ITEMS_PER_CALL:
        raise InvalidItem(f"send 1 to {MAX_ITEMS_PER_CALL} items per call", ["items"])
    skus = [item.sku for item in items]
    if len(set(skus)) != len(skus):
        raise InvalidItem("each sku may appear once per call", ["items"])
    for index, item in enumerate(items):
        _check(index, item)
    table = cast(Table, CatalogItem.__table__)
    insert = dialect_insert(session.get_bind().dialect.name, table).values(
        [
            {
                "partner_id": partner_id,
                "sku": item.sku,
                "title": item.title.strip(),
                "category": item.category.strip().lower(),
                "kind": item.kind,
                "green": item.green,
                "base_points": item.base_points,
                "available": item.available,
                "created_at": now,
                "updated_at": now,
            }
            for item in items
        ]
    )
    upsert = insert.on_conflict_do_update(
        index_elements=["partner_id", "sku"],
        set_={
            column: insert.excluded[column]
            for column in (
                "title",
                "category",
                "kind",
                "green",
                "base_points",
                "available",
                "updated_at",
            )
        },
    ).returning(table.c.id, table.c.sku)
    ids = {sku: item_id for item_id, sku in session.execute(upsert)}
    return [(ids[sku], sku) for sku in skus]


@dataclass(frozen=True, slots=True)
class ItemView:
    id: int
    partner_id: int
    sku: str
    title: str
    category: str
    kind: str
    green: bool
    base_points: int
    points: int
    available: bool
    created_at: datetime


def item_view(item: Any, points: int) -> ItemView:
    """An ItemView from a CatalogItem (or a row with its columns) priced at ``points``."""
    return ItemView(
        item.id,
        item.partner_id,
        item.sku,
        item.title,
        item.category,
        item.kind,
        item.green,
        item.base_points,
        int(points),
        item.available,
        item.created_at,
    )


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    partner_codes: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    green: bool | None = None
    max_points: int | None = None
    search: str | None = None


SORTS = ("POINTS_ASC", "POINTS_DESC", "NEWEST")


def effective_points(as_of: datetime) -> ColumnElement[int]:
    """A running promotion's price, else the base price (the lowest if promotions overlap)."""
    running = (
        select(func.min(Promotion.points))
        .where(
            Promotion.item_id == CatalogItem.id,
            Promotion.starts_at <= as_of,
            Promotion.ends_at > as_of,
        )
        .scalar_subquery()
    )
    return func.coalesce(running, CatalogItem.base_points)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def catalog_page(
    session: Session,
    *,
    query: CatalogQuery,
    sort: str,
    limit: int,
    after: tuple[Any, ...] | None,
    as_of: datetime,
) -> list[tuple[ItemView, PartnerView]]:
    """Up to ``limit + 1`` available items of active partners, in ``sort`` order, after
    the keyset ``after``: (points, id) for the points sorts, (created_at, id) for NEWEST.
    Each comes with its partner, read in the same statement."""
    points = effective_points(as_of).label("points")
    statement = (
        select(CatalogItem, points, Partner)
        .join(Partner, Partner.id == CatalogItem.partner_id)
        .where(Partner.status == PartnerStatus.ACTIVE, CatalogItem.available.is_(True))
    )
    if query.partner_codes is not None:
        statement = statement.where(Partner.code.in_(query.partner_codes))
    if query.categories is not None:
        statement = statement.where(
            CatalogItem.category.in_([category.lower() for category in query.categories])
        )
    if query.green is not None:
        statement = statement.where(CatalogItem.green.is_(query.green))
    if query.max_points is not None:
        statement = statement.where(effective_points(as_of) <= query.max_points)
    if query.search:
        pattern = f"%{_escape_like(query.search.lower())}%"
        statement = statement.where(func.lower(CatalogItem.title).like(pattern, escape="\\"))
    price = effective_points(as_of)
    order: tuple[Any, ...]
    if sort == "POINTS_ASC":
        order = (price.asc(), CatalogItem.id.asc())
        if after is not None:
            statement = statement.where(
                or_(price > after[0], and_(price == after[0], CatalogItem.id > after[1]))
            )
    elif sort == "POINTS_DESC":
        order = (price.desc(), CatalogItem.id.desc())
        if after is not None:
            statement = statement.where(
                or_(price < after[0], and_(price == after[0], CatalogItem.id < after[1]))
            )
    else:
        order = (CatalogItem.created_at.desc(), CatalogItem.id.desc())
        if after is not None:
            created = datetime.fromisoformat(str(after[0]))
            statement = statement.where(
                or_(
                    CatalogItem.created_at < created,
                    and_(CatalogItem.created_at == created, CatalogItem.id < after[1]),
                )
            )
    rows = session.execute(statement.order_by(*order).limit(limit + 1)).all()
    return [
        (
            item_view(item, item_points),
            PartnerView(
                partner.id, partner.code, partner.name, partner.legal_entity, partner.status
            ),
        )
        for item, item_points, partner in rows
    ]


@dataclass(frozen=True, slots=True)
class PromotionView:
    item_id: int
    points: int
    starts_at: datetime
    ends_at: datetime


def running_promotions(
    session: Session, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], PromotionView]:
    """The cheapest promotion running at each ``(item_id, at)``."""
    found: dict[tuple[int, datetime], PromotionView] = {}
    by_time: dict[datetime, list[int]] = {}
    for item_id, at in keys:
        by_time.setdefault(at, []).append(item_id)
    for at, item_ids in by_time.items():
        rows = session.execute(
            select(Promotion)
            .where(
                Promotion.item_id.in_(item_ids),
                Promotion.starts_at <= at,
                Promotion.ends_at > at,
            )
            .order_by(Promotion.item_id, Promotion.points.desc())
        ).scalars()
        for row in rows:  # ascending item, descending points: the cheapest is written last
            found[(row.item_id, at)] = PromotionView(
                row.item_id, row.points, row.starts_at, row.ends_at
            )
    return found


ItemWithPartner = tuple[ItemView, PartnerView]


def items_by_ids(
    session: Session, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], ItemWithPartner]:
    """Items by ``(id, as_of)``, priced at ``as_of``, with their partners, whatever their
    availability and their partner's status (the caller decides who sees them): one
    statement per pricing instant."""
    found: dict[tuple[int, datetime], ItemWithPartner] = {}
    by_time: dict[datetime, list[int]] = {}
    for item_id, at in keys:
        by_time.setdefault(at, []).append(item_id)
    for at, item_ids in by_time.items():
        for item, partner in _with_partners(session, at, CatalogItem.id.in_(item_ids)):
            found[(item.id, at)] = (item, partner)
    return found


def items_by_partner_skus(
    session: Session, keys: Sequence[tuple[str, str, datetime]]
) -> dict[tuple[str, str, datetime], ItemWithPartner]:
    """Items by ``(partner code, sku, as_of)``, as ``items_by_ids``: one statement per
    pricing instant, whatever the number of keys."""
    found: dict[tuple[str, str, datetime], ItemWithPartner] = {}
    by_time: dict[datetime, list[tuple[str, str]]] = {}
    for code, sku, at in keys:
        by_time.setdefault(at, []).append((code, sku))
    for at, pairs in by_time.items():
        wanted = or_(
            *(and_(Partner.code == code, CatalogItem.sku == sku) for code, sku in set(pairs))
        )
        for item, partner in _with_partners(session, at, wanted):
            found[(partner.code, item.sku, at)] = (item, partner)
    return found


def _with_partners(
    session: Session, at: datetime, condition: ColumnElement[bool]
) -> list[ItemWithPartner]:
    points = effective_points(at).label("points")
    rows = session.execute(
        select(CatalogItem, points, Partner)
        .join(Partner, Partner.id == CatalogItem.partner_id)
        .where(condition)
    ).all()
    return [
        (item_view(item, item_points), partner_view(partner)) for item, item_points, partner in rows
    ]


def redeemable_item(
    session: Session, partner_id: int, item_id: int, at: datetime
) -> tuple[str, int, str] | None:
    """``(sku, effective points, kind)`` of an available item of this partner's own
    catalogue."""
    row = session.execute(
        select(CatalogItem.sku, effective_points(at), CatalogItem.kind).where(
            CatalogItem.id == item_id,
            CatalogItem.partner_id == partner_id,
            CatalogItem.available.is_(True),
        )
    ).first()
    return None if row is None else (row[0], int(row[1]), row[2])


def charity_project(session: Session, partner_id: int, item_id: int) -> int | None:
    """The id of an available CHARITY item of this partner, or None."""
    found = session.execute(
        select(CatalogItem.id).where(
            CatalogItem.id == item_id,
            CatalogItem.partner_id == partner_id,
            CatalogItem.kind == "CHARITY",
            CatalogItem.available.is_(True),
        )
    ).scalar_one_or_none()
    return None if found is None else int(found)


CatalogSlice = tuple[int, int, str | None, datetime]  # partner id, limit, after sku, as of


def partner_catalogs(
    session: Session, keys: Sequence[CatalogSlice]
) -> dict[CatalogSlice, list[ItemView]]:
    """Each partner's available items by SKU after ``after sku``, ``limit + 1`` of them, for
    many partners in one window-function query per distinct (limit, after, as of)."""
    found: dict[CatalogSlice, list[ItemView]] = {key: [] for key in keys}
    groups: dict[tuple[int, str | None, datetime], list[int]] = {}
    for partner_id, limit, after, at in keys:
        groups.setdefault((limit, after, at), []).append(partner_id)
    for (limit, after, at), partner_ids in groups.items():
        rank = func.row_number().over(partition_by=CatalogItem.partner_id, order_by=CatalogItem.sku)
        ranked = select(
            CatalogItem, effective_points(at).label("points"), rank.label("rank")
        ).where(CatalogItem.partner_id.in_(partner_ids), CatalogItem.available.is_(True))
        if after is not None:
            ranked = ranked.where(CatalogItem.sku > after)
        window = ranked.subquery()
        rows = session.execute(
            select(window)
            .where(window.c.rank <= limit + 1)
            .order_by(window.c.partner_id, window.c.sku)
        ).all()
        for row in rows:
            view = item_view(row, row.points)
            found[(row.partner_id, limit, after, at)].append(view)
    return found
