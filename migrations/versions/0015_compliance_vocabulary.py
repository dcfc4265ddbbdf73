"""The operator's vocabulary of cash-like (CR-05) and points-like (CR-07) terms, seeded
with the terms in Chinese and English that issue 12 names; the time the operator withdrew
a catalogue item.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 07:10:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED = {
    "CR-05": (
        "现金",
        "红包",
        "储值",
        "礼品卡",
        "购物卡",
        "预付卡",
        "cash",
        "red packet",
        "red envelope",
        "stored value",
        "gift card",
        "prepaid",
        "e-wallet",
    ),
    "CR-07": ("充值", "积分", "点券", "top-up", "topup", "points"),
}


def upgrade() -> None:
    table = op.create_table(
        "compliance_vocabulary",
        sa.Column("term", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rule IN ('CR-05', 'CR-07')", name=op.f("ck_compliance_vocabulary_rule_known")
        ),
        sa.PrimaryKeyConstraint("term", name=op.f("pk_compliance_vocabulary")),
    )
    now = datetime(2026, 11, 30, tzinfo=UTC)
    op.bulk_insert(
        table,
        [
            {"term": term, "rule": rule, "updated_at": now}
            for rule, terms in SEED.items()
            for term in terms
        ],
    )

    op.add_column(
        "catalog_items", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.execute("ALTER TABLE catalog_items DROP COLUMN withdrawn_at")
    op.drop_table("compliance_vocabulary")
