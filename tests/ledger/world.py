"""A small alliance on the ledger for tests: accounts opened, short-hand operations."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import ledger
from core.db import Database
from ledger.models import Account, Hold, Lot
from ledger.results import EarnResult, RedemptionResult
from ledger.verify import Report

YEAR = timedelta(days=365)


def key(client: str = "partner-client", value: str | None = None) -> ledger.IdempotencyKey:
    return ledger.IdempotencyKey(client, value or uuid.uuid4().hex)


class World:
    def __init__(self, db: Database, now: datetime) -> None:
        self.db = db
        self.now = now

    async def open(
        self,
        members: tuple[int, ...] = (1, 2),
        partners: tuple[int, ...] = (10, 20, 30),
        charities: tuple[int, ...] = (90,),
    ) -> World:
        def run(session: Session) -> None:
            for member_id in members:
                ledger.open_member_accounts(session, member_id, self.now)
            for partner_id in partners:
                ledger.open_partner_accounts(session, partner_id, self.now)
            for charity_id in charities:
                ledger.open_charity_account(session, charity_id, self.now)

        await self.db.write(run)
        return self

    async def earn(
        self,
        member: int,
        partner: int,
        points: int,
        *,
        at: datetime | None = None,
        lifetime: timedelta = YEAR,
        **kwargs: Any,
    ) -> EarnResult:
        when = at or self.now
        kwargs.setdefault("order_ref", f"order-{uuid.uuid4().hex[:8]}")
        return await self.db.write(
            ledger.earn,
            kwargs.pop("idem", None) or key(),
            member_id=member,
            partner_id=partner,
            points=points,
            expires_at=when + lifetime,
            now=when,
            **kwargs,
        )

    async def redeem(
        self, member: int, partner: int, amount: int, *, at: datetime | None = None, **kwargs: Any
    ) -> RedemptionResult:
        return await self.db.write(
            ledger.redeem,
            kwargs.pop("idem", None) or key(),
            member_id=member,
            partner_id=partner,
            amount=amount,
            now=at or self.now,
            **kwargs,
        )

    async def reserve(
        self,
        member: int,
        partner: int,
        amount: int,
        *,
        at: datetime | None = None,
        ttl: timedelta = timedelta(minutes=15),
        **kwargs: Any,
    ) -> RedemptionResult:
        when = at or self.now
        return await self.db.write(
            ledger.reserve,
            kwargs.pop("idem", None) or key(),
            member_id=member,
            partner_id=partner,
            amount=amount,
            deadline=when + ttl,
            now=when,
            **kwargs,
        )

    async def balance(self, address: str) -> int:
        def run(session: Session) -> int:
            row = session.execute(
                select(Account.credits_posted - Account.debits_posted).where(Account.id == address)
            ).scalar_one()
            return int(row)

        return await self.db.read(run)

    async def lots(self, member: int) -> list[tuple[int, int, int]]:
        """(issuer, points, remaining) per lot of the member, oldest first."""

        def run(session: Session) -> list[tuple[int, int, int]]:
            rows = session.execute(
                select(Lot.issuer_partner_id, Lot.points, Lot.remaining)
                .where(Lot.member_id == member)
                .order_by(Lot.id)
            )
            return [(int(a), int(b), int(c)) for a, b, c in rows]

        return await self.db.read(run)

    async def lot_expiry(self, lot_id: int) -> datetime:
        def run(session: Session) -> datetime:
            return session.execute(select(Lot.expires_at).where(Lot.id == lot_id)).scalar_one()

        return await self.db.read(run)

    async def hold_status(self, hold_id: int) -> str:
        def run(session: Session) -> str:
            return session.execute(select(Hold.status).where(Hold.id == hold_id)).scalar_one()

        return await self.db.read(run)

    async def verify(self) -> Report:
        return await self.db.read(ledger.verify)
