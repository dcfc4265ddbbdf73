"""Catalogue prices published ahead (CR-07): an item's base prices from a time.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 07:12:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_scheduled_prices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_catalog_scheduled_prices_points_positive")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["catalog_items.id"],
            name=op.f("fk_catalog_scheduled_prices_item_id_catalog_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_scheduled_prices")),
    )
    op.create_index(
        op.f("ix_catalog_scheduled_prices_item_id_effective_at"),
        "catalog_scheduled_prices",
        ["item_id", "effective_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_catalog_scheduled_prices_item_id_effective_at"),
        table_name="catalog_scheduled_prices",
    )
    op.drop_table("catalog_scheduled_prices")
