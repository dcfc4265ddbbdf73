"""``alliance-hub tiers evaluate``: batches, a re-run of the same day changes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import Database, utcnow
from hub.cli import main
from members.models import Member, MemberTier, TierChange
from members.tiers import TierInput, set_tier_schedule


def _seed(url: str) -> None:
    now = utcnow()

    def seed(session: Session) -> None:
        set_tier_schedule(
            session,
            effective_at=now - timedelta(days=1),
            tiers=[
                TierInput("BASIC", "Basic", 0, 0, "1", []),
                TierInput("GOLD", "Gold", 10, 0, "2", []),
            ],
            now=now - timedelta(days=9),
            notice=timedelta(days=7),
        )
        for qualified_days_ago in (800, 900, 10):
            member = Member(status="ACTIVE", created_at=now - timedelta(days=1000))
            session.add(member)
            session.flush()
            session.add(
                MemberTier(
                    member_id=member.id,
                    tier_code="GOLD",
                    tier_rank=1,
                    since=now - timedelta(days=qualified_days_ago),
                    qualified_at=now - timedelta(days=qualified_days_ago),
                )
            )

    async def run() -> None:
        database = Database(url)
        await database.write(seed)
        await database.dispose()

    asyncio.run(run())


def _changes(url: str) -> list[tuple[str, str]]:
    async def run() -> list[tuple[str, str]]:
        database = Database(url)

        def read(session: Session) -> list[tuple[str, str]]:
            return [
                (row.to_code, row.reason)
                for row in session.execute(select(TierChange).order_by(TierChange.id)).scalars()
            ]

        try:
            return await database.read(read)
        finally:
            await database.dispose()

    return asyncio.run(run())


def test_tiers_evaluate_lowers_the_due_members_once_a_day(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed(database_url)
    day = utcnow().date().isoformat()

    first = main(["tiers", "evaluate", "--database-url", database_url, "--batch-size", "1"])
    again = main(["tiers", "evaluate", "--database-url", database_url, "--day", day])
    bad = main(["tiers", "evaluate", "--database-url", database_url, "--day", "30/11/2026"])

    assert (first, again, bad) == (0, 0, 1)
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"evaluated 2 members due on {day}: 2 moved down, 0 kept their tier",
        f"evaluated 0 members due on {day}: 0 moved down, 0 kept their tier",
    ]
    assert "is not a day" in captured.err
    assert _changes(database_url) == [("BASIC", "DOWNGRADE"), ("BASIC", "DOWNGRADE")]


def test_the_demo_alliance_has_the_programme(
    database_url: str, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    from members.models import BasketBonusUse, CreditSchedule, Perk, TierSchedule

    assert (
        main(
            [
                "demo",
                "--database-url",
                database_url,
                "--credentials",
                str(Path(str(tmp_path)) / "c.json"),
            ]
        )
        == 0
    )

    async def run() -> dict[str, object]:
        database = Database(database_url)

        def read(session: Session) -> dict[str, object]:
            tiers = sorted(session.execute(select(MemberTier.tier_code)).scalars())
            return {
                "tiers": tiers,
                "schedules": len(session.execute(select(TierSchedule.id)).all()),
                "credit": len(session.execute(select(CreditSchedule.id)).all()),
                "perks": len(session.execute(select(Perk.id)).all()),
                "baskets": len(session.execute(select(BasketBonusUse.id)).all()),
            }

        try:
            return await database.read(read)
        finally:
            await database.dispose()

    found = asyncio.run(run())
    assert found["schedules"] == found["credit"] == 1
    assert found["perks"] == 2
    assert found["baskets"] == 5  # each member's snacks-and-drinks order at the mart
    assert len(set(found["tiers"])) >= 3, found  # type: ignore[arg-type]
