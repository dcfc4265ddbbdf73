"""The fourth outside attack on the vocabulary, read directly: Unicode and structure tricks
read as the term, terms inside honest phrases ignored, terms that read as no letter never matched."""

from __future__ import annotations

import pytest

from compliance.text import readings, words
from compliance.vocabulary import (
    ADDED_TERMS,
    DEFAULT_HONEST_PHRASES,
    DEFAULT_TERMS,
    Term,
    Vocabulary,
    _readable,
)

VOCABULARY = Vocabulary(DEFAULT_TERMS, DEFAULT_HONEST_PHRASES)

REFUSED = [
    # 1, 2: regional indicators, negative squared and circled letters
    ("\U0001f1e8\u200c\U0001f1e6\u200c\U0001f1f8\u200c\U0001f1ed", "CR-05"),
    ("\U0001f1e8\U0001f1e6\U0001f1f8\U0001f1ed 100", "CR-05"),
    ("\U0001f172\U0001f170\U0001f182\U0001f177", "CR-05"),
    ("\U0001f15f\U0001f15e\U0001f158\U0001f15d\U0001f163\U0001f162", "CR-07"),
    # 3: the lunate sigma, read before NFKC
    ("\u03f9ASH", "CR-05"),
    ("gift \u03f2ard", "CR-05"),
    ("re\u03f2harge", "CR-07"),
    # 4: Latin letters with stroke or hook, by name
    ("\u0188a\u0282h", "CR-05"),
    ("\u1d7doints", "CR-07"),
    ("\u01e5ift card", "CR-05"),
    ("pr\u0247paid", "CR-05"),
    ("\u024deload", "CR-07"),
    ("\u023c\u2c65\ua7a9\u0127", "CR-05"),
    ("poin\u0167s", "CR-07"),
    ("\ua793ash", "CR-05"),
    # 5-7: bidi, as the Unicode Bidirectional Algorithm displays it
    ("gift \u202edrac\u202c", "CR-05"),
    ("\u793c\u202e\u5361\u54c1\u202c", "CR-05"),
    ("1000 po\u202estni\u202c", "CR-07"),
    ("gift \u2067\u202edrac\u202c\u2069 100", "CR-05"),
    ("\u200fcard\u200f \u200fgift", "CR-05"),
    ("\u200f\u5361\u200f\u54c1\u200f\u793c\u200f 100", "CR-05"),
    ("\u061c\u5305\u061c\u7ea2", "CR-05"),
    # 8, 9: marks
    ("\u7ea2\u20dd\u20dd\u20dd\u20dd\u5305", "CR-05"),
    ("\u79ef\u20e3\u20e3\u20e3\u20e3\u5206", "CR-07"),
    ("\u7ea2\u0903\u0903\u0903\u0903\u5305", "CR-05"),
    ("p\u0d02ints", "CR-07"),
    ("p\u0d82ints", "CR-07"),
    # 10: letter-like symbols
    ("c\u237ash", "CR-05"),
    ("\u2374oints", "CR-07"),
    ("pr\u212epaid", "CR-05"),
    ("po\u2373nts", "CR-07"),
    # 11: kana
    ("\u30ae\u30d5\u30c8\u30fb\u30ab\u30fc\u30c9", "CR-05"),
    ("\u30ae\u30d5\u30c8\u30ab-\u30c9", "CR-05"),
    ("\u30ae\u30d5\u30c8\u30ab\u4e00\u30c9", "CR-05"),
    ("\u30dd \u30a4 \u30f3 \u30c8", "CR-07"),
    # 12: squeezed repeats
    ("caash", "CR-05"),
    ("pooints", "CR-07"),
    ("giftt card", "CR-05"),
    ("cashh", "CR-05"),
    ("ca$$h", "CR-05"),
    # 15: escapes
    ("&#32418;&#21253;", "CR-05"),
    ("gift&#32;card", "CR-05"),
    ("%E7%BA%A2%E5%8C%85", "CR-05"),
    ("gift%20card", "CR-05"),
    # 16: glued long multi-word terms
    ("BUYGIFTCARD", "CR-05"),
    ("mygiftcard", "CR-05"),
    ("cashout", "CR-05"),
    ("TOPUPCARD", "CR-07"),
    ("cashcard", "CR-05"),
    # Section B
    ("\U0001f9e7 100", "CR-05"),
    ("购物卷", "CR-05"),
    ("点卷 100", "CR-07"),
    ("冲值", "CR-07"),
    ("\u2ff0纟工包", "CR-05"),
    ("压岁钱", "CR-05"),
    ("京东E卡", "CR-05"),
    ("gift certificate", "CR-05"),
    ("store credit", "CR-05"),
    ("京豆", "CR-07"),
    ("airline miles", "CR-07"),
    ("기프트카드", "CR-05"),
    ("포인트", "CR-07"),
    # An honest phrase covers only its own occurrence.
    ("Johnny Cash vinyl, 100 cash", "CR-05"),
    ("外套 套现", "CR-05"),
    ("充值得好礼", "CR-07"),
    ("礼品卡套餐", "CR-05"),
]

