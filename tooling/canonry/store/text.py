"""How texts are compared: mapping patterns, project texts, near duplicates, leakage."""

from __future__ import annotations

import unicodedata

# For ASCII text NFKC changes nothing and case folding is lower(): punctuation, symbols,
# separators and controls (Unicode categories P, S, Z and C) become spaces by a table.
_ASCII_SPACES = {i: " " for i in range(128) if unicodedata.category(chr(i))[0] in "PSZC"}


def normalize_text(text: str) -> str:
    """NFKC, case folding, punctuation and symbols turned into spaces, spaces collapsed."""
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_SPACES).split())
    folded = unicodedata.normalize("NFKC", text).casefold()
    chars = [" " if unicodedata.category(ch)[0] in "PSZC" else ch for ch in folded]
    return " ".join("".join(chars).split())
