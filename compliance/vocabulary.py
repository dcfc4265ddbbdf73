"""Text that rules read, normalised so a partner cannot bend it (Unicode NFKC, so
full-width letters become plain ones; case-folded; whitespace collapsed), and the
operator's vocabulary of cash-like (CR-05) and points-like (CR-07) terms."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from compliance.errors import ComplianceSettingError
from compliance.models import VocabularyTerm
from compliance.rules import Violation

_SPACE = re.compile(r"\s+")
# Inside a term or a text these all separate words: "prepaid-card" reads "prepaid card".
_SEPARATORS = re.compile(r"[\s\-_/\\.,:;·・|+]+")
RULES = ("CR-05", "CR-07")
MAX_TERM = 64


def normalise(text: str) -> str:
    """Full-width ``points`` reads as ``points``; ``" Top-Up\\u3000 "`` as ``"top-up"``."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _words(text: str) -> str:
    return _SEPARATORS.sub(" ", normalise(text)).strip()


@dataclass(frozen=True, slots=True)
class Term:
    term: str
    rule: str


def _pattern(term: str) -> re.Pattern[str]:
    """A Latin term matches whole words (a plural too: "gift cards"); a term in Chinese
    matches anywhere, since Chinese has no spaces between words."""
    needle = re.escape(_words(term))
    return re.compile(rf"(?<![a-z0-9]){needle}(?:e?s)?(?![a-z0-9])")


class Vocabulary:
    """The terms, compiled once per operation."""

    def __init__(self, terms: Sequence[Term]) -> None:
        self.terms = [(term, _pattern(term.term)) for term in terms]

    def violation(self, text: str) -> Violation | None:
        """The rule the first term found in ``text`` breaks, or None."""
        words = _words(text)
        for term, pattern in self.terms:
            if pattern.search(words):
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
