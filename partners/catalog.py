"""Partners' catalogues and the unified catalogue across every active partner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import insert as insert_rows
from sqlalchemy.orm import Session

from compliance.aml import screened_kind
from compliance.audit import record_blocked
from compliance.errors import ComplianceViolation
from compliance.rules import catalogue_item_allowed, equal_service, registered_charity
from compliance.vocabulary import normalise, vocabulary
from core.db import dialect_insert
from partners.errors import PartnerError
from partners.green import verified_green
from partners.models import (
    CatalogItem,
    CatalogItemKind,
    Partner,
    PartnerStatus,
    Promotion,
    ScheduledPrice,
)
from partners.registry import PartnerView, partner_view

MAX_ITEMS_PER_CALL = 500
# The operator's notice period for a price increase (CR-07), unless HUB_PRICE_NOTICE_DAYS.
DEFAULT_PRICE_NOTICE = timedelta(days=7)
MAX_POINTS = 2**31 - 1


class InvalidItem(PartnerError):
    def __init__(self, message: str, field: list[str]) -> None:
        super().__init__(message)
        self.field = field


class ItemNotFound(PartnerError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such catalogue item")
        self.field = ["catalogItemId"]


@dataclass(frozen=True, slots=True)
class ServiceTerms:
    """A service's terms, shown in the catalogue (CR-13): how long a redemption stays
    valid, and whether it is usable in the same time slots and dates as a paid one."""

    valid_days: int
    same_slots_as_paid: bool = True


MAX_VALID_DAYS = 3650
SERVICE_KINDS = ("SERVICE", "VOUCHER")


@dataclass(frozen=True, slots=True)
class ItemInput:
    sku: str
    title: str
    category: str
    kind: str
    green: bool
    base_points: int
    available: bool = True
    service_terms: ServiceTerms | None = None


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
    terms = item.service_terms
    if terms is None and item.kind == "SERVICE":
        raise refuse("serviceTerms", "a service states its terms (validDays)")
    if terms is not None:
        if item.kind not in SERVICE_KINDS:
            raise refuse("serviceTerms", "only a SERVICE or VOUCHER item has service terms")
        if type(terms.valid_days) is not int or not 1 <= terms.valid_days <= MAX_VALID_DAYS:
            raise InvalidItem(
                f"validDays must be 1 to {MAX_VALID_DAYS}",
                ["items", str(index), "serviceTerms", "validDays"],
            )
    # CR-13 for every kind: a GOODS "ticket, off-peak only" is restricted all the same.
    if terms is not None:
        violation = equal_service([], terms.same_slots_as_paid)
        if violation is not None:
            raise ComplianceViolation(violation, ["items", str(index), "serviceTerms"])
    for field, text in (("title", item.title), ("category", item.category)):
        violation = equal_service([text], True)
        if violation is not None:
            raise ComplianceViolation(violation, ["items", str(index), field])
    violation = catalogue_item_allowed(item.kind)
    if violation is not None:
        raise ComplianceViolation(violation, ["items", str(index), "kind"])


def upsert_items(
    session: Session,
    partner_id: int,
    items: Sequence[ItemInput],
    now: datetime,
    notice: timedelta = DEFAULT_PRICE_NOTICE,
) -> list[tuple[int, str]]:
    """Publish or update items by SKU. Every item is checked first; if any is refused,
    nothing is written. A new price of a published item is published ahead (CR-07): a
    decrease applies at once, an increase only after ``notice`` (the operator's notice
    period). Returns ``(id, sku)`` in input order."""
    if not 1 <= len(items) <= MAX_ITEMS_PER_CALL:
        raise InvalidItem(f"send 1 to {MAX_ITEMS_PER_CALL} items per call", ["items"])
    skus = [item.sku for item in items]
    if len(set(skus)) != len(skus):
        raise InvalidItem("each sku may appear once per call", ["items"])
    for index, item in enumerate(items):
        _check(index, item)
    kind = session.execute(select(Partner.kind).where(Partner.id == partner_id)).scalar_one()
    words = vocabulary(session)
    for index, item in enumerate(items):
        violation = registered_charity(kind) if item.kind == "CHARITY" else None
        if violation is not None:
            raise ComplianceViolation(violation, ["items", str(index), "kind"])
        found = words.first([("title", item.title), ("category", item.category)]) or words.first(
            [("sku", item.sku)]
        )
        if found is not None:
            raise ComplianceViolation(found[1], ["items", str(index), found[0]])
    green = verified_green(session, partner_id, [item.sku for item in items if item.green])
    table = cast(Table, CatalogItem.__table__)
    insert = dialect_insert(session.get_bind().dialect.name, table).values(
        [
            {
                "partner_id": partner_id,
                "sku": item.sku,
                "title": item.title.strip(),
                "category": normalise(item.category),
                "kind": item.kind,
                # Green only for a SKU the operator verified green for this partner.
                "green": item.green and item.sku in green,
                "base_points": item.base_points,
                "available": item.available,
                "service_valid_days": None
                if item.service_terms is None
                else item.service_terms.valid_days,
                "created_at": now,
                "updated_at": now,
            }
            for item in items
        ]
    )
    upsert = insert.on_conflict_do_update(
        index_elements=["partner_id", "sku"],
        set_={
            **{
                column: insert.excluded[column]
                for column in (
                    "title",
                    "category",
                    "kind",
                    "green",
                    "service_valid_days",
                    "updated_at",
                )
            },
            # An item the operator withdrew stays withdrawn.
            "available": case(
                (table.c.withdrawn_at.is_(None), insert.excluded.available), else_=False
            ),
        },
    ).returning(table.c.id, table.c.sku)
    ids = {sku: item_id for item_id, sku in session.execute(upsert)}
    _schedule_prices(session, [(ids[item.sku], item.base_points) for item in items], now, notice)
    return [(ids[sku], sku) for sku in skus]


def _schedule_prices(
    session: Session, wanted: Sequence[tuple[int, int]], now: datetime, notice: timedelta
) -> None:
    """Publish each ``(item id, base points)`` ahead. Runs after the upsert locked the
    items' rows, so two racing publications of one item apply one after the other. A new
    publication replaces what was still pending; publishing the pending increase again
    keeps its date."""
    item_ids = [item_id for item_id, _ in wanted]
    current = dict(
        session.execute(
            select(CatalogItem.id, base_points(now)).where(CatalogItem.id.in_(item_ids))
        ).all()
    )
    pending: dict[int, list[int]] = {}
    for item_id, points in session.execute(
        select(ScheduledPrice.item_id, ScheduledPrice.points).where(
            ScheduledPrice.item_id.in_(item_ids), ScheduledPrice.effective_at > now
        )
    ):
        pending.setdefault(item_id, []).append(points)
    superseded, scheduled = [], []
    for item_id, points in wanted:
        base = int(current[item_id])
        if points > base and pending.get(item_id) == [points]:
            continue
        if item_id in pending:
            superseded.append(item_id)
        if points != base:
            effective = now if points < base else now + notice
            scheduled.append(
                {"item_id": item_id, "points": points, "effective_at": effective, "created_at": now}
            )
    if superseded:
        session.execute(
            delete(ScheduledPrice).where(
                ScheduledPrice.item_id.in_(superseded), ScheduledPrice.effective_at > now
            )
        )
    if scheduled:
        session.execute(insert_rows(ScheduledPrice), scheduled)


@dataclass(frozen=True, slots=True)
class PriceView:
    item_id: int
    points: int
    effective_at: datetime


def scheduled_prices(
    session: Session, keys: Sequence[tuple[int, datetime]]
) -> dict[tuple[int, datetime], list[PriceView]]:
    """Each ``(item id, as of)``'s base prices published to take effect later."""
    found: dict[tuple[int, datetime], list[PriceView]] = {key: [] for key in keys}
    by_time: dict[datetime, list[int]] = {}
    for item_id, at in keys:
        by_time.setdefault(at, []).append(item_id)
    for at, item_ids in by_time.items():
        rows = session.execute(
            select(ScheduledPrice)
            .where(ScheduledPrice.item_id.in_(item_ids), ScheduledPrice.effective_at > at)
            .order_by(ScheduledPrice.item_id, ScheduledPrice.effective_at)
        ).scalars()
        for row in rows:
            found[(row.item_id, at)].append(PriceView(row.item_id, row.points, row.effective_at))
    return found


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
    service_valid_days: int | None = None


