"""Consent requests (CR-10), members' credit level and closing members (CR-03).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 08:25:19.837872
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "member_consent_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("phone_hash", sa.String(length=64), nullable=False),
        sa.Column("external_ref", sa.String(length=128), nullable=False),
        sa.Column("credit_level", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_ref", sa.String(length=128), nullable=True),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint(
            "status IN ('PENDING', 'GRANTED', 'DECLINED')",
            name=op.f("ck_member_consent_requests_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_consent_requests_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_member_consent_requests_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_consent_requests")),
    )
    with op.batch_alter_table("member_consent_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_member_consent_requests_partner_id_id"),
            ["partner_id", "id"],
            unique=False,
        )

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_level", sa.String(length=1), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_members_credit_level_known"), "credit_level IN ('A', 'B', 'C', 'D')"
        )


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_members_credit_level_known"), type_="check")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("credit_level")

    with op.batch_alter_table("member_consent_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_member_consent_requests_partner_id_id"))

    op.drop_table("member_consent_requests")
