"""A transfer that names its original (0037) carries a copy of that original's time, so
settlement prices it without joining the original (the join cost PostgreSQL a second scan
of the ledger, docs/settlement.md). Backfilled for the linked rows, with the append-only
guard (0002) lifted only while that column is filled.

Revision ID: 0037a
Revises: 0041
Create Date: 2026-11-30 14:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037a"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

transfers = sa.table(
    "ledger_transfers",
    sa.column("id", BIG_ID),
    sa.column("original_transfer_id", BIG_ID),
    sa.column("original_at", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.add_column(
        "ledger_transfers", sa.Column("original_at", sa.DateTime(timezone=True), nullable=True)
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("ALTER TABLE ledger_transfers DISABLE TRIGGER ledger_transfers_append_only")
    else:
        op.execute("DROP TRIGGER ledger_transfers_no_update")
    original = transfers.alias("original")
    op.get_bind().execute(
        transfers.update()
        .where(transfers.c.original_transfer_id.is_not(None))
        .values(
            original_at=sa.select(original.c.created_at)
            .where(original.c.id == transfers.c.original_transfer_id)
            .scalar_subquery()
        )
    )
    if postgresql:
        op.execute("ALTER TABLE ledger_transfers ENABLE TRIGGER ledger_transfers_append_only")
    else:
        op.execute(
            "CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers "
            "BEGIN SELECT RAISE(ABORT, 'ledger_transfers is append-only'); END"
        )


def downgrade() -> None:
    op.execute("ALTER TABLE ledger_transfers DROP COLUMN original_at")
