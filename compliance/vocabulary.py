"""The operator's vocabulary of cash-like (CR-05) and points-like (CR-07) terms, matched
on normalised text (see compliance.text)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from compliance.errors import ComplianceSettingError
from compliance.models import VocabularyTerm
from compliance.rules import Violation
from compliance.text import normalise, words

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


# The terms a new hub starts with (migrations 0015, 0020 and 0030 seed them; the operator edits
# them after). Latin terms match whole words, joined or not; Chinese ones anywhere.
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


def _pattern(term: str) -> re.Pattern[str]:
    """A Latin term matches whole words, joined or not, and a plural (``gift card`` reads
    ``gift cards``, ``giftcard``, ``gift-card``; ``cashmere`` is not ``cash``), and a
    number glued to it does not hide it (``100cash``). A term with any other script
    (Chinese) matches anywhere, since Chinese has no spaces between words."""
    folded = words(term)
    if not folded.isascii():
        return re.compile(re.escape(folded))
    needle = " ?".join(re.escape(part) for part in folded.split(" "))
    return re.compile(rf"(?<![a-z]){needle}(?:e?s)?(?![a-z])")


class Vocabulary:
    """The terms, compiled once per operation."""

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = [(term, _pattern(term.term)) for term in terms]

    def violation(self, text: str) -> Violation | None:
        """The rule the first term found in ``text`` breaks, or None. Text with a
        direction override is read both ways: ``\u202edrac tfig`` shows as ``gift card``."""
        found = words(text)
        if _BIDI_CONTROLS.intersection(text):
            found = f"{found} {words(text[::-1])}"
        for term, pattern in self.terms:
            if pattern.search(found):
                if term.rule == "CR-05":
                    why = "cash or a cash equivalent: points never become money"
                else:
                    why = "points or a top-up: members cannot buy points"
                return Violation(term.rule, f"{term.term!r} reads as {why}")
        return None


def vocabulary(session: Session) -> Vocabulary:
    rows = session.execute(select(VocabularyTerm).order_by(VocabularyTerm.term)).scalars()
    return Vocabulary([Term(row.term, row.rule) for row in rows])


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
