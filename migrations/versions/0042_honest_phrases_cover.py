"""Honest phrases cover the term they hide, after an outside attack on the honest phrases.

A term found in a text is now ignored only where one occurrence of an honest phrase covers
all of it (compliance.vocabulary.Vocabulary.violation); before, each phrase was masked out of
the text, so a term that shared a character with a phrase vanished (``现金黄`` hid 现金 behind
金黄, ``微信口红包`` hid 红包 behind 口红). The phrases seeded for one side of a term
(体积, 外套, 金黄, ...) cover no term now: they are removed while still as 0039 seeded them,
and the phrases that hold both sides (体积分装, 外套现货, 呈现金黄, ...) are added where the
operator does not keep them already. 口红 stays (口红 2 包, a count, see the vocabulary).

Revision ID: 0042
Revises: 0039
Create Date: 2026-11-30 15:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0042"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED_0039 = datetime(2026, 11, 30, 14, 40, tzinfo=UTC)
SEEDED_AT = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
ONE_SIDE = (
    "体积",
    "外套",
    "往返",
    "金黄",
    "金属",
    "金饰",
    "补充",
    "费劲",
    "顺利",
    "便利",
    "景点",
    "卡布奇诺",
    "卡路里",
)
COVERING = (
    "体积分装",
    "外套现货",
    "往返现场",
    "呈现金黄",
    "体现金属",
    "婚礼金饰",
    "补充值得信赖",
    "说话费劲",
    "顺利是福",
    "便利市场",
    "景点券",
    "景点卡",
    "甜点卡布奇诺",
    "补充卡路里",
)

phrases = sa.table(
    "compliance_honest_phrases",
    sa.column("phrase", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _replace(remove: Sequence[str], removed_at: datetime, add: Sequence[str], at: datetime) -> None:
    op.execute(
        phrases.delete().where(phrases.c.phrase.in_(remove), phrases.c.updated_at == removed_at)
    )
    kept = set(op.get_bind().execute(sa.select(phrases.c.phrase)).scalars())
    rows = [{"phrase": phrase, "updated_at": at} for phrase in add if phrase not in kept]
    if rows:
        op.bulk_insert(phrases, rows)


def upgrade() -> None:
    _replace(ONE_SIDE, SEEDED_0039, COVERING, SEEDED_AT)


def downgrade() -> None:
    _replace(COVERING, SEEDED_AT, ONE_SIDE, SEEDED_0039)