def item_view(item: Any, points: int, base: int) -> ItemView:
    """An ItemView from a CatalogItem (or a row with its columns) priced at ``points``, its
    base price then ``base``."""
    return ItemView(
        item.id,
        item.partner_id,
        item.sku,
        item.title,
        item.category,
        item.kind,
        item.green,
        int(base),
        int(points),
        item.available,
        item.created_at,
        item.service_valid_days,
    )


@dataclass(frozen=True, slots=True)
class CatalogQuery:
    partner_codes: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    green: bool | None = None
    max_points: int | None = None
    search: str | None = None


SORTS = ("POINTS_ASC", "POINTS_DESC", "NEWEST")


def base_points(as_of: datetime | ColumnElement[Any]) -> ColumnElement[int]:
    """The base price in force at ``as_of``: the latest published price effective by then
    (CR-07), else the price the item was first published at."""
    scheduled = (
        select(ScheduledPrice.points)
        .where(ScheduledPrice.item_id == CatalogItem.id, ScheduledPrice.effective_at <= as_of)
        .order_by(ScheduledPrice.effective_at.desc(), ScheduledPrice.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(scheduled, CatalogItem.base_points)


def effective_points(as_of: datetime | ColumnElement[Any]) -> ColumnElement[int]:
    """The price at ``as_of``: the lower of the base price and a running promotion's (the
    lowest if promotions overlap), so a promotion never costs more than the base (CR-09)."""
    running = (
        select(func.min(Promotion.points))
        .where(
            Promotion.item_id == CatalogItem.id,
            Promotion.starts_at <= as_of,
            Promotion.ends_at > as_of,
        )
        .scalar_subquery()
    )
    base = base_points(as_of)
    return case((running < base, running), else_=base)


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
        select(CatalogItem, points, base_points(as_of).label("base"), Partner)
        .join(Partner, Partner.id == CatalogItem.partner_id)
        .where(Partner.status == PartnerStatus.ACTIVE, CatalogItem.available.is_(True))
    )
    if query.partner_codes is not None:
        statement = statement.where(Partner.code.in_(query.partner_codes))
    if query.categories is not None:
        statement = statement.where(
            CatalogItem.category.in_([normalise(category) for category in query.categories])
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
            item_view(item, item_points, base),
            PartnerView(
                partner.id,
                partner.code,
                partner.name,
                partner.legal_entity,
                partner.status,
                partner.kind,
                partner.compensation_cap_percent,
            ),
        )
        for item, item_points, base, partner in rows
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
        select(CatalogItem, points, base_points(at).label("base"), Partner)
        .join(Partner, Partner.id == CatalogItem.partner_id)
        .where(condition)
    ).all()
    return [
        (item_view(item, item_points, base), partner_view(partner))
        for item, item_points, base, partner in rows
    ]


