"""The credentials' version: one row bumped by every change to what the bearer check
reads about a partner's token (a revoked token, a client's or partner's status or
scopes), in the changing transaction itself, so each worker may keep the check's answer
in memory while the version stands (hub.oauth2.bearer, docs/performance.md).

Revision ID: 0033
Revises: 0032
Create Date: 2026-11-30 13:40:00.000000

Triggers on ``oauth_revoked_tokens``, ``oauth_clients`` and ``partners`` bump
``credential_version.version`` on any INSERT, UPDATE or DELETE, whatever code path writes.
On PostgreSQL they are deferred constraint triggers, as the catalogue's (migration 0023):
the version row is locked at commit, after every other lock the transaction holds, so it
adds no lock-order cycle and is held only for the commit itself.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED_TABLES = ("oauth_revoked_tokens", "oauth_clients", "partners")
BUMP = "UPDATE credential_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "credential_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_credential_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_version")),
    )
    op.execute("INSERT INTO credential_version (id, version) VALUES (1, 1)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION credential_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {BUMP};
                RETURN NULL;
            END
            $$
            """
        )
        for table in VERSIONED_TABLES:
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {table}_credential_version "
                f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "EXECUTE FUNCTION credential_version_bump()"
            )
        return
    for table in VERSIONED_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_credential_version_{event.lower()} AFTER {event} "
                f"ON {table} BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in VERSIONED_TABLES:
            op.execute(f"DROP TRIGGER {table}_credential_version ON {table}")
        op.execute("DROP FUNCTION credential_version_bump()")
    else:
        for table in VERSIONED_TABLES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_credential_version_{event}")
    op.drop_table("credential_version")
