"""Credit-linked benefits (信用+积分): the published credit schedule, and the member's own
consent to credit-linked benefits (in the preferences, and given at registration).

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 10:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "programme_credit_schedules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_credit_schedules")),
        sa.UniqueConstraint(
            "effective_at", name=op.f("uq_programme_credit_schedules_effective_at")
        ),
        sa.UniqueConstraint("version", name=op.f("uq_programme_credit_schedules_version")),
    )
    op.create_table(
        "programme_credit_levels",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "schedule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("level", sa.String(length=1), nullable=False),
        sa.Column("earn_multiplier", sa.Numeric(precision=12, scale=4), nullable=False),
        sa.CheckConstraint(
            "level IN ('A', 'B', 'C', 'D')", name=op.f("ck_programme_credit_levels_level_known")
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["programme_credit_schedules.id"],
            name=op.f("fk_programme_credit_levels_schedule_id_programme_credit_schedules"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_credit_levels")),
        sa.UniqueConstraint(
            "schedule_id", "level", name=op.f("uq_programme_credit_levels_schedule_id_level")
        ),
    )
    op.add_column(
        "member_privacy_preferences",
        sa.Column("credit_benefits", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "member_registrations",
        sa.Column(
            "credit_benefits_consent", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )


def downgrade() -> None:
    op.execute("ALTER TABLE member_registrations DROP COLUMN credit_benefits_consent")
    op.execute("ALTER TABLE member_privacy_preferences DROP COLUMN credit_benefits")

    op.drop_table("programme_credit_levels")
    op.drop_table("programme_credit_schedules")
