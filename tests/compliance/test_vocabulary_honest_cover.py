"""An outside attack on the honest phrases, read directly: a phrase that shares a character
with a term at its edge (金黄 and 现金 in 现金黄) hid the term when phrases were masked out of
the text. A term is ignored now only where one occurrence of a phrase covers all of it."""

from __future__ import annotations

import pytest

from compliance.text import words
from compliance.vocabulary import DEFAULT_HONEST_PHRASES, DEFAULT_TERMS, Term, Vocabulary

VOCABULARY = Vocabulary(DEFAULT_TERMS, DEFAULT_HONEST_PHRASES)

# The attack's strings (a seeded phrase overlapping the term at an edge), and the same
# tricks against the phrases that replaced the one-sided ones.
REFUSED = [
    ("现金黄 100元", "CR-05"),
    ("微信口红包 200元", "CR-05"),
    ("礼品卡路里 500元", "CR-05"),
    ("购物卡布奇诺 300元", "CR-05"),
    ("补充值 100元", "CR-07"),
    ("话费劲 50元", "CR-05"),
    ("Johnny Cash voucher 100 yuan", "CR-05"),
    ("Johnny Cash-out 100 yuan", "CR-05"),
    ("现 金黄 100元", "CR-05"),
    ("微信口红 包 200元", "CR-05"),
    ("补充值得好礼", "CR-07"),
    ("呈现金 100元", "CR-05"),
    ("外套现 100元", "CR-05"),
    ("积分装 100", "CR-07"),
    ("gift card holder + gift card 100元", "CR-05"),
]

# Honest neighbours that still pass, and what the attack wrote that is acceptable: 零钱包 is
# a coin purse (the phrase covers 零钱 whole); "balance" is no term (余额 is), so the gift
# card holder with a balance passes (docs/compliance.md).
ALLOWED = [
    "零钱包 100元",
    "gift card holder 100 yuan balance",
    "微积分教材",
    "外套现货",
    "红包装礼盒",
    "呈现金黄色泽的烤鸭",
    "体现金属质感的手表",
    "婚礼金饰",
    "补充值得信赖的营养",
    "说话费劲",
    "便利市场",
    "甜点卡布奇诺",
    "补充卡路里",
    "景点卡",
    "口红 2 包",
    "体积 分装瓶",
    "Johnny Cash vinyl",
    "Johnny Cash's vinyl",
    "Recharge cable",
]


@pytest.mark.parametrize(("text", "rule"), REFUSED)
def test_a_term_sharing_an_edge_with_a_phrase_is_refused(text: str, rule: str) -> None:
    violation = VOCABULARY.violation(text)

    assert violation is not None, words(text)
    assert violation.rule == rule


@pytest.mark.parametrize("text", ALLOWED)
def test_a_term_a_phrase_covers_passes(text: str) -> None:
    assert VOCABULARY.violation(text) is None, words(text)


def test_a_phrase_covers_only_its_own_occurrence() -> None:
    """The phrase's occurrence covers the term there, not a second one elsewhere, nor one
    straddling its edge; a phrase of one side alone covers nothing."""
    vocabulary = Vocabulary([Term("现金", "CR-05"), Term("cash", "CR-05")], ["金黄", "johnny cash"])

    assert vocabulary.violation("呈现金黄") is not None
    assert vocabulary.violation("金黄 色泽") is None
    assert vocabulary.violation("Johnny Cash, Johnny Cash") is None
    assert vocabulary.violation("Johnny Cash cash") is not None
    assert vocabulary.violation("Johnny Caash") is not None


def test_a_count_in_a_gap_next_to_a_phrase_passes_and_nothing_else_does() -> None:
    """口红 2 包 (lipstick, two packs): a gapped 红包 whose 红 is the phrase's passes only
    when the gap holds a digit; without one, or with no phrase, it is the red packet."""
    vocabulary = Vocabulary([Term("红包", "CR-05")], ["口红"])

    assert vocabulary.violation("口红 2 包") is None
    assert vocabulary.violation("口红 - 包") is not None
    assert vocabulary.violation("红 2 包") is not None
    assert vocabulary.violation("口红包") is not None