ALLOWED = [
    "微积分教材",
    "外套现货",
    "大红包装 春联",
    "红包装礼盒",
    "呈现金黄色泽的烤鸭",
    "体现金属质感的手表",
    "补充值得信赖的营养",
    "往返现场接送",
    "顺利是福 摆件",
    "景点券",
    "说话费劲",
    "篮球积分赛门票",
    "体积 分装瓶",
    "口红 2 包",
    "PowerPoint's guide",
    "Match point's edge",
    "Recharge cable",
    "Solar recharge lantern",
    "Matrix Reload screening",
    "Four Points by Sheraton night",
    "Pressure points massage",
    "Points of View (book)",
    "Johnny Cash vinyl",
    "cash register toy",
    "gift card holder",
    "red envelope stationery",
    "Prepaid return envelope",
    "pool water top-up service",
    "rechargeable battery",
    "Restore value serum",
    "\U0001f1e8\U0001f1f3 进口红枣",  # a flag
    "\U0001f17f parking",
    "\U0001f3ab cinema ticket",
    "100% cotton",
    "Tom & Jerry DVD",
    "ギフトボックス",
    "\u05e9\u05dc\u05d5\u05dd gift box",  # Hebrew
]


@pytest.mark.parametrize(("text", "rule"), REFUSED)
def test_a_fourth_attack_spelling_reads_as_the_term(text: str, rule: str) -> None:
    violation = VOCABULARY.violation(text)

    assert violation is not None, readings(text)
    assert violation.rule == rule


@pytest.mark.parametrize("text", ALLOWED)
def test_an_honest_text_passes(text: str) -> None:
    assert VOCABULARY.violation(text) is None, words(text)


@pytest.mark.parametrize("term", ["\u00a5", "-", "\u2605", "100", "\u200b", "\U0001f4b0"])
def test_a_term_that_reads_as_no_letter_never_matches(term: str) -> None:
    vocabulary = Vocabulary([Term(term, "CR-05"), Term("红包", "CR-05")])

    assert _readable(term) is None
    assert vocabulary.violation("Lens ¥100 - ★ 💰") is None
    assert vocabulary.violation("红包") is not None


def test_no_default_honest_phrase_hides_a_default_term() -> None:
    """Every seeded phrase is kept by the vocabulary (none reads inside a term), and every
    default term is still found when written alone."""
    vocabulary = Vocabulary(DEFAULT_TERMS, DEFAULT_HONEST_PHRASES)

    assert len(vocabulary.honest_latin) + len(vocabulary.honest_written) == len(
        DEFAULT_HONEST_PHRASES
    )
    for term in DEFAULT_TERMS:
        assert vocabulary.violation(term.term) is not None, term


def test_a_phrase_inside_a_term_is_not_masked() -> None:
    vocabulary = Vocabulary([Term("一卡通", "CR-05")], ["卡通"])

    assert vocabulary.violation("一卡通 100元") is not None
    assert vocabulary.violation("卡通 贴纸") is None


def test_added_terms_are_new() -> None:
    earlier = {t.term for t in DEFAULT_TERMS[: len(DEFAULT_TERMS) - len(ADDED_TERMS)]}

    assert not earlier & {t.term for t in ADDED_TERMS}
    assert len({t.term for t in ADDED_TERMS}) == len(ADDED_TERMS)


def test_readings_are_no_longer_than_the_text() -> None:
    """What keeps reading linear: at most ten readings (stored and decoded, each as stored,
    displayed two ways, its overrides reversed and reversed whole), none longer than the
    text."""
    text = "gift \u202edrac\u202c &#32; %20 " * 1000

    found = readings(text)

    assert len(found) <= 10
    assert all(len(reading) <= len(text) for reading in found)
