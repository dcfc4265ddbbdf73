"""What must hold before a command or a server touches the database: the file exists
(nothing is created as a side effect of failing), the schema is at Alembic's head, and the
secret key is the one the database's secrets are under. Each failure is one line."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session

from core.config import LOCAL_SECRET_FILE, ConfigError, Settings, local_secret_key
from core.db import Database, UnsupportedDatabase, normalise_url, utcnow
from hub.migrate import alembic_config
from hub.secret_check import confirm_secret_key, database_has_keys, key_matches

MIGRATE = "run `alliance-hub migrate`"


def check_url(url: str) -> None:
    """A URL the hub can open, or a one-line ConfigError (never echoing a password)."""
    try:
        normalise_url(url)
    except ArgumentError:
        raise ConfigError(
            "HUB_DATABASE_URL (or --database-url) is not a database URL such as "
            "sqlite:///./alliance.db or postgresql://user@host/dbname"
        ) from None
    except UnsupportedDatabase as error:
        raise ConfigError(f"HUB_DATABASE_URL: {error}") from None


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database).expanduser().resolve()


def require_database_file(url: str, *, create: bool) -> None:
    """On SQLite: the directory must exist, and the file too unless ``create`` (migrate)."""
    check_url(url)
    path = sqlite_path(url)
    if path is None:
        return
    if not path.parent.is_dir():
        raise ConfigError(f"directory {path.parent} does not exist (for the database {path})")
    if not create and not path.exists():
        raise ConfigError(f"no database at {path}: {MIGRATE} first, or set HUB_DATABASE_URL")


@lru_cache(maxsize=1)
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def current_revision(session: Session) -> str | None:
    connection = session.connection()
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migration_problem(session: Session) -> str | None:
    """None when the schema is at head, else one line saying what to do."""
    current = current_revision(session)
    head = head_revision()
    if current == head:
        return None
    if current is None:
        return f"the database has no schema: {MIGRATE}"
    return f"the database is at revision {current}, not {head}: {MIGRATE}"


async def require_migrated(database: Database) -> None:
    problem = await database.read(migration_problem)
    if problem is not None:
        raise ConfigError(problem)


def no_key_here(settings: Settings) -> ConfigError:
    return ConfigError(
        f"no HUB_SECRET_KEY and no {Path(LOCAL_SECRET_FILE).resolve()}, but this database's "
        "secrets were made with a secret key: set HUB_SECRET_KEY to it, or run from the "
        "directory holding its .alliance-hub-secret"
    )


async def secret_key_for(database: Database, settings: Settings, *, may_create: bool) -> Settings:
    """The settings with a confirmed secret key. Without a configured key, development makes
    ./.alliance-hub-secret only when ``may_create`` and the database has no keys yet."""
    refusals = [line for line in settings.refusals() if "HUB_SECRET_KEY" in line]
    if refusals:
        raise ConfigError(refusals[0])
    if not settings.secret_key:
        if not may_create or await database.read(database_has_keys):
            raise no_key_here(settings)
        settings = dataclasses.replace(
            settings,
            secret_key=local_secret_key(),
            secret_source="file",  # noqa: S106
        )
    await database.write(confirm_secret_key, settings, utcnow())
    return settings


async def key_unseals(database: Database, settings: Settings) -> bool:
    """For /readyz: the configured key matches (by check value or by unsealing)."""
    if not settings.secret_key:
        return False
    return bool(await database.read(key_matches, settings.secret_key))
