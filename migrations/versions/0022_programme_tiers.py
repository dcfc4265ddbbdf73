"""The loyalty programme: the published tier schedule, members' tiers and their history;
an award keeps its breakdown.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "programme_tier_schedules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_combined_factor", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_tier_schedules")),
        sa.UniqueConstraint("effective_at", name=op.f("uq_programme_tier_schedules_effective_at")),
        sa.UniqueConstraint("version", name=op.f("uq_programme_tier_schedules_version")),
    )
    op.create_table(
        "programme_tiers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "schedule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("qualifying_points", sa.BigInteger(), nullable=False),
        sa.Column("qualifying_orders", sa.Integer(), nullable=False),
        sa.Column("earn_multiplier", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.Column("perks", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "qualifying_orders >= 0", name=op.f("ck_programme_tiers_qualifying_orders_not_negative")
        ),
        sa.CheckConstraint(
            "qualifying_points >= 0", name=op.f("ck_programme_tiers_qualifying_points_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["programme_tier_schedules.id"],
            name=op.f("fk_programme_tiers_schedule_id_programme_tier_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_tiers")),
        sa.UniqueConstraint(
            "schedule_id", "code", name=op.f("uq_programme_tiers_schedule_id_code")
        ),
        sa.UniqueConstraint(
            "schedule_id", "rank", name=op.f("uq_programme_tiers_schedule_id_rank")
        ),
    )
    op.create_table(
        "member_tiers",
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tier_code", sa.String(length=32), nullable=False),
        sa.Column("tier_rank", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_tiers_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_member_tiers")),
    )
    with op.batch_alter_table("member_tiers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_tiers_qualified_at"), ["qualified_at"], unique=False
        )

    op.create_table(
        "member_tier_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("from_code", sa.String(length=32), nullable=False),
        sa.Column("to_code", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("schedule_version", sa.Integer(), nullable=False),
        sa.Column("qualifying_points", sa.BigInteger(), nullable=False),
        sa.Column("qualifying_orders", sa.Integer(), nullable=False),
        sa.Column("award_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("evaluated_on", sa.Date(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('UPGRADE', 'DOWNGRADE', 'REVERSAL')",
            name=op.f("ck_member_tier_changes_reason_known"),
        ),
        sa.ForeignKeyConstraint(
            ["award_id"],
            ["member_awards.id"],
            name=op.f("fk_member_tier_changes_award_id_member_awards"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_tier_changes_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_tier_changes")),
    )
    with op.batch_alter_table("member_tier_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_tier_changes_member_id_id"), ["member_id", "id"], unique=False
        )

    op.add_column("member_awards", sa.Column("breakdown", sa.Text(), nullable=True))
    op.create_index(
        op.f("ix_member_awards_member_id_created_at"),
        "member_awards",
        ["member_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_member_awards_member_id_created_at"), table_name="member_awards")
    op.execute("ALTER TABLE member_awards DROP COLUMN breakdown")

    with op.batch_alter_table("member_tier_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_tier_changes_member_id_id"))

    op.drop_table("member_tier_changes")
    with op.batch_alter_table("member_tiers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_tiers_qualified_at"))

    op.drop_table("member_tiers")
    op.drop_table("programme_tiers")
    op.drop_table("programme_tier_schedules")
