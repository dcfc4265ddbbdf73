"""Per-test databases on the store under test (HUB_TEST_STORE=sqlite|postgresql).

Migrations run once per session into a template; each test gets a copy:
a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from core.db import Database, utcnow
from hub.migrate import upgrade
from hub.oauth2.keys import ensure_signing_key

STORE = os.environ.get("HUB_TEST_STORE", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get(
    "HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


TEST_SECRET_KEY = "test-secret-key-not-for-production"


def migrate_with_signing_key(url: str) -> None:
    """What ``alliance-hub migrate`` does: the schema, then the first signing key."""
    upgrade(url)

    async def run() -> None:
        database = Database(url)
        await database.write(ensure_signing_key, TEST_SECRET_KEY, utcnow())
        await database.dispose()

    asyncio.run(run())


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(POSTGRES_ADMIN_URL), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_unreachable_reason() -> str | None:
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        return f"PostgreSQL at {make_url(POSTGRES_ADMIN_URL).host} is unreachable ({error})"
    return None


class Templates:
    """The migrated template for this session and the per-test copies made from it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.suffix = uuid.uuid4().hex[:10]
        self.template: str | None = None
        self.databases: list[str] = []

    def _postgres_url(self, name: str) -> str:
        return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def _ensure_template(self) -> str:
        if self.template is None:
            if STORE == "postgresql":
                name = f"alliance_tpl_{self.suffix}"
                asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
                self.databases.append(name)
                migrate_with_signing_key(self._postgres_url(name))
                self.template = name
            else:
                path = self.workdir / "template.db"
                migrate_with_signing_key(f"sqlite:///{path}")
                self.template = str(path)
        return self.template

    def new_database(self) -> str:
        template = self._ensure_template()
        if STORE == "postgresql":
            name = f"alliance_t_{self.suffix}_{len(self.databases)}"
            asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            self.databases.append(name)
            return self._postgres_url(name)
        path = self.workdir / f"test-{uuid.uuid4().hex[:8]}.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"

    def empty_database(self) -> str:
        """A database with no tables, for migration tests."""
        if STORE == "postgresql":
            name = f"alliance_e_{self.suffix}_{len(self.databases)}"
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
            self.databases.append(name)
            return self._postgres_url(name)
        return f"sqlite:///{self.workdir / f'empty-{uuid.uuid4().hex[:8]}.db'}"

    def drop(self, url: str) -> None:
        if STORE == "postgresql":
            name = make_url(url).database
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self.databases.remove(str(name))
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(make_url(url).database + suffix).unlink(missing_ok=True)  # type: ignore[operator]

    def drop_all(self) -> None:
        if STORE == "postgresql":
            for name in reversed(self.databases):
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(self.workdir, ignore_errors=True)
