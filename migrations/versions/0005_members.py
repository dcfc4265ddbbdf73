"""Members, consent links, earning rules, awards per order, and budget issuance counters.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:54:06.822231
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("identity_attested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "attested_by_partner_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('ACTIVE', 'CLOSED')", name=op.f("ck_members_status_known")),
        sa.ForeignKeyConstraint(
            ["attested_by_partner_id"],
            ["partners.id"],
            name=op.f("fk_members_attested_by_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_members_phone_hash")),
    )
    op.create_table(
        "partner_earning_rules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("points_per_yuan", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("category_multipliers", sa.Text(), nullable=False),
        sa.Column("green_bonus_multiplier", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_partner_earning_rules_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_earning_rules")),
        sa.UniqueConstraint(
            "partner_id",
            "effective_at",
            name=op.f("uq_partner_earning_rules_partner_id_effective_at"),
        ),
    )
    op.create_table(
        "member_consents",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("external_ref", sa.String(length=128), nullable=False),
        sa.Column("credit_level", sa.Boolean(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_consents_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_member_consents_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_consents")),
        sa.UniqueConstraint(
            "member_id", "partner_id", name=op.f("uq_member_consents_member_id_partner_id")
        ),
        sa.UniqueConstraint(
            "partner_id", "external_ref", name=op.f("uq_member_consents_partner_id_external_ref")
        ),
    )
    op.create_table(
        "member_awards",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("order_ref", sa.String(length=128), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("paid_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lots.id"], name=op.f("fk_member_awards_lot_id_ledger_lots")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_awards_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_member_awards_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_awards")),
        sa.UniqueConstraint(
            "partner_id", "order_ref", name=op.f("uq_member_awards_partner_id_order_ref")
        ),
    )
    with op.batch_alter_table("member_awards", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_member_awards_member_id"), ["member_id"], unique=False)

    with op.batch_alter_table("partner_marketing_budgets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("issued_points", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.create_check_constraint("issued_points_non_negative", "issued_points >= 0")


def downgrade() -> None:
    with op.batch_alter_table("partner_marketing_budgets", schema=None) as batch_op:
        batch_op.drop_constraint("issued_points_non_negative", type_="check")
        batch_op.drop_column("issued_points")

    with op.batch_alter_table("member_awards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_awards_member_id"))

    op.drop_table("member_awards")
    op.drop_table("member_consents")
    op.drop_table("partner_earning_rules")
    op.drop_table("members")
