"""More plainly cash-like terms (CR-05): currencies, cash instruments, wallets and
stored-value cards an outside attack listed as missing, and the honest phrases that hold
some of them (购物金额 holds 购物金, 完美元素 holds 美元, 钞票夹 is a money clip).

The terms and phrases are added only where the operator does not already keep them; the
downgrade removes them only while still as seeded. 彩票 (lottery) and 金条 (gold bar) are
left out as the operator's policy calls (docs/compliance.md).

Revision ID: 0042a
Revises: 0042
Create Date: 2026-11-30 15:10:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0042a"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED_AT = datetime(2026, 11, 30, 15, 10, tzinfo=UTC)
TERMS = (
    "美元",
    "港币",
    "钞票",
    "纸币",
    "比特币",
    "usdt",
    "购物金",
    "消费金",
    "支票",
    "饭卡",
    "公交卡",
    "alipay balance",
    "paypal balance",
    "steam wallet",
    "wallet credit",
    "bank transfer",
    "cheque",
    "money order",
    "itunes card",
    "amazon credit",
)
HONEST = ("购物金额", "消费金额", "美元素", "美元气", "美元宵", "钞票夹")

vocabulary = sa.table(
    "compliance_vocabulary",
    sa.column("term", sa.String),
    sa.column("rule", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
phrases = sa.table(
    "compliance_honest_phrases",
    sa.column("phrase", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    kept = set(bind.execute(sa.select(vocabulary.c.term)).scalars())
    rows = [
        {"term": term, "rule": "CR-05", "updated_at": SEEDED_AT}
        for term in TERMS
        if term not in kept
    ]
    if rows:
        op.bulk_insert(vocabulary, rows)
    kept = set(bind.execute(sa.select(phrases.c.phrase)).scalars())
    rows = [{"phrase": p, "updated_at": SEEDED_AT} for p in HONEST if p not in kept]
    if rows:
        op.bulk_insert(phrases, rows)


def downgrade() -> None:
    op.execute(
        vocabulary.delete().where(
            vocabulary.c.term.in_(TERMS), vocabulary.c.updated_at == SEEDED_AT
        )
    )
    op.execute(
        phrases.delete().where(phrases.c.phrase.in_(HONEST), phrases.c.updated_at == SEEDED_AT)
    )
