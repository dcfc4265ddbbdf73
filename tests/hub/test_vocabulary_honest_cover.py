"""An outside attack on the honest phrases, replayed through GraphQL: a seeded phrase that
shared a character with a cash or top-up term at its edge hid the term (现金黄 hid 现金
behind 金黄; 微信口红包 hid 红包 behind 口红), so the offer was published and its award line
earned points. Each is refused now as a title, a category and an award line's category (one
audit row, the ledger untouched); each honest neighbour is published and awarded."""

from __future__ import annotations

import pytest

from tests.hub.conftest import Hub
from tests.hub.test_compliance_table import Alliance, _allowed, _blocked
from tests.hub.test_money_paths import _order, _publish
from tests.hub.test_vocabulary_fourth_attack import HONEST

pytestmark = pytest.mark.anyio

ATTACK = [
    ("现金黄 100元", "CR-05"),
    ("微信口红包 200元", "CR-05"),
    ("礼品卡路里 500元", "CR-05"),
    ("购物卡布奇诺 300元", "CR-05"),
    ("补充值 100元", "CR-07"),
    ("话费劲 50元", "CR-05"),
    ("Johnny Cash voucher 100 yuan", "CR-05"),
    ("Johnny Cash-out 100 yuan", "CR-05"),
    ("现 金黄 100元", "CR-05"),
    ("补充值得好礼", "CR-07"),
]

# What the attack wrote that passes, by decision (docs/compliance.md): 零钱包 is a coin purse,
# a phrase covering 零钱 whole; "balance" is no term. Then the honest neighbours the
# one-sided phrases served, now served by phrases holding both sides of the term.
PASSING = [
    "零钱包 100元",
    "gift card holder 100 yuan balance",
    "婚礼金饰",
    "便利市场",
    "甜点卡布奇诺",
    "补充卡路里",
    "景点卡",
    *(honest for honest, _, _ in HONEST),
]


async def test_a_term_sharing_an_edge_with_an_honest_phrase_is_refused(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    for index, (text, rule) in enumerate(ATTACK):
        await _blocked(alliance, rule, _publish(alliance, text, sku=f"t{index}"))
        await _blocked(alliance, rule, _publish(alliance, "Card", category=text, sku=f"c{index}"))
        await _blocked(alliance, rule, alliance.award(**_order(text, f"b{index}")))


async def test_a_term_an_honest_phrase_covers_is_published_and_earns(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    for index, text in enumerate(PASSING):
        await _allowed(alliance, _publish(alliance, text, category=text, sku=f"n{index}"))
        before = await alliance.state()
        await _allowed(alliance, alliance.award(**_order(text, f"a{index}")))
        after = await alliance.state()
        assert after[0] is True
        assert after[1:3] != before[1:3], text  # the award moved points


# Migration 0042a: currencies, cash instruments, wallets and stored-value cards, and the
# honest words that hold some of them.
CASH_LIKE = [
    "100美元",
    "港币 500",
    "钞票 100张",
    "纸币 100元",
    "比特币 0.01",
    "USDT 100",
    "Alipay balance 100",
    "PayPal balance",
    "Steam Wallet 50",
    "wallet credit 100",
    "购物金 50元",
    "消费金 50元",
    "支票 100元",
    "饭卡 100元",
    "公交卡 100元",
    "bank transfer 100 yuan",
    "Cheque 100",
    "money order 100",
    "iTunes Card 100",
    "Amazon credit 100",
]
CASH_NEIGHBOURS = [
    "满购物金额100元可用的保温杯",
    "消费金额满200送的帆布袋",
    "完美元素 香水",
    "甜美元气少女 T恤",
    "美元宵礼盒",
    "钞票夹",
    "leather wallet",
    "checkered shirt",
]


async def test_migration_0042a_terms_are_refused_and_their_neighbours_pass(hub: Hub) -> None:
    alliance = await Alliance(hub).setup()

    for index, text in enumerate(CASH_LIKE):
        await _blocked(alliance, "CR-05", _publish(alliance, text, sku=f"m{index}"))
        await _blocked(alliance, "CR-05", alliance.award(**_order(text, f"m{index}")))
    for index, text in enumerate(CASH_NEIGHBOURS):
        await _allowed(alliance, _publish(alliance, text, category=text, sku=f"k{index}"))
        await _allowed(alliance, alliance.award(**_order(text, f"k{index}")))
