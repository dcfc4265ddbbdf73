"""Basket bonuses (积分联动消费): partners' published rules over several categories in one
order, and the day's use of each by a member.

Revision ID: 0027
Revises: 0026
Create Date: 2026-11-30 10:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_basket_bonuses",
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
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("min_line_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("bonus_points", sa.Integer(), nullable=False),
        sa.Column("multiplier", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "bonus_points >= 0", name=op.f("ck_partner_basket_bonuses_bonus_points_not_negative")
        ),
        sa.CheckConstraint(
            "min_line_amount_fen >= 0",
            name=op.f("ck_partner_basket_bonuses_min_line_amount_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_basket_bonuses_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_basket_bonuses")),
        sa.UniqueConstraint(
            "partner_id",
            "code",
            "effective_at",
            name=op.f("uq_partner_basket_bonuses_partner_id_code_effective_at"),
        ),
    )
    with op.batch_alter_table("partner_basket_bonuses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_basket_bonuses_partner_id_effective_at"),
            ["partner_id", "effective_at"],
            unique=False,
        )

    op.create_table(
        "member_basket_bonus_uses",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("order_ref", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_basket_bonus_uses_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_member_basket_bonus_uses_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_basket_bonus_uses")),
        sa.UniqueConstraint(
            "partner_id",
            "member_id",
            "code",
            "day",
            name=op.f("uq_member_basket_bonus_uses_partner_id_member_id_code_day"),
        ),
    )


def downgrade() -> None:
    op.drop_table("member_basket_bonus_uses")
    with op.batch_alter_table("partner_basket_bonuses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_basket_bonuses_partner_id_effective_at"))

    op.drop_table("partner_basket_bonuses")
