"""The operator's honest phrases, and more vocabulary terms, after a fourth outside attack.

``compliance_honest_phrases``: phrases the vocabulary masks out of a text before it looks for
terms, so a real cinema, optician, store, restaurant or charity is not refused for a word that
holds a term (微积分 holds 积分) or that a term straddles (呈现金黄 holds 现金), or for a name
that holds an exact term (Johnny Cash). Seeded with the defaults of
compliance.vocabulary.DEFAULT_HONEST_PHRASES; the operator edits them after
(``setHonestPhrase``, audited).

The terms the attack found missing (compliance.vocabulary.ADDED_TERMS) are added only where
the operator does not already keep them; the downgrade removes them only while still as
seeded.

Revision ID: 0039
Revises: 0037a
Create Date: 2026-11-30 14:40:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0039"
down_revision: str | None = "0037a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEEDED_AT = datetime(2026, 11, 30, 14, 40, tzinfo=UTC)
ADDED = {
    "CR-05": (
        "购物卷",
        "代金卷",
        "抵用卷",
        "礼卷",
        "现金卷",
        "红苞",
        "hong包",
        "红bao",
        "现jin",
        "礼品card",
        "gift卡",
        "纟工包",
        "王见金",
        "讠舌费",
        "⻈舌费",
        "压岁钱",
        "零钱",
        "余额",
        "现钞",
        "人民币",
        "代币",
        "q币",
        "游戏币",
        "点卡",
        "京东e卡",
        "加油卡",
        "超市卡",
        "商场卡",
        "购书卡",
        "消费卡",
        "通用券",
        "代金卡",
        "礼金",
        "预存",
        "预付款",
        "预付费",
        "充钱",
        "兑现",
        "变现",
        "取现",
        "换现",
        "红封",
        "利市",
        "抵用金",
        "抵扣金",
        "一卡通",
        "交通卡",
        "gift voucher",
        "gift certificate",
        "store credit",
        "paycard",
        "red pocket",
        "lucky money",
        "phone credit",
        "cashout",
        "cash card",
        "lipinka",
        "gouwuka",
        "fanxian",
        "huafei",
        "daijinquan",
        "tixian",
        "기프트카드",
        "상품권",
        "현금",
    ),
    "CR-07": (
        "点卷",
        "冲值",
        "禾只分",
        "充卡",
        "topped up",
        "recharging",
        "top-up card",
        "recharge card",
        "reload card",
        "bonus points",
        "chongzhi",
        "dianquan",
        "京豆",
        "航空里程",
        "飞行里程",
        "airline miles",
        "air miles",
        "포인트",
        "충전",
    ),
}
HONEST = (
    "微积分",
    "积分赛",
    "积分榜",
    "红包装",
    "零钱包",
    "兑现承诺",
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
    "口红",
    "景点",
    "卡布奇诺",
    "卡路里",
    "recharge cable",
    "solar recharge lantern",
    "four points by sheraton",
    "pressure points",
    "points of view",
    "johnny cash",
    "cash register",
    "gift card holder",
    "red envelope stationery",
    "prepaid return envelope",
    "matrix reload",
    "pool water top-up",
)

vocabulary = sa.table(
    "compliance_vocabulary",
    sa.column("term", sa.String),
    sa.column("rule", sa.String),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    phrases = op.create_table(
        "compliance_honest_phrases",
        sa.Column("phrase", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phrase", name=op.f("pk_compliance_honest_phrases")),
    )
    op.bulk_insert(phrases, [{"phrase": phrase, "updated_at": SEEDED_AT} for phrase in HONEST])
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
    op.drop_table("compliance_honest_phrases")
