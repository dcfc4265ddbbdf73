"""The green register: products a partner registers as green with an eco-certificate
reference, verified or rejected by the operator, and the audit of every decision.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 07:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
STATUS = "status IN ('PENDING', 'VERIFIED', 'REJECTED')"


def upgrade() -> None:
    op.create_table(
        "partner_green_products",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("partner_id", BIG_ID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("certificate_ref", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(STATUS, name=op.f("ck_partner_green_products_status_known")),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_green_products_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_green_products")),
        sa.UniqueConstraint(
            "partner_id", "sku", name=op.f("uq_partner_green_products_partner_id_sku")
        ),
    )
    op.create_table(
        "partner_green_decisions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("certificate_ref", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(STATUS, name=op.f("ck_partner_green_decisions_status_known")),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["partner_green_products.id"],
            name=op.f("fk_partner_green_decisions_product_id_partner_green_products"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_green_decisions")),
    )
    op.create_index(
        op.f("ix_partner_green_decisions_product_id_id"),
        "partner_green_decisions",
        ["product_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_partner_green_decisions_product_id_id"), table_name="partner_green_decisions"
    )
    op.drop_table("partner_green_decisions")
    op.drop_table("partner_green_products")
