"""AML monitoring (CR-08): operator thresholds and cases.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 07:29:50.276826
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "aml_thresholds",
        sa.Column("pattern", sa.String(length=32), nullable=False),
        sa.Column("soft", sa.BigInteger(), nullable=False),
        sa.Column("hard", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pattern", name=op.f("pk_aml_thresholds")),
    )
    op.create_table(
        "aml_cases",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pattern", sa.String(length=32), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("observed", sa.BigInteger(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_aml_cases_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_aml_cases_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aml_cases")),
    )
    with op.batch_alter_table("aml_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_aml_cases_status_id"), ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("aml_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_aml_cases_status_id"))

    op.drop_table("aml_cases")
    op.drop_table("aml_thresholds")
