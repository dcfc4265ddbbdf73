"""The catalogue's version: one row bumped by every change to what the public catalogue
shows, in the changing transaction itself, so a worker's response cache keyed by it is
exact across workers (docs/performance.md, "The public response cache").

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 10:10:00.000000

Triggers on ``partners``, ``catalog_items``, ``catalog_promotions`` and
``catalog_scheduled_prices`` bump ``catalog_version.version`` on any INSERT, UPDATE or
DELETE. On PostgreSQL they are deferred constraint triggers: the version row is locked at
commit, after every other lock the transaction holds, so it adds no lock-order cycle and is
held only for the commit itself. Indexes on the promotions' and scheduled prices' times let
a worker find the catalogue's next time boundary with three index seeks.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED_TABLES = ("partners", "catalog_items", "catalog_promotions", "catalog_scheduled_prices")
BUMP = "UPDATE catalog_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "catalog_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_catalog_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_version")),
    )
    op.execute("INSERT INTO catalog_version (id, version) VALUES (1, 1)")
    op.create_index(
        op.f("ix_catalog_promotions_starts_at"), "catalog_promotions", ["starts_at"], unique=False
    )
    op.create_index(
        op.f("ix_catalog_promotions_ends_at"), "catalog_promotions", ["ends_at"], unique=False
    )
    op.create_index(
        op.f("ix_catalog_scheduled_prices_effective_at"),
        "catalog_scheduled_prices",
        ["effective_at"],
        unique=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION catalog_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {BUMP};
                RETURN NULL;
            END
            $$
            """
        )
        for table in VERSIONED_TABLES:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {table}_catalog_version "
                f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "EXECUTE FUNCTION catalog_version_bump()"
            )
        return
    for table in VERSIONED_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_catalog_version_{event.lower()} AFTER {event} "
                f"ON {table} BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in VERSIONED_TABLES:
            op.execute(f"DROP TRIGGER {table}_catalog_version ON {table}")
        op.execute("DROP FUNCTION catalog_version_bump()")
    else:
        for table in VERSIONED_TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_catalog_version_{event}")
    op.drop_index(
        op.f("ix_catalog_scheduled_prices_effective_at"), table_name="catalog_scheduled_prices"
    )
    op.drop_index(op.f("ix_catalog_promotions_ends_at"), table_name="catalog_promotions")
    op.drop_index(op.f("ix_catalog_promotions_starts_at"), table_name="catalog_promotions")
    op.drop_table("catalog_version")
