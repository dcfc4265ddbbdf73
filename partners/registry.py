"""The partner registry: onboarding, listing and suspension."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import ledger
from compliance.errors import ComplianceViolation
from compliance.rules import active_partner
from partners.errors import (
    InvalidCompensationCap,
    InvalidPartnerCode,
    InvalidPartnerKind,
    InvalidPartnerName,
    PartnerCodeTaken,
    PartnerNotFound,
)
from partners.models import (
    DEFAULT_COMPENSATION_CAP_PERCENT,
    Partner,
    PartnerKind,
    PartnerStatus,
)

CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


@dataclass(frozen=True, slots=True)
class PartnerView:
    id: int
    code: str
    name: str
    legal_entity: str
    status: str
    kind: str = PartnerKind.MERCHANT.value
    compensation_cap_percent: int = DEFAULT_COMPENSATION_CAP_PERCENT


def partner_view(partner: Partner) -> PartnerView:
    return PartnerView(
        partner.id,
        partner.code,
        partner.name,
        partner.legal_entity,
        partner.status,
        partner.kind,
        partner.compensation_cap_percent,
    )


def add_partner(
    session: Session,
    *,
    code: str,
    name: str,
    legal_entity: str,
    now: datetime,
    kind: str = PartnerKind.MERCHANT.value,
) -> PartnerView:
    """Register an active partner and open its ledger accounts. Only the operator creates
    partners, so a partner's kind (a registered CHARITY, CR-06) is the operator's word."""
    if kind not in PartnerKind.__members__:
        raise InvalidPartnerKind(kind)
    if not CODE.fullmatch(code):
        raise InvalidPartnerCode(code)
    if not name.strip() or len(name) > 200 or len(legal_entity) > 200:
        raise InvalidPartnerName()
    if session.execute(select(Partner.id).where(Partner.code == code)).first() is not None:
        raise PartnerCodeTaken(code)
    partner = Partner(
        code=code,
        name=name.strip(),
        legal_entity=legal_entity.strip() or name.strip(),
        status=PartnerStatus.ACTIVE,
        kind=kind,
        compensation_cap_percent=DEFAULT_COMPENSATION_CAP_PERCENT,
        created_at=now,
    )
    session.add(partner)
    session.flush()
    ledger.open_partner_accounts(session, partner.id, now)
    return partner_view(partner)


def find_partner(session: Session, code: str) -> PartnerView:
    partner = session.execute(select(Partner).where(Partner.code == code)).scalar_one_or_none()
    if partner is None:
        raise PartnerNotFound(code)
    return partner_view(partner)


def list_partners(session: Session) -> Sequence[PartnerView]:
    return [
        partner_view(p) for p in session.execute(select(Partner).order_by(Partner.code)).scalars()
    ]


def partners_page(
    session: Session, *, limit: int, after_code: str | None, include_suspended: bool
) -> list[PartnerView]:
    """Up to ``limit + 1`` partners by code after ``after_code`` (one extra tells whether
    another page follows)."""
    query = select(Partner).order_by(Partner.code).limit(limit + 1)
    if after_code is not None:
        query = query.where(Partner.code > after_code)
    if not include_suspended:
        query = query.where(Partner.status == PartnerStatus.ACTIVE)
    return [partner_view(p) for p in session.execute(query).scalars()]


def partners_by_ids(session: Session, ids: Sequence[int]) -> dict[int, PartnerView]:
    rows = session.execute(select(Partner).where(Partner.id.in_(list(ids)))).scalars()
    return {p.id: partner_view(p) for p in rows}


def partners_by_codes(session: Session, codes: Sequence[str]) -> dict[str, PartnerView]:
    """Partners by code, any status, in one statement."""
    rows = session.execute(select(Partner).where(Partner.code.in_(list(codes)))).scalars()
    return {p.code: partner_view(p) for p in rows}


def suspend_partner(session: Session, code: str, now: datetime) -> PartnerView:
    """Suspend a partner. Its clients' live tokens stop working at once (the bearer check
    reads the partner's status on every request) and it can get no new ones."""
    found = session.execute(
        update(Partner)
        .where(Partner.code == code)
        .values(status=PartnerStatus.SUSPENDED, suspended_at=now)
        .returning(Partner.id)
    ).first()
    if found is None:
        raise PartnerNotFound(code)
    return find_partner(session, code)


def require_active(session: Session, partner_id: int) -> None:
    """CR-04: only an active partner of this alliance issues or honours points. (Over the
    API a suspended partner cannot even authenticate; this guards the CLI and jobs too.)"""
    status = session.execute(
        select(Partner.status).where(Partner.id == partner_id)
    ).scalar_one_or_none()
    violation = active_partner(status or "UNKNOWN")
    if violation is not None:
        raise ComplianceViolation(violation)


MAX_COMPENSATION_CAP_PERCENT = 1000


def set_compensation_cap(session: Session, code: str, cap_percent: int) -> PartnerView:
    """The operator's policy (CR-12): the compensation points a partner may issue with a
    refund, in percent of the points the refund restores (100 by default, 0 for none)."""
    if type(cap_percent) is not int or not 0 <= cap_percent <= MAX_COMPENSATION_CAP_PERCENT:
        raise InvalidCompensationCap()
    found = session.execute(
        update(Partner)
        .where(Partner.code == code)
        .values(compensation_cap_percent=cap_percent)
        .returning(Partner.id)
    ).first()
    if found is None:
        raise PartnerNotFound(code)
    return find_partner(session, code)
