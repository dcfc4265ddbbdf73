"""The operator's vocabulary of cash-like (CR-05) and points-like (CR-07) terms, matched
on normalised text (see compliance.text)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from compliance.errors import ComplianceSettingError
from compliance.models import VocabularyTerm
from compliance.rules import Violation
from compliance.text import CJK, Skeleton, normalise, skeleton, words

__all__ = [
    "DEFAULT_TERMS",
    "MAX_TERM",
    "RULES",
    "Term",
    "Vocabulary",
    "normalise",
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


# Explicit direction embeddings, overrides and isolates (they make text display reversed).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CJK_CHAR = re.compile(rf"[{CJK}]")
# Between two characters of a Chinese term, at most this many other characters (a run of
# spaces and punctuation counts as one): ``红0包``, ``红 0 包``, ``红_包`` read ``红包``.
CJK_GAP = 3


class _Latin:
    """A Latin term read as its skeleton (compliance.text.skeleton), matched in the text's
    skeleton where a word starts and ends, whatever stood between its letters: ``re-charge``,
    ``g1ft card``, ``c@sh``, ``eGiftCard`` read as the terms; ``cashew``, ``checkpoints``,
    ``gift cardigan`` do not. A word starts after a space, punctuation, a Chinese character,
    a digit that stands for no letter, or where a small letter meets a capital; a lone ``e``
    before the term (``e-giftcard``, ``ecash``), a digit or symbol glued on (``100cash``)
    and a plural after it (``giftcards``, ``cashes``) do not hide it. At least half the
    letters matched are real letters, so numbers alone never read as a term."""

    def __init__(self, letters: str) -> None:
        self.letters = letters

    def search(self, text: Skeleton) -> bool:
        letters, starts, standins = text.letters, text.starts, text.standins
        size, end = len(self.letters), len(letters)

        def edge(k: int) -> bool:  # a word may end before letters[k]
            return k >= end or bool(starts[k]) or bool(standins[k])

        def begins(k: int) -> bool:  # a word may start at letters[k]
            return k == 0 or bool(starts[k]) or bool(standins[k - 1])

        at = letters.find(self.letters)
        while at != -1:
            after = at + size
            if (
                (begins(at) or (at > 0 and letters[at - 1] == "e" and begins(at - 1)))
                and (
                    edge(after)
                    or (letters[after] == "s" and edge(after + 1))
                    or (letters[after : after + 2] == "es" and edge(after + 2))
                )
                and 2 * sum(standins[at:after]) <= size
            ):
                return True
            at = letters.find(self.letters, at + 1)
        return False


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

    def search(self, text: str) -> bool:
        if self.gapped is not None:
            return self.gapped.search(text) is not None
        return self.folded in text


def _matcher(term: str) -> _Latin | _Written:
    folded = words(term)
    letters = skeleton(term).letters
    if folded.isascii() and letters:
        return _Latin(letters)
    return _Written(folded)


class Vocabulary:
    """The terms, compiled."""

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = [(term, _matcher(term.term)) for term in terms]

    def violation(self, text: str) -> Violation | None:
        """The rule the first term found in ``text`` breaks, or None. Text with a
        direction override is read both ways: ``\u202edrac tfig`` shows as ``gift card``."""
        readings = [text, text[::-1]] if _BIDI_CONTROLS.intersection(text) else [text]
        written = [words(reading) for reading in readings]
        latin = [skeleton(reading) for reading in readings]
        for term, matcher in self.terms:
            if isinstance(matcher, _Latin):
                found = any(matcher.search(reading) for reading in latin)
            else:
                found = any(matcher.search(reading) for reading in written)
            if found:
                if term.rule == "CR-05":
                    why = "cash or a cash equivalent: points never become money"
                else:
                    why = "points or a top-up: members cannot buy points"
                return Violation(term.rule, f"{term.term!r} reads as {why}")
        return None


@functools.lru_cache(maxsize=8)
def _compiled(terms: tuple[Term, ...]) -> Vocabulary:
    """The vocabulary of exactly these terms, compiled once per worker: keyed by the terms
    themselves, as read in the operation, so an edit is never missed (a new list compiles
    anew)."""
    return Vocabulary(terms)


def vocabulary(session: Session) -> Vocabulary:
    """The operator's terms as they stand in this transaction (one statement)."""
    rows = session.execute(
        select(VocabularyTerm.term, VocabularyTerm.rule).order_by(VocabularyTerm.term)
    )
    return _compiled(tuple(Term(term, rule) for term, rule in rows))


def terms_page(session: Session, *, limit: int, after: str | None) -> list[Term]:
    """Up to ``limit + 1`` terms in order after ``after``."""
    query = select(VocabularyTerm).order_by(VocabularyTerm.term).limit(limit + 1)
    if after is not None:
        query = query.where(VocabularyTerm.term > after)
    return [Term(row.term, row.rule) for row in session.execute(query).scalars()]


def set_term(session: Session, term: str, rule: str | None, now: datetime) -> Term | None:
    """Add or change a term (kept normalised), or remove it with ``rule=None``."""
    text = normalise(term)
    if not text or len(text) > MAX_TERM:
        raise ComplianceSettingError(f"a term is 1-{MAX_TERM} characters", ["term"])
    if rule is None:
        session.execute(delete(VocabularyTerm).where(VocabularyTerm.term == text))
        return None
    if rule not in RULES:
        raise ComplianceSettingError("rule must be CR-05 or CR-07", ["rule"])
    row = session.get(VocabularyTerm, text)
    if row is None:
        session.add(VocabularyTerm(term=text, rule=rule, updated_at=now))
    else:
        row.rule, row.updated_at = rule, now
    session.flush()
    return Term(text, rule)
