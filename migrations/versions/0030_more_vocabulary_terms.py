"""More of the operator's vocabulary, after a second outside attack: Chinese coupon and
cash-back words (礼券, 购物券, 抵用券, 返现, 话费, 利是, 红封包), pinyin (xianjin, chuzhi,
jifen), Japanese (ギフトカード, プリペイド, ポイント) and cashback. Only terms the operator
does not already keep are added, and the downgrade removes only those still as seeded.

Revision ID: 0030
Revises: 0029
Create Date: 2026-11-30 12:05:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADDED = {
    "CR-05": (
        "礼券",
        "购物券",
        "抵用券",
        "返现",
        "话费",
        "利是",
        "红封包",
        "cashback",
        "xianjin",
        "chuzhi",
        "chuzhika",
        "ギフトカード",
        "プリペイド",
    ),
    "CR-07": ("jifen", "ポイント"),
}
SEEDED_AT = datetime(2026, 11, 30, 12, 5, tzinfo=UTC)

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
