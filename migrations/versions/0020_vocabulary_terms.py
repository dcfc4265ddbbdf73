"""More of the operator's vocabulary, after an outside attack: Chinese 代金券, 提现, 套现;
joined and missing English terms (cash coupon, cash voucher, hong bao, prepaid card,
reload, recharge). Only terms the operator does not already keep are added, and the
downgrade removes only those still as seeded.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 10:20:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED = {
    "CR-05": (
        "代金券",
        "提现",
        "套现",
        "cash coupon",
        "cash voucher",
        "hong bao",
        "prepaid card",
    ),
    "CR-07": ("reload", "recharge"),
}
SEEDED_AT = datetime(2026, 11, 30, 10, 20, tzinfo=UTC)

vocabulary = sa.table(
    "compliance_vocabulary",
    sa.column("term", sa.String),
    sa.column("rule", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    kept = set(bind.execute(sa.select(vocabulary.c.term)).scalars())
    rows = [
        {"term": term, "rule": rule, "updated_at": SEEDED_AT}
        for rule, terms in ADDED.items()
        for term in terms
        if term not in kept
    ]
    if rows:
        op.bulk_insert(vocabulary, rows)


def downgrade() -> None:
    op.execute(
        vocabulary.delete().where(
            vocabulary.c.term.in_([t for terms in ADDED.values() for t in terms]),
            vocabulary.c.updated_at == SEEDED_AT,
        )
    )
