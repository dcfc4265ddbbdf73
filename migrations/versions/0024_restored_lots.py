"""Points a refund or void gives back live in a lot of their own, restored from the lot
they came from, with the lifetime they had left when spent (CR-12), so the lot's other
points keep their expiry.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


FK = "fk_ledger_lots_restored_from_lot_id_ledger_lots"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place (no table rebuild, which would
        # trip the foreign keys of the allocations that point at the lots).
        op.execute(
            "ALTER TABLE ledger_lots ADD COLUMN restored_from_lot_id INTEGER "
            f"CONSTRAINT {FK} REFERENCES ledger_lots (id)"
        )
    else:
        op.add_column("ledger_lots", sa.Column("restored_from_lot_id", BIG_ID, nullable=True))
        op.create_foreign_key(FK, "ledger_lots", "ledger_lots", ["restored_from_lot_id"], ["id"])
    op.create_index(
        op.f("ix_ledger_lots_restored_from_lot_id"), "ledger_lots", ["restored_from_lot_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_lots_restored_from_lot_id"), table_name="ledger_lots")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(FK, "ledger_lots", type_="foreignkey")
    # SQLite (3.35+) drops a column that no index or constraint but its own reference uses.
    op.execute("ALTER TABLE ledger_lots DROP COLUMN restored_from_lot_id")
