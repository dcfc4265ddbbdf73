"""AML (CR-08): points each partner issued per UTC day, for the issuance-spike pattern.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 08:29:04.566434
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "aml_partner_daily_issuance",
        sa.Column(
            "partner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.DateTime(timezone=True), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.id"],
            name=op.f("fk_aml_partner_daily_issuance_partner_id_partners"),
        ),
        sa.PrimaryKeyConstraint("partner_id", "day", name=op.f("pk_aml_partner_daily_issuance")),
    )


def downgrade() -> None:
    op.drop_table("aml_partner_daily_issuance")
