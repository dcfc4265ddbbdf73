"""Perks partners honour for tiers, their claims and per-period uses; member prices (lower
redemption thresholds by tier or credit level), versioned.

Revision ID: 0028
Revises: 0027
Create Date: 2026-11-30 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_perks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("tier_codes", sa.Text(), nullable=False),
        sa.Column("limit_per_period", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "period IN ('DAY', 'WEEK', 'MONTH', 'YEAR')", name=op.f("ck_partner_perks_period_known")
        ),
        sa.CheckConstraint("limit_per_period > 0", name=op.f("ck_partner_perks_limit_positive")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_partner_perks_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_perks")),
        sa.UniqueConstraint("partner_id", "code", name=op.f("uq_partner_perks_partner_id_code")),
    )
    op.create_table(
        "catalog_member_price_sets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["catalog_items.id"],
            name=op.f("fk_catalog_member_price_sets_item_id_catalog_items"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_member_price_sets")),
    )
    with op.batch_alter_table("catalog_member_price_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_member_price_sets_item_id_effective_at"),
            ["item_id", "effective_at"],
            unique=False,
        )

    op.create_table(
        "member_perk_claims",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("perk_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tier_code", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_perk_claims_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["perk_id"],
            ["partner_perks.id"],
            name=op.f("fk_member_perk_claims_perk_id_partner_perks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_perk_claims")),
    )
    with op.batch_alter_table("member_perk_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_perk_claims_member_id_id"), ["member_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_member_perk_claims_perk_id_id"), ["perk_id", "id"], unique=False
        )

    op.create_table(
        "member_perk_uses",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("perk_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_perk_uses_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["perk_id"],
            ["partner_perks.id"],
            name=op.f("fk_member_perk_uses_perk_id_partner_perks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_perk_uses")),
        sa.UniqueConstraint(
            "perk_id",
            "member_id",
            "period_start",
            name=op.f("uq_member_perk_uses_perk_id_member_id_period_start"),
        ),
    )
    op.create_table(
        "catalog_member_prices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("set_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tier_code", sa.String(length=32), nullable=True),
        sa.Column("credit_level", sa.String(length=1), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "credit_level IN ('A', 'B', 'C', 'D')",
            name=op.f("ck_catalog_member_prices_credit_level_known"),
        ),
        sa.CheckConstraint("points > 0", name=op.f("ck_catalog_member_prices_points_positive")),
        sa.CheckConstraint(
            "tier_code IS NOT NULL OR credit_level IS NOT NULL",
            name=op.f("ck_catalog_member_prices_names_a_condition"),
        ),
        sa.ForeignKeyConstraint(
            ["set_id"],
            ["catalog_member_price_sets.id"],
            name=op.f("fk_catalog_member_prices_set_id_catalog_member_price_sets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_member_prices")),
    )
    with op.batch_alter_table("catalog_member_prices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalog_member_prices_set_id"), ["set_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("catalog_member_prices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_member_prices_set_id"))

    op.drop_table("catalog_member_prices")
    op.drop_table("member_perk_uses")
    with op.batch_alter_table("member_perk_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_perk_claims_perk_id_id"))
        batch_op.drop_index(batch_op.f("ix_member_perk_claims_member_id_id"))

    op.drop_table("member_perk_claims")
    with op.batch_alter_table("catalog_member_price_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_member_price_sets_item_id_effective_at"))

    op.drop_table("catalog_member_price_sets")
    op.drop_table("partner_perks")
