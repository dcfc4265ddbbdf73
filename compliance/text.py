"""Text that rules read, normalised so a partner cannot bend it: Unicode NFKC (full-width
letters become plain ones), case-folded, whitespace collapsed."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")
# Inside a term or a text these all separate words: "prepaid-card" reads "prepaid card".
_SEPARATORS = re.compile(r"[\s\-_/\\.,:;·・|+()\[\]]+")  # after NFKC, full-width brackets


def normalise(text: str) -> str:
    """Full-width ``points`` reads as ``points``; ``" Top-Up\\u3000 "`` as ``"top-up"``."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def words(text: str) -> str:
    """The normalised text with every word separator a single space."""
    return _SEPARATORS.sub(" ", normalise(text)).strip()
