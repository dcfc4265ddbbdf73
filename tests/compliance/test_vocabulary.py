"""The vocabulary guard reads text as a reader would, not as the partner typed it: the
bypasses an outside attack found (invisible characters, spaced or Traditional Chinese,
Cyrillic and Greek look-alikes, joined spellings, missing words) all read as the term;
neighbours that only look alike in spelling (cashmere, pointsettia) do not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compliance.rules import no_points_purchase
from compliance.text import words
from compliance.vocabulary import DEFAULT_TERMS, Term, Vocabulary

VOCABULARY = Vocabulary(DEFAULT_TERMS)

REFUSED = [
    # A third outside attack. Digits and symbols for letters.
    ("红0包 100元", "CR-05"),
    ("p0ints", "CR-07"),
    ("g1ft card", "CR-05"),
    ("c@sh", "CR-05"),
    ("ca$h back", "CR-05"),
    ("5tored va1u3", "CR-05"),
    ("7op-up", "CR-07"),
    ("pr3paid", "CR-05"),
    ("c4sh", "CR-05"),
    ("re1oad", "CR-07"),
    ("poin75", "CR-07"),
    ("9ift card", "CR-05"),
    # Glued prefixes, suffixes and separators inside a Latin term.
    ("eGiftCard", "CR-05"),
    ("e-giftcard", "CR-05"),
    ("egiftcard", "CR-05"),
    ("giftcards", "CR-05"),
    ("top_up", "CR-07"),
    ("re-charge", "CR-07"),
    ("pre-paid", "CR-05"),
    ("store-value", "CR-05"),
    ("ecash", "CR-05"),
    ("PoInTs", "CR-07"),
    # Letters of scripts the fold table lacks, read through Unicode's confusables.
    ("\ua4d1oints", "CR-07"),  # Lisu letter pa
    ("\U0001d5c9oints", "CR-07"),  # NFKC already: mathematical sans-serif p
    ("c\ua4ee sh", "CR-05"),  # Lisu letter a
    ("p\u0a66ints", "CR-07"),  # Gurmukhi digit zero
    ("gift \u2ca5ard", "CR-05"),
    ("\ua4da\ua4ee\ua4e2\ua4e7", "CR-05"),  # Lisu C A S H
    # Separators and filler inside a Chinese term.
    ("红\u00b7包", "CR-05"),
    ("红_包", "CR-05"),
    ("红-包", "CR-05"),
    ("红 0 包", "CR-05"),
    ("红ab包", "CR-05"),
    ("充 值 卡", "CR-07"),
    ("积.0.分", "CR-07"),
    # A second outside attack: look-alike scripts, blank fillers, Japanese forms, letter by
    # letter, and words the vocabulary lacked.
    ("\u0261ift card 100元", "CR-05"),
    ("\u1d04\u1d00\ua731\u029c 100元", "CR-05"),
    ("\u13df\u13aa\u0405\u13bb \u13d9\u13be\u13cc\u13df\u13bb\u13ac\u13a1", "CR-05"),
    ("1000 p\u0585ints", "CR-07"),
    ("1000 \u2ca3oints pack", "CR-07"),
    ("微信红\u3164包 100元", "CR-05"),
    ("红\uffa0包", "CR-05"),
    ("储値卡 100元", "CR-05"),
    ("g i f t c a r d 100", "CR-05"),
    ("c.a.s.h", "CR-05"),
    ("\u202edrac tfig 001", "CR-05"),
    ("ギフトカード", "CR-05"),
    ("xianjin quan", "CR-05"),
    ("chuzhika", "CR-05"),
    ("购物券", "CR-05"),
    ("抵用券", "CR-05"),
    ("礼券", "CR-05"),
    ("返现", "CR-05"),
    ("话费 50元", "CR-05"),
    ("利是 / 紅封包", "CR-05"),
    ("cashback", "CR-05"),
    # Invisible characters (Unicode category Cf): zero width space, soft hyphen, word joiner.
    ("红\u200b包", "CR-05"),
    ("red pac\u00adket", "CR-05"),
    ("po\u2060ints", "CR-07"),
    ("gift\u200ccard", "CR-05"),
    ("\ufeffcash", "CR-05"),
    ("积\u200d分", "CR-07"),
    # Spaced or punctuated Chinese.
    ("红 包", "CR-05"),
    ("积 分", "CR-07"),
    ("微信 红-包 100 元", "CR-05"),
    ("礼\u00b7品\u00b7卡", "CR-05"),
    ("充\u3000值", "CR-07"),
    ("现\u2605金", "CR-05"),
    # Traditional forms.
    ("紅包", "CR-05"),
    ("積分", "CR-07"),
    ("儲值卡", "CR-05"),
    ("禮品卡", "CR-05"),
    ("現金券", "CR-05"),
    ("購物卡", "CR-05"),
    ("預付卡", "CR-05"),
    ("點券", "CR-07"),
    # Cyrillic and Greek look-alikes of Latin letters.
    ("\u0440\u043eints", "CR-07"),  # Cyrillic er and o
    ("\u0441\u0430sh", "CR-05"),  # Cyrillic es and a
    ("gift \u0441\u0430rd", "CR-05"),
    ("\u03a1\u039f\u0399\u039d\u03a4S", "CR-07"),  # Greek capitals
    ("t\u03bfp-up", "CR-07"),  # Greek omicron
    ("pr\u0435p\u0430id", "CR-05"),  # Cyrillic ie and a
    ("c\u0301ash", "CR-05"),  # a combining accent
    # Joined spellings.
    ("redpacket", "CR-05"),
    ("giftcard", "CR-05"),
    ("GiftCards", "CR-05"),
    ("prepaidcard", "CR-05"),
    ("cashcoupon", "CR-05"),
    ("storedvalue", "CR-05"),
    ("red_packet", "CR-05"),
    ("e wallet", "CR-05"),
    ("ewallet", "CR-05"),
    # Words that were missing.
    ("hongbao", "CR-05"),
    ("Hong Bao", "CR-05"),
    ("代金券", "CR-05"),
    ("提现", "CR-05"),
    ("提現", "CR-05"),
    ("储值", "CR-05"),
    ("reload", "CR-07"),
    ("top up", "CR-07"),
    ("充值", "CR-07"),
    ("recharge card", "CR-07"),
    # Full width and mathematical letters (NFKC).
    ("\uff50\uff4f\uff49\uff4e\uff54\uff53", "CR-07"),
    ("\U0001d41c\U0001d41a\U0001d42c\U0001d421", "CR-05"),
    # A number glued to the word.
    ("100cash", "CR-05"),
]

ALLOWED = [
    # Honest neighbours of the third attack's spellings: numbers stay numbers, and a term
    # must start and end where words do.
    "2 小时免费停车",
    "Cinema ticket 2D",
    "100% cotton",
    "Top 10 snacks",
    "Coffee 3-in-1",
    "cashew nuts",
    "Cashier training",
    "checkpoints",
    "endpoint 5 pack",
    "Top upholstery cleaner",
    "Laptop upgrade",
    "Desktop update kit",
    "recharged battery",
    "PS5 controller",
    "iPhone 15 case",
    "Coffee @ home",
    "$5 off coffee",
    "红枣 2 包",
    "红色背包",
    "充电宝 10000mAh",
    "积木 5 套",
    "面积 100 平方米",
    "Store valued customers",
    "cashmere scarf",
    "pointsettia",  # the misspelled plant: one word, not "points"
    "poinsettia",
    "pointe shoes",
    "gift cardigan",
    "gift box",
    "red pack",
    "reloaded (film)",
    "rechargeable battery",
    "微信主题水杯",
    "日用品",
    "发现 美好生活",
    "Москва",  # all Cyrillic: a city, not a Latin term in disguise
    "greeting card",
    "stationery",
]


@pytest.mark.parametrize(("text", "rule"), REFUSED)
def test_a_bent_spelling_reads_as_the_term(text: str, rule: str) -> None:
    violation = VOCABULARY.violation(text)

    assert violation is not None, words(text)
    assert violation.rule == rule


@pytest.mark.parametrize("text", ALLOWED)
def test_a_neighbour_in_spelling_is_not_the_term(text: str) -> None:
    assert VOCABULARY.violation(text) is None, words(text)


def test_a_term_the_operator_types_in_traditional_or_full_width_still_matches() -> None:
    vocabulary = Vocabulary([Term("話費", "CR-05"), Term("ＱＱ幣", "CR-07")])

    assert vocabulary.violation("话费 100 元") is not None
    assert vocabulary.violation("q q 币") is None  # Latin letters keep their word breaks
    assert vocabulary.violation("QQ币充值") is not None


@pytest.mark.parametrize(
    "category",
    [
        "\uff50\uff4f\uff49\uff4e\uff54\uff53",
        "p\u200boints",
        "\u0440\u043eints",
        "Top Up",
        "topup",
        "stored_value",
        "STOREDVALUE",
        "p0ints",
        "t0p_up",
        "\ua4d1oints",
        "5tored-va1ue",
    ],
)
def test_the_fixed_floor_reads_the_same_way(category: str) -> None:
    violation = no_points_purchase([category])

    assert violation is not None
    assert violation.rule == "CR-07"


def test_the_fixed_floor_leaves_other_categories() -> None:
    assert no_points_purchase(["pointe shoes", "top hats", "stored goods", "checkpoints"]) is None


# Every way the skeleton reads a letter, by the letter a term spells.
STAND_INS = {
    "a": "4@\u0430\ua4ee",
    "b": "8",
    "c": "\u0441\ua4da",
    "e": "3\u0435",
    "g": "9",
    "i": "1\u0456",
    "l": "1",
    "o": "0\u043e\u0a66\u3007",
    "p": "\u0440\ua4d1",
    "s": "5$\ua4e2",
    "t": "7",
}
SEPARATORS = ["", "", "", " ", "-", "_", ".", "\u00b7", "\u200b", "/"]
LATIN_TERMS = [t for t in DEFAULT_TERMS if t.term.isascii()]
CJK_TERMS = [t for t in DEFAULT_TERMS if all("\u4e00" <= c <= "\u9fff" for c in t.term)]


@st.composite
def bent_latin(draw: st.DrawFn) -> tuple[str, str]:
    """A default Latin term with separators between its letters, any case, and up to half
    its letters written as a digit, symbol or look-alike, inside an honest sentence."""
    term = draw(st.sampled_from(LATIN_TERMS))
    letters = [c for c in term.term if c.isalpha()]
    budget = len(letters) // 2
    out = []
    for letter in letters:
        choices = STAND_INS.get(letter, "")
        if budget and choices and draw(st.booleans()):
            letter = draw(st.sampled_from(choices))
            budget -= 1
        elif draw(st.booleans()):
            letter = letter.upper()
        out.append(letter + draw(st.sampled_from(SEPARATORS)))
    before = draw(st.sampled_from(["", "Buy ", "100 ", "新品 ", "e-"]))
    after = draw(st.sampled_from(["", " now", " 100元", "s", " (2 pack)"]))
    return before + "".join(out).rstrip("-_./ \u00b7\u200b") + after, term.rule


@given(bent_latin())
def test_any_bent_latin_term_is_refused(case: tuple[str, str]) -> None:
    text, rule = case

    violation = VOCABULARY.violation(text)

    assert violation is not None, text
    assert violation.rule == rule


@st.composite
def gapped_chinese(draw: st.DrawFn) -> tuple[str, str]:
    """A default Chinese term with up to three other characters between its characters."""
    term = draw(st.sampled_from(CJK_TERMS))
    filler = st.text(alphabet="0123456789abcxyz -_.\u00b7\u3000/*", max_size=3)
    gaps = [draw(filler) for _ in term.term[1:]]
    spelt = term.term[0] + "".join(g + c for g, c in zip(gaps, term.term[1:], strict=True))
    return draw(st.sampled_from(["", "微信", "新年 "])) + spelt + " 100元", term.rule


@given(gapped_chinese())
def test_any_gapped_chinese_term_is_refused(case: tuple[str, str]) -> None:
    text, rule = case

    violation = VOCABULARY.violation(text)

    assert violation is not None, text
    assert violation.rule == rule
