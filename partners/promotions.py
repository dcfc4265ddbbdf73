"""Time-limited redemption prices for a partner's own items (CR-09)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compliance.errors import ComplianceViolation
from compliance.rules import promotion_integrity
from partners.catalog import InvalidItem, base_points
from partners.models import CatalogItem, Promotion


@dataclass(frozen=True, slots=True)
class PromotionSet:
    id: int
    item_id: int
    points: int
    starts_at: datetime
    ends_at: datetime


def set_promotion(
    session: Session,
    *,
    partner_id: int,
    item_id: int,
    points: int,
    starts_at: datetime,
    ends_at: datetime | None,
    now: datetime,
) -> PromotionSet:
    item = session.execute(
        select(base_points(now)).where(
            CatalogItem.id == item_id, CatalogItem.partner_id == partner_id
        )
    ).scalar_one_or_none()
    if item is None:
        raise InvalidItem("no such item in your catalogue", ["catalogItemId"])
    if type(points) is not int or points <= 0:
        raise InvalidItem("points must be above 0", ["points"])
    running = session.execute(
        select(func.min(Promotion.points), func.max(Promotion.ends_at)).where(
            Promotion.item_id == item_id, Promotion.starts_at <= now, Promotion.ends_at > now
        )
    ).one()
    running_points, running_until = running
    violation = promotion_integrity(
        points=points,
        base_points=int(item),
        starts_at=starts_at,
        ends_at=ends_at,
        running_points=None if running_points is None else int(running_points),
        overlaps_running=running_until is not None and starts_at < running_until,
    )
    if violation is not None:
        raise ComplianceViolation(violation, ["points" if ends_at else "endsAt"])
    assert ends_at is not None
    promotion = Promotion(
        item_id=item_id, points=points, starts_at=starts_at, ends_at=ends_at, created_at=now
    )
    session.add(promotion)
    session.flush()
    return PromotionSet(promotion.id, item_id, points, starts_at, ends_at)
