from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from core.db import Base, normalise_url
from hub.migrate import alembic_config, upgrade
from hub.models import import_all_models
from tests.stores import Templates


def _differences(url: str) -> list[object]:
    import asyncio

    import_all_models()

    def compare(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async def run() -> list[object]:
        engine = create_async_engine(normalise_url(url), poolclass=pool.NullPool)
        async with engine.connect() as connection:
            found = await connection.run_sync(compare)
        await engine.dispose()
        return found

    return asyncio.run(run())


def test_migrations_create_exactly_the_models(templates: Templates) -> None:
    url = templates.empty_database()
    upgrade(url)

    assert _differences(url) == []


def test_migrations_downgrade_to_nothing_and_upgrade_again(templates: Templates) -> None:
    url = templates.empty_database()
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    upgrade(url)

    assert _differences(url) == []


def test_an_unmigrated_database_differs_from_the_models(templates: Templates) -> None:
    url = templates.empty_database()

    assert len(_differences(url)) > 0


def test_migration_0037_links_refunds_and_clawbacks_to_their_originals(
    templates: Templates,
) -> None:
    """Rows written before 0037 get the links the ledger now writes: a refund names its
    redemption, a void the transfer that held the points, a clawback that took points back
    the earn of the reversed lot; a
    clawback debt recorded before stays unlinked, settled as it was (docs/settlement.md)."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select
    from sqlalchemy.orm import Session, aliased

    import ledger
    from core.db import Database
    from ledger.models import Transfer
    from partners.registry import add_partner

    url = templates.empty_database()
    upgrade(url)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    later = at + timedelta(days=365)

    def key(name: str) -> ledger.IdempotencyKey:
        return ledger.IdempotencyKey("test", name)

    def setup(session: Session) -> int:
        ledger.open_member_accounts(session, 1, at)
        return add_partner(session, code="p1", name="P", legal_entity="", now=at).id

    async def play(database: Database) -> None:
        partner = await database.write(setup)
        step = database.write
        first = await step(
            ledger.earn, key("e1"), member_id=1, partner_id=partner, points=100,
            order_ref="o1", expires_at=later, now=at,
        )  # fmt: skip
        spent = await step(
            ledger.redeem, key("r1"), member_id=1, partner_id=partner, amount=60, now=at
        )
        await step(ledger.refund, key("f1"), hold_id=spent.hold_id, now=at + timedelta(hours=1))
        held = await step(
            ledger.reserve, key("h1"), member_id=1, partner_id=partner, amount=10,
            now=at + timedelta(hours=1), deadline=at + timedelta(hours=2),
        )  # fmt: skip
        await step(ledger.void, key("v1"), hold_id=held.hold_id, now=at + timedelta(hours=1))
        await step(ledger.reverse_earn, key("c1"), lot_id=first.lot_id, now=at + timedelta(hours=2))
        second = await step(
            ledger.earn, key("e2"), member_id=1, partner_id=partner, points=50,
            order_ref="o2", expires_at=later, now=at + timedelta(hours=3),
        )  # fmt: skip
        await step(
            ledger.redeem, key("r2"), member_id=1, partner_id=partner, amount=50,
            now=at + timedelta(hours=3),
        )  # fmt: skip
        await step(
            ledger.reverse_earn, key("c2"), lot_id=second.lot_id, now=at + timedelta(hours=4)
        )

    def links(session: Session) -> dict[int, tuple[str, str, Any]]:
        """Each transfer's code, debit and link: (original id, original's time) or None."""
        original = aliased(Transfer)
        rows = session.execute(
            select(
                Transfer.id, Transfer.code, Transfer.debit_account_id,
                Transfer.original_transfer_id, Transfer.original_at, original.created_at,
            ).outerjoin(original, original.id == Transfer.original_transfer_id)
        )  # fmt: skip
        found = {}
        for id_, code, debit, original_id, original_at, then in rows:
            assert original_at == then  # the copy of the original's time
            found[id_] = (code, debit, None if original_id is None else (original_id, then))
        return found

    async def write() -> dict[int, Any]:
        database = Database(url, pool_size=1)
        try:
            await play(database)
            return await database.read(links)
        finally:
            await database.dispose()

    async def read() -> dict[int, Any]:
        database = Database(url, pool_size=1)
        try:
            return await database.read(links)
        finally:
            await database.dispose()

    written = asyncio.run(write())
    command.downgrade(alembic_config(url), "0037-1")  # the links go with their column
    upgrade(url)
    backfilled = asyncio.run(read())
    linked = {i for i, (code, _, original) in written.items() if original is not None}
    codes = sorted(written[i][0] for i in linked)
    assert codes == ["clawback", "clawback", "refund", "void"], written
    debt = {i for i, (code, debit, _) in written.items() if debit.endswith(":debt")}
    assert len(debt) == 1  # the second reversal's debt, with its own link
    assert backfilled == {
        i: (code, debit, None if i in debt else original)
        for i, (code, debit, original) in written.items()
    }


def test_migration_0042_replaces_one_sided_honest_phrases(templates: Templates) -> None:
    """0042 removes the one-sided phrases 0039 seeded (金黄 covers no term now) while still as
    seeded, keeps one the operator kept again, adds the phrases holding both sides; the
    downgrade puts them back."""
    import asyncio
    from datetime import UTC, datetime

    import sqlalchemy as sa

    phrases = sa.table("compliance_honest_phrases", sa.column("phrase"), sa.column("updated_at"))
    url = templates.empty_database()

    async def run(statement: Any) -> set[str]:
        engine = create_async_engine(normalise_url(url), poolclass=pool.NullPool)
        async with engine.begin() as connection:
            result = await connection.execute(statement)
            found = set(result.scalars()) if result.returns_rows else set()
        await engine.dispose()
        return found

    listed = sa.select(phrases.c.phrase)
    command.upgrade(alembic_config(url), "0039")
    asyncio.run(
        run(
            phrases.update()
            .where(phrases.c.phrase == "外套")
            .values(updated_at=datetime(2026, 12, 1, tzinfo=UTC))
        )
    )
    upgrade(url)
    upgraded = asyncio.run(run(listed))
    command.downgrade(alembic_config(url), "0039")
    downgraded = asyncio.run(run(listed))

    assert {"外套", "口红", "呈现金黄", "外套现货", "补充值得信赖"} <= upgraded
    assert not {"金黄", "补充", "卡路里"} & upgraded
    assert {"外套", "金黄", "补充", "卡路里", "口红"} <= downgraded
    assert not {"呈现金黄", "补充值得信赖"} & downgraded
