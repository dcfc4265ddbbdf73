"""AML (CR-08): members' redemptions on liquid items, so FAST_LIQUID_REDEMPTION counts
them together over its window instead of each alone (issue 12, attack finding F6).

Revision ID: 0038
Revises: 0037
Create Date: 2026-11-30 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "aml_liquid_redemptions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_aml_liquid_redemptions_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aml_liquid_redemptions")),
    )
    with op.batch_alter_table("aml_liquid_redemptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_aml_liquid_redemptions_member_id_at"), ["member_id", "at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("aml_liquid_redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aml_liquid_redemptions_member_id_at"))

    op.drop_table("aml_liquid_redemptions")
