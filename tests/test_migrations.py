from __future__ import annotations

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
