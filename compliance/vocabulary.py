"""Text that rules read, normalised so a partner cannot bend it: Unicode NFKC (full-width
letters become plain ones), case-folded, whitespace collapsed."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Full-width ``points`` reads as ``points``; ``" Top-Up\\u3000 "`` as ``"top-up"``."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
