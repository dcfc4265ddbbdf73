"""The credentials' and the catalogue's versions carry a stamp, and their triggers fire
whatever the replication role, and on TRUNCATE (PostgreSQL).

Revision ID: 0041
Revises: 0038
Create Date: 2026-11-30 14:10:00.000000

A worker keeps answers behind a version (migrations 0023 and 0033) and trusted that a
version number is never reached twice. It is, after a failover that loses the last commits
or a restore from a backup: the counter goes back and the next bumps climb to a number a
worker already holds, with a different history. Every bump now also writes a fresh random
``stamp`` (``gen_random_uuid()`` on PostgreSQL, ``randomblob(16)`` on SQLite, as 32 hex
digits) and the workers compare (version, stamp): a number reached again on another
history never matches.

On PostgreSQL the row triggers are ``ENABLE ALWAYS``: they fire under
``session_replication_role = replica`` too (logical replication's apply, a restore run
in that role). TRUNCATE fires no row trigger, so a statement-level ``AFTER TRUNCATE``
trigger on each versioned table bumps as well (it runs at the TRUNCATE, not deferred to
commit: a TRUNCATE already holds its table's strongest lock). What no trigger can see is a
trigger disabled outright (``ALTER TABLE … DISABLE TRIGGER``, ``pg_restore
--disable-triggers``): docs/oauth.md says what to run after one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0041"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (version table, trigger name infix, bump function, versioned tables)
VERSIONS = (
    (
        "credential_version",
        "credential_version",
        "credential_version_bump",
        ("oauth_revoked_tokens", "oauth_clients", "partners"),
    ),
    (
        "catalog_version",
        "catalog_version",
        "catalog_version_bump",
        ("partners", "catalog_items", "catalog_promotions", "catalog_scheduled_prices"),
    ),
)
FRESH_STAMP = {
    "postgresql": "replace(gen_random_uuid()::text, '-', '')",
    "sqlite": "lower(hex(randomblob(16)))",
}
EVENTS = ("insert", "update", "delete")


def _bump(table: str, dialect: str, stamped: bool) -> str:
    stamp = f", stamp = {FRESH_STAMP[dialect]}" if stamped else ""
    # Names and expressions from the constants above, never from input.
    return f"UPDATE {table} SET version = version + 1{stamp} WHERE id = 1"  # noqa: S608


def _postgresql_function(table: str, function: str, stamped: bool) -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_bump(table, "postgresql", stamped)};
            RETURN NULL;
        END
        $$
        """
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, name, function, versioned in VERSIONS:
        if dialect == "sqlite":
            for each in versioned:
                for event in EVENTS:
                    op.execute(f"DROP TRIGGER {each}_{name}_{event}")
        op.add_column(table, sa.Column("stamp", sa.String(32), nullable=False, server_default=""))
        op.execute(f"UPDATE {table} SET stamp = {FRESH_STAMP[dialect]}")  # noqa: S608
        if dialect == "postgresql":
            op.alter_column(table, "stamp", server_default=None)
            _postgresql_function(table, function, stamped=True)
            for each in versioned:
                op.execute(f"ALTER TABLE {each} ENABLE ALWAYS TRIGGER {each}_{name}")
                op.execute(
                    f"CREATE TRIGGER {each}_{name}_truncate AFTER TRUNCATE ON {each} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
                )
                op.execute(f"ALTER TABLE {each} ENABLE ALWAYS TRIGGER {each}_{name}_truncate")
            continue
        for each in versioned:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER {each}_{name}_{event} AFTER {event.upper()} ON {each} "
                    f"BEGIN {_bump(table, dialect, stamped=True)}; END"
                )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, name, function, versioned in VERSIONS:
        if dialect == "postgresql":
            for each in versioned:
                op.execute(f"DROP TRIGGER {each}_{name}_truncate ON {each}")
                op.execute(f"ALTER TABLE {each} ENABLE TRIGGER {each}_{name}")
            _postgresql_function(table, function, stamped=False)
            op.drop_column(table, "stamp")
            continue
        for each in versioned:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER {each}_{name}_{event}")
        op.drop_column(table, "stamp")
        for each in versioned:
            for event in EVENTS:
                op.execute(
                    f"CREATE TRIGGER {each}_{name}_{event} AFTER {event.upper()} ON {each} "
                    f"BEGIN {_bump(table, dialect, stamped=False)}; END"
                )
