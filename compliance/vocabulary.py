"""The operator's vocabulary of cash-like (CR-05) and points-like (CR-07) terms, matched
on normalised text (see compliance.text)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, delete, literal, select, union_all
from sqlalchemy.orm import Session

from compliance.audit import record_blocked
from compliance.errors import ComplianceSettingError
from compliance.models import HonestPhrase, VocabularyTerm
from compliance.rules import Violation
from compliance.text import CJK, Skeleton, normalise, readings, skeleton, words

__all__ = [
    "DEFAULT_HONEST_PHRASES",
    "DEFAULT_TERMS",
    "MAX_TERM",
    "RULES",
    "Phrase",
    "Term",
    "UnreadableTerm",
    "Vocabulary",
    "honest_phrases_page",
    "normalise",
    "set_honest_phrase",
    "set_term",
    "terms_page",
    "vocabulary",
]

RULES = ("CR-05", "CR-07")
MAX_TERM = 64


@dataclass(frozen=True, slots=True)
class Term:
    term: str
    rule: str


@dataclass(frozen=True, slots=True)
class Phrase:
    phrase: str
    updated_at: datetime


# The terms a new hub starts with (migrations 0015, 0020, 0030 and 0032 seed them; the operator
# edits them after). Latin terms match whole words, joined or not; Chinese ones anywhere.
DEFAULT_TERMS = tuple(
    Term(term, rule)
    for rule, terms in (
        (
            "CR-05",
            (
                "现金",
                "红包",
                "储值",
                "礼品卡",
                "购物卡",
                "预付卡",
                "代金券",
                "提现",
                "套现",
                "cash",
                "cash coupon",
                "cash voucher",
                "red packet",
                "red envelope",
                "hong bao",
                "stored value",
                "gift card",
                "prepaid",
                "prepaid card",
                "e-wallet",
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
                "store value",
            ),
        ),
        (
            "CR-07",
            (
                "充值",
                "积分",
                "点券",
                "top-up",
                "topup",
                "reload",
                "recharge",
                "points",
                "jifen",
                "ポイント",
            ),
        ),
    )
    for term in terms
)


# Terms a fourth outside attack found missing (migration 0039 seeds them; 0042a the last
# group of CR-05): plainly cash-like
# or stored-value words (CR-05), and points, top-ups and other programmes' points (CR-07).
# Vouchers and coupons in general (优惠券, voucher, coupon, 🎫) are honest for a cinema or
# a store and stay out: that is the operator's call (docs/compliance.md).
ADDED_TERMS = tuple(
    Term(term, rule)
    for rule, terms in (
        (
            "CR-05",
            (
                # misspellings and split characters
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
                # Chinese cash and stored-value equivalents
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
                # English
                "gift voucher",
                "gift certificate",
                "store credit",
                "paycard",
                "red pocket",
                "lucky money",
                "phone credit",
                "cashout",
                "cash card",
                # pinyin
                "lipinka",
                "gouwuka",
                "fanxian",
                "huafei",
                "daijinquan",
                "tixian",
                # Korean: gift card, gift certificate, cash
                "기프트카드",
                "상품권",
                "현금",
                # migration 0042a: currencies, cash instruments, wallets and stored-value
                # cards (彩票 and 金条 left out: docs/compliance.md)
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
            ),
        ),
        (
            "CR-07",
            (
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
                # other programmes' points (an airline's miles, a retailer's beans)
                "京豆",
                "航空里程",
                "飞行里程",
                "airline miles",
                "air miles",
                # Korean: points, top-up
                "포인트",
                "충전",
            ),
        ),
    )
    for term in terms
)
DEFAULT_TERMS = DEFAULT_TERMS + ADDED_TERMS

# Honest phrases a new hub starts with (migrations 0039 and 0042): words a cinema, optician,
# store, restaurant or charity writes that hold a term whole (微积分 holds 积分; 呈现金黄 holds
# 现金), and names that hold an exact term (Johnny Cash). A term found in a text is ignored
# only where an occurrence of a phrase covers all of it (see Vocabulary.violation).
DEFAULT_HONEST_PHRASES = (
    # Chinese words that hold a term whole: 微积分 (calculus), 积分赛 and 积分榜 (a league's
    # standings), 红包装 (red packaging), 零钱包 (a coin purse), 兑现承诺 (a promise kept)
    "微积分",
    "积分赛",
    "积分榜",
    "红包装",
    "零钱包",
    "兑现承诺",
    # Words a term straddles: the phrase holds the whole term with both of its sides (a hit
    # is ignored only inside a phrase, so 金黄 alone would not hide 现金 in 现金黄)
    "体积分装",  # 体积 分装瓶 (a Chinese phrase reads across gaps as a term does)
    "外套现货",
    "往返现场",
    "呈现金黄",
    "体现金属",
    "婚礼金饰",
    "补充值得信赖",  # 充值得好礼 and 补充值 100元 stay refused
    "说话费劲",  # 话费劲 50元 stays refused
    "顺利是福",
    "便利市场",
    "景点券",
    "景点卡",
    "甜点卡布奇诺",  # 购物卡布奇诺 stays refused
    "补充卡路里",  # 礼品卡路里 stays refused
    "口红",  # 口红 2 包: a count between the phrase and a term's last character (below)
    # Words that hold a term of migration 0042a: 购物金额 and 消费金额 (an amount spent),
    # 完美元素, 甜美元气 and 美元宵 (美 before 元素, 元气, 元宵), 钞票夹
    "购物金额",
    "消费金额",
    "美元素",
    "美元气",
    "美元宵",
    "钞票夹",  # a money clip
    # English names and things that hold an exact term
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


_CJK_CHAR = re.compile(rf"[{CJK}]")
# Between two characters of a Chinese term, at most this many other characters (a run of
# spaces and punctuation counts as one): ``红0包``, ``红 0 包``, ``红_包`` read ``红包``.
CJK_GAP = 3
# A Latin term of two words or more and this many letters also matches glued inside a
# longer run of letters with no word break in it (``BUYGIFTCARD``, ``mygiftcard``); a
# shorter or one-word term (``cash``, ``points``, ``recharge``) only where words start and
# end, or ``cashew``, ``checkpoints`` and ``rechargeable`` would read.
GLUED = 8
_REPEATS = re.compile(r"(.)\1+")


class _Latin:
    """A Latin term read as its skeleton (compliance.text.skeleton), matched in the text's
    skeleton where a word starts and ends, whatever stood between its letters: ``re-charge``,
    ``g1ft card``, ``c@sh``, ``eGiftCard`` read as the terms; ``cashew``, ``checkpoints``,
    ``gift cardigan`` do not. A word starts after a space, punctuation, a Chinese character,
    a digit that stands for no letter, or where a small letter meets a capital; a lone ``e``
    before the term (``e-giftcard``, ``ecash``), a digit or symbol glued on (``100cash``)
    and a plural after it (``giftcards``, ``cashes``) do not hide it. At least half the
    letters matched are real letters, so numbers alone never read as a term. The term is
    also matched with repeated letters squeezed, in it and in the text (``caash``,
    ``giftt card``), and a term of two words and GLUED letters or more inside any unbroken
    run of letters (``BUYGIFTCARD``)."""

    def __init__(self, letters: str, words: int) -> None:
        self.letters = letters
        self.squeezed = _REPEATS.sub(r"\1", letters)
        self.glued = words > 1 and len(letters) >= GLUED

    def search(
        self,
        text: Skeleton,
        squeezed: Skeleton,
        keep: Sequence[int],
        honest: Sequence[tuple[int, int]],
    ) -> bool:
        """Whether the term reads in ``text`` outside every honest phrase's span (``keep``:
        the letter of ``text`` each letter of ``squeezed`` stands for)."""
        if self.letters in text.letters:
            for at, after in spans(self.letters, text, glued=self.glued):
                if not _covered(at, after, honest):
                    return True
        if self.squeezed in squeezed.letters:
            for at, after in spans(self.squeezed, squeezed, glued=self.glued):
                if not _covered(keep[at], keep[after - 1] + 1, honest):
                    return True
        return False


def _covered(at: int, after: int, honest: Sequence[tuple[int, int]]) -> bool:
    """Whether one honest phrase's occurrence covers all of ``[at, after)``: 微积分 covers
    积分 in 微积分教材; 金黄 does not cover 现金 in 现金黄 (it shares 金 only)."""
    return any(start <= at and after <= end for start, end in honest)


def spans(
    letters: str, text: Skeleton, *, glued: bool = False, exact: bool = False
) -> Iterator[tuple[int, int]]:
    """Where ``letters`` read as a term in ``text`` (see _Latin), as ``(start, end)``;
    ``glued``: also inside an unbroken run of letters;
    ``exact``: only real letters, from a word start to a word end or a plural (how an honest
    phrase is found)."""
    found, starts, standins = text.letters, text.starts, text.standins
    size, end = len(letters), len(found)

    def edge(k: int) -> bool:  # a word may end before found[k]
        return k >= end or bool(starts[k]) or (not exact and bool(standins[k]))

    def begins(k: int) -> bool:  # a word may start at found[k]
        return k == 0 or bool(starts[k]) or (not exact and bool(standins[k - 1]))

    at = found.find(letters) if letters else -1
    while at != -1:
        after = at + size
        plural = (
            after
            if edge(after)
            else after + 1
            if found[after] == "s" and edge(after + 1)
            else after + 2
            if found[after : after + 2] == "es" and edge(after + 2)
            else -1
        )
        if exact:
            if begins(at) and plural != -1 and not any(standins[at:after]):
                yield at, plural
        elif 2 * sum(standins[at:after]) <= size and (
            ((begins(at) or (at > 0 and found[at - 1] == "e" and begins(at - 1))) and plural != -1)
            or (glued and not any(starts[at + 1 : after]))
        ):
            yield at, after
        at = found.find(letters, at + 1)


def _honest_spans(text: Skeleton, honest: Sequence[str]) -> list[tuple[int, int]]:
    """Where each honest phrase occurs in ``text``, as ``(start, end)`` letter spans."""
    return [
        found
        for phrase in honest
        if phrase in text.letters
        for found in spans(phrase, text, exact=True)
    ]


def _squeezed(text: Skeleton) -> tuple[Skeleton, list[int]]:
    """Repeated letters inside a word read once (``caash`` is ``cash``), and for each letter
    kept the letter of ``text`` it stands for."""
    keep = [
        k
        for k, letter in enumerate(text.letters)
        if k == 0 or text.starts[k] or letter != text.letters[k - 1]
    ]
    squeezed = Skeleton(
        "".join(text.letters[k] for k in keep),
        bytes(text.starts[k] for k in keep),
        bytes(text.standins[k] for k in keep),
    )
    return squeezed, keep


class _Written:
    """A term in another script, matched in the text as compliance.text.words reads it; a
    term all in Chinese characters also when up to CJK_GAP other characters stand between
    its characters (``红0包``, ``充 值``, ``积-分``)."""

    def __init__(self, folded: str) -> None:
        self.folded = folded
        self.gapped: re.Pattern[str] | None = None
        if len(folded) > 1 and all(_CJK_CHAR.match(c) for c in folded):
            gap = f"[^{CJK}]{{0,{CJK_GAP}}}"
            self.gapped = re.compile(gap.join(re.escape(c) for c in folded))

    def hits(self, text: str) -> Iterator[tuple[int, int]]:
        """Every place the term reads in ``text``, as ``(start, end)``, one per start."""
        if self.gapped is not None:
            at = 0
            while (match := self.gapped.search(text, at)) is not None:
                yield match.start(), match.end()
                at = match.start() + 1
            return
        at = text.find(self.folded)
        while at != -1:
            yield at, at + len(self.folded)
            at = text.find(self.folded, at + 1)

    def search(self, text: str, honest: Sequence[tuple[int, int]]) -> bool:
        """Whether the term reads in ``text`` outside the honest phrases' spans: a hit counts
        unless one phrase covers all of it, or, read across a gap holding a digit, a phrase
        holds one of its characters (口红 2 包, lipstick in two packs)."""
        if not honest:
            if self.gapped is not None:
                return self.gapped.search(text) is not None
            return self.folded in text
        for at, after in self.hits(text):
            if _covered(at, after, honest):
                continue
            if (
                after - at > len(self.folded)
                and any(start < after and at < end for start, end in honest)
                and any(c.isdigit() for c in text[at:after])
            ):
                continue
            return True
        return False


@functools.lru_cache(maxsize=4096)
def _readable(term: str) -> tuple[str, str] | None:
    """``(words, skeleton letters)`` of a term, or None when it reads as no letter at all
    (a symbol, an emoji, punctuation, digits: ``🧧``, ``¥``, ``-``). Such a term would be
    found in every text, so it is never stored, and one stored before is never matched."""
    folded = words(term)
    if not any(c.isalpha() for c in folded):
        return None
    return folded, skeleton(term).letters


@functools.lru_cache(maxsize=4096)
def _matcher(term: str) -> _Latin | _Written | None:
    read = _readable(term)
    if read is None:
        return None
    folded, letters = read
    if folded.isascii() and letters:
        return _Latin(letters, len(folded.split()))
    return _Written(folded)


class Vocabulary:
    """The terms and the honest phrases, compiled."""

    def __init__(self, terms: Sequence[Term], honest: Sequence[str] = ()) -> None:
        self.terms = [
            (term, matcher) for term in terms if (matcher := _matcher(term.term)) is not None
        ]
        self.honest_latin: list[str] = []
        self.honest_written: list[_Written] = []
        inside = [_readable(term.term) for term, _ in self.terms]
        for phrase in honest:
            read = _readable(phrase)
            if read is None or any(
                read[0] in term[0] or (read[1] and read[1] in term[1])
                for term in inside
                if term is not None
            ):
                continue  # it would switch off a term that holds it (卡通 in 一卡通)
            folded, letters = read
            if folded.isascii() and letters:
                self.honest_latin.append(letters)
            else:
                self.honest_written.append(_Written(folded))

    def _written(self, text: str) -> tuple[str, list[tuple[int, int]]]:
        """The text as words read it, and where each honest phrase occurs in it (a Chinese
        phrase also across gaps, as a term: 体积分装 in 体积 分装瓶)."""
        read = words(text)
        honest = [
            found
            for phrase in self.honest_written
            if phrase.gapped is not None or phrase.folded in read
            for found in phrase.hits(read)
        ]
        return read, honest

    def violation(self, text: str) -> Violation | None:
        """The rule the first term found in ``text`` breaks, or None. ``text`` is read every
        way a reader may be shown it (compliance.text.readings: escapes decoded, right-to-left
        runs displayed). A term found inside an occurrence of one of the operator's honest
        phrases, covered by it whole, is ignored there (积分 in 微积分教材); one that only
        shares characters with a phrase is not (现金 in 现金黄, though 金黄 were a phrase)."""
        shown = readings(text)
        written = [self._written(reading) for reading in shown]
        latin = []
        for reading in shown:
            letters = skeleton(reading)
            squeezed, keep = _squeezed(letters)
            latin.append((letters, squeezed, keep, _honest_spans(letters, self.honest_latin)))
        for term, matcher in self.terms:
            found = False
            if isinstance(matcher, _Latin):
                for letters, squeezed, keep, honest in latin:
                    if matcher.search(letters, squeezed, keep, honest):
                        found = True
                        break
            else:
                for read, honest in written:
                    if matcher.search(read, honest):
                        found = True
                        break
            if found:
                if term.rule == "CR-05":
                    why = "cash or a cash equivalent: points never become money"
                else:
                    why = "points or a top-up: members cannot buy points"
                return Violation(term.rule, f"{term.term!r} reads as {why}")
        return None

    def first(self, fields: Sequence[tuple[str, str]]) -> tuple[str, Violation] | None:
        """The first of ``(field, text)`` that breaks a rule, read alone, then every text
        together (a term split across two fields: title ``WeChat red``, category
        ``packet``), reported on the last field."""
        for field, text in fields:
            violation = self.violation(text)
            if violation is not None:
                return field, violation
        if len(fields) > 1:
            violation = self.violation(" ".join(text for _, text in fields))
            if violation is not None:
                return fields[-1][0], violation
        return None


@functools.lru_cache(maxsize=8)
def _compiled(terms: tuple[Term, ...], honest: tuple[str, ...]) -> Vocabulary:
    """The vocabulary of exactly these terms and honest phrases, compiled once per worker:
    keyed by them, as read in the operation, so an edit is never missed (a new list
    compiles anew)."""
    return Vocabulary(terms, honest)


def vocabulary(session: Session) -> Vocabulary:
    """The operator's terms and honest phrases as they stand in this transaction (one
    statement)."""
    rows = session.execute(
        union_all(
            select(VocabularyTerm.term, VocabularyTerm.rule),
            select(HonestPhrase.phrase, literal("", String(8))),
        ).order_by("term")
    )
    found = [(text, rule) for text, rule in rows]
    return _compiled(
        tuple(Term(text, rule) for text, rule in found if rule),
        tuple(text for text, rule in found if not rule),
    )


def terms_page(session: Session, *, limit: int, after: str | None) -> list[Term]:
    """Up to ``limit + 1`` terms in order after ``after``."""
    query = select(VocabularyTerm).order_by(VocabularyTerm.term).limit(limit + 1)
    if after is not None:
        query = query.where(VocabularyTerm.term > after)
    return [Term(row.term, row.rule) for row in session.execute(query).scalars()]


class UnreadableTerm(ComplianceSettingError):
    """A term or honest phrase that reads as no letter (``🧧``, ``¥``, ``-``): as a term it
    would refuse every text, as a phrase it would cover nothing."""

    code = "BAD_USER_INPUT"

    def __init__(self, field: str) -> None:
        super().__init__(
            f"a {field} must read as at least one letter: symbols, emoji, punctuation and "
            "digits alone are found in every text",
            [field],
        )


def set_term(session: Session, term: str, rule: str | None, now: datetime) -> Term | None:
    """Add or change a term (kept normalised), or remove it with ``rule=None``. A term that
    reads as no letter is refused (UnreadableTerm): it would be found in every text."""
    text = normalise(term)
    if not text or len(text) > MAX_TERM:
        raise ComplianceSettingError(f"a term is 1-{MAX_TERM} characters", ["term"])
    if rule is None:
        session.execute(delete(VocabularyTerm).where(VocabularyTerm.term == text))
        return None
    if rule not in RULES:
        raise ComplianceSettingError("rule must be CR-05 or CR-07", ["rule"])
    if _readable(text) is None:
        raise UnreadableTerm("term")
    row = session.get(VocabularyTerm, text)
    if row is None:
        session.add(VocabularyTerm(term=text, rule=rule, updated_at=now))
    else:
        row.rule, row.updated_at = rule, now
    session.flush()
    return Term(text, rule)


def honest_phrases_page(session: Session, *, limit: int, after: str | None) -> list[Phrase]:
    """Up to ``limit + 1`` honest phrases in order after ``after``."""
    query = select(HonestPhrase).order_by(HonestPhrase.phrase).limit(limit + 1)
    if after is not None:
        query = query.where(HonestPhrase.phrase > after)
    return [Phrase(row.phrase, row.updated_at) for row in session.execute(query).scalars()]


def set_honest_phrase(
    session: Session, phrase: str, keep: bool, client_id: str, now: datetime
) -> Phrase | None:
    """Add an honest phrase (kept normalised), or remove it with ``keep=False``: text inside
    which the vocabulary ignores a term it covers whole (``微积分``, ``Johnny Cash``). A phrase
    that reads as no letter (UnreadableTerm), or reads exactly as a term or inside one (it
    would only switch the term off: remove the term instead), is refused. Every change is
    appended to the compliance audit (operation ``setHonestPhrase``, rule CR-05, the
    vocabulary's rule)."""
    text = normalise(phrase)
    if not text or len(text) > MAX_TERM:
        raise ComplianceSettingError(f"a phrase is 1-{MAX_TERM} characters", ["phrase"])
    if keep:
        read = _readable(text)
        if read is None:
            raise UnreadableTerm("phrase")
        for term in session.execute(select(VocabularyTerm.term)).scalars():
            held = _readable(term)
            if held is not None and (read[0] in held[0] or (read[1] and read[1] in held[1])):
                raise ComplianceSettingError(
                    f"the phrase reads inside the term {term!r} and would only switch it "
                    "off: remove the term instead",
                    ["phrase"],
                )
        row = session.get(HonestPhrase, text)
        if row is None:
            session.add(HonestPhrase(phrase=text, updated_at=now))
        else:
            row.updated_at = now
    elif session.get(HonestPhrase, text) is None:
        return None
    else:
        session.execute(delete(HonestPhrase).where(HonestPhrase.phrase == text))
    session.flush()
    record_blocked(
        session,
        client_id=client_id,
        partner_id=None,
        operation="setHonestPhrase",
        rule="CR-05",
        summary=f"honest phrase {'kept' if keep else 'removed'}: {text}",
        now=now,
    )
    return Phrase(text, now) if keep else None
