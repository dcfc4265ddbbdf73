"""The hash-chained compliance audit of blocked attempts.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 07:26:08.820541
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "compliance_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=8), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.id"], name=op.f("fk_compliance_audit_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_audit")),
        sa.UniqueConstraint("sequence", name=op.f("uq_compliance_audit_sequence")),
    )
    with op.batch_alter_table("compliance_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compliance_audit_partner_id_id"), ["partner_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_compliance_audit_rule_id"), ["rule", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("compliance_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compliance_audit_rule_id"))
        batch_op.drop_index(batch_op.f("ix_compliance_audit_partner_id_id"))

    op.drop_table("compliance_audit")