# Built once, the instant a bound parameter: a redemption's item read costs no statement
# construction (about 0.25 ms of CPU each time, measured).
_REDEEMABLE = select(
    CatalogItem.sku,
    effective_points(bindparam("at")),
    CatalogItem.kind,
    CatalogItem.title,
    CatalogItem.category,
).where(
    CatalogItem.id == bindparam("item_id"),
    CatalogItem.partner_id == bindparam("partner_id"),
    CatalogItem.available.is_(True),
)


def redeemable_item(
    session: Session, partner_id: int, item_id: int, at: datetime
) -> tuple[str, int, str] | None:
    """``(sku, effective points, kind)`` of an available item of this partner's own
    catalogue, the kind as AML screens it (``compliance.aml.screened_kind``: a "Snack
    voucher" declared GOODS is a VOUCHER). An item whose title, category (each alone or both
    together) or sku the operator's vocabulary refuses today (published before the term was
    added, or before the guard read bent spellings) is refused with the term's rule (CR-05
    or CR-07), so it never reaches settlement."""
    row = session.execute(
        _REDEEMABLE, {"at": at, "item_id": item_id, "partner_id": partner_id}
    ).first()
    if row is None:
        return None
    terms = vocabulary(session)
    found = terms.first([("title", row.title), ("category", row.category)]) or terms.first(
        [("sku", row.sku)]
    )
    if found is not None:
        raise ComplianceViolation(found[1], ["catalogItemId"])
    return (row[0], int(row[1]), screened_kind(row.kind, row.title, row.category))


def charity_project(session: Session, partner_id: int, item_id: int) -> int | None:
    """The id of an available CHARITY item of this partner, or None. A partner that is not
    a registered charity takes no donations (CR-06), whatever its catalogue says."""
    kind = session.execute(select(Partner.kind).where(Partner.id == partner_id)).scalar_one()
    violation = registered_charity(kind)
    if violation is not None:
        raise ComplianceViolation(violation, ["charityProjectId"])
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
            CatalogItem,
            effective_points(at).label("points"),
            base_points(at).label("base"),
            rank.label("rank"),
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
            view = item_view(row, row.points, row.base)
            found[(row.partner_id, limit, after, at)].append(view)
    return found


RULE_IDS = tuple(f"CR-{n:02d}" for n in range(1, 14))
MAX_REASON = 200


@dataclass(frozen=True, slots=True)
class Withdrawal:
    item_id: int
    partner_id: int
    sku: str
    rule: str
    withdrawn_at: datetime


def withdraw_item(
    session: Session, *, item_id: int, rule: str, reason: str, client_id: str, now: datetime
) -> Withdrawal:
    """The operator withdraws any partner's item for the rule it breaks: it is unavailable
    at once and stays so whatever the partner publishes again. The withdrawal is appended
    to the compliance audit, under the item's partner and the rule."""
    if rule not in RULE_IDS:
        raise InvalidItem("rule must be a rule id, CR-01 to CR-13", ["rule"])
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidItem(f"reason must be 1-{MAX_REASON} characters", ["reason"])
    row = session.execute(
        update(CatalogItem)
        .where(CatalogItem.id == item_id)
        .values(available=False, withdrawn_at=now, updated_at=now)
        .returning(CatalogItem.partner_id, CatalogItem.sku)
    ).first()
    if row is None:
        raise ItemNotFound()
    record_blocked(
        session,
        client_id=client_id,
        partner_id=row.partner_id,
        operation="withdrawCatalogItem",
        rule=rule,
        summary=f"item {row.sku} withdrawn: {reason.strip()}",
        now=now,
    )
    return Withdrawal(item_id, row.partner_id, row.sku, rule, now)
