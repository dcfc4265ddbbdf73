"""The green register: a partner registers the products it sells as green, with an
eco-certificate reference; the operator verifies or rejects each one. Green is a fact the
operator verified, never the partner's word: only a VERIFIED SKU earns the green bonus or
shows green in the catalogue."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from core.db import insert_if_absent
from partners.errors import PartnerError
from partners.models import CatalogItem, GreenDecision, GreenProduct, GreenStatus


class InvalidGreenProduct(PartnerError):
    def __init__(self, message: str, field: list[str]) -> None:
        super().__init__(message)
        self.field = field


class GreenProductNotFound(PartnerError):
    code = "NOT_FOUND"

    def __init__(self) -> None:
        super().__init__("no such green product")
        self.field = ["greenProductId"]


@dataclass(frozen=True, slots=True)
class GreenView:
    id: int
    partner_id: int
    sku: str
    name: str
    certificate_ref: str
    status: str
    registered_at: datetime
    decided_at: datetime | None


def _view(row: GreenProduct) -> GreenView:
    return GreenView(
        row.id,
        row.partner_id,
        row.sku,
        row.name,
        row.certificate_ref,
        row.status,
        row.registered_at,
        row.decided_at,
    )


def _text(field: str, value: str, longest: int) -> str:
    if not value.strip() or len(value) > longest:
        raise InvalidGreenProduct(f"{field} must be 1-{longest} characters", [field])
    return value.strip()


def _record(
    session: Session, row: GreenProduct, client_id: str, note: str | None, now: datetime
) -> None:
    session.add(
        GreenDecision(
            product_id=row.id,
            status=row.status,
            certificate_ref=row.certificate_ref,
            client_id=client_id,
            note=note,
            at=now,
        )
    )
    session.flush()


def _ungreen(session: Session, partner_id: int, sku: str, now: datetime) -> None:
    session.execute(
        update(CatalogItem)
        .where(CatalogItem.partner_id == partner_id, CatalogItem.sku == sku, CatalogItem.green)
        .values(green=False, updated_at=now)
    )


def register_green_product(
    session: Session,
    *,
    partner_id: int,
    sku: str,
    name: str,
    certificate_ref: str,
    client_id: str,
    now: datetime,
) -> GreenView:
    """Register (or register again, with a new certificate) a product as green: PENDING
    until the operator decides. Registering again what is already verified with the same
    name and certificate changes nothing."""
    sku = _text("sku", sku, 64)
    name = _text("name", name, 200)
    certificate_ref = _text("certificateRef", certificate_ref, 128)
    inserted = insert_if_absent(
        session,
        cast(Table, GreenProduct.__table__),
        {
            "partner_id": partner_id,
            "sku": sku,
            "name": name,
            "certificate_ref": certificate_ref,
            "status": GreenStatus.PENDING.value,
            "registered_at": now,
            "decided_at": None,
        },
        conflict_on=["partner_id", "sku"],
    )
    row = session.execute(
        select(GreenProduct)
        .where(GreenProduct.partner_id == partner_id, GreenProduct.sku == sku)
        .with_for_update()
    ).scalar_one()
    unchanged = (row.name, row.certificate_ref) == (name, certificate_ref)
    if inserted:
        _record(session, row, client_id, None, now)
    elif not unchanged or row.status == GreenStatus.REJECTED:
        if row.status == GreenStatus.VERIFIED:
            _ungreen(session, partner_id, sku, now)
        row.name, row.certificate_ref = name, certificate_ref
        row.status, row.registered_at, row.decided_at = GreenStatus.PENDING, now, None
        _record(session, row, client_id, None, now)
    return _view(row)


def decide_green_product(
    session: Session,
    *,
    product_id: int,
    verified: bool,
    note: str | None,
    client_id: str,
    now: datetime,
) -> GreenView:
    """The operator verifies or rejects a registered product; the decision is audited. A
    rejection (or a verification withdrawn) un-greens the partner's catalogue items at
    once."""
    if note is not None and len(note) > 200:
        raise InvalidGreenProduct("note must be at most 200 characters", ["note"])
    row = session.execute(
        select(GreenProduct).where(GreenProduct.id == product_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise GreenProductNotFound()
    row.status = GreenStatus.VERIFIED if verified else GreenStatus.REJECTED
    row.decided_at = now
    if not verified:
        _ungreen(session, row.partner_id, row.sku, now)
    _record(session, row, client_id, note, now)
    return _view(row)


def verified_green(session: Session, partner_id: int, skus: Collection[str]) -> set[str]:
    """Which of ``skus`` are verified green for this partner."""
    if not skus:
        return set()
    return set(
        session.execute(
            select(GreenProduct.sku).where(
                GreenProduct.partner_id == partner_id,
                GreenProduct.sku.in_(list(set(skus))),
                GreenProduct.status == GreenStatus.VERIFIED,
            )
        ).scalars()
    )


def green_products_page(
    session: Session,
    *,
    partner_id: int | None,
    status: str | None,
    limit: int,
    after_id: int | None,
) -> list[GreenView]:
    """Up to ``limit + 1`` registered products by id after ``after_id``: one partner's, or
    (``partner_id`` None) every partner's."""
    query = select(GreenProduct).order_by(GreenProduct.id).limit(limit + 1)
    if partner_id is not None:
        query = query.where(GreenProduct.partner_id == partner_id)
    if status is not None:
        query = query.where(GreenProduct.status == status)
    if after_id is not None:
        query = query.where(GreenProduct.id > after_id)
    return [_view(row) for row in session.execute(query).scalars()]
