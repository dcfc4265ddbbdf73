"""Partners' catalogue items and their time-limited promotions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:51:09.907788
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("green", sa.Boolean(), nullable=False),
        sa.Column("base_points", sa.BigInteger(), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('GOODS', 'SERVICE', 'VOUCHER', 'CHARITY')",
            name=op.f("ck_catalog_items_kind_publishable"),
        ),
        sa.CheckConstraint("base_points > 0", name=op.f("ck_catalog_items_base_points_positive")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_catalog_items_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_items")),
        sa.UniqueConstraint("partner_id", "sku", name=op.f("uq_catalog_items_partner_id_sku")),
    )
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_items_base_points_id"), ["base_points", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_catalog_items_category"), ["category"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_catalog_items_created_at_id"), ["created_at", "id"], unique=False
        )

    op.create_table(
        "catalog_promotions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_catalog_promotions_window_ordered")
        ),
        sa.CheckConstraint("points > 0", name=op.f("ck_catalog_promotions_points_positive")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["catalog_items.id"],
            name=op.f("fk_catalog_promotions_item_id_catalog_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_promotions")),
    )
    with op.batch_alter_table("catalog_promotions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_promotions_item_id_starts_at"),
            ["item_id", "starts_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_promotions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_promotions_item_id_starts_at"))

    op.drop_table("catalog_promotions")
    with op.batch_alter_table("catalog_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_items_created_at_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_items_category"))
        batch_op.drop_index(batch_op.f("ix_catalog_items_base_points_id"))

    op.drop_table("catalog_items")
